"""The emergency stop and budget exhaustion on a real `shopfloor run` with an agent in a sandbox.

A `shopfloor run --backend agent` subprocess talks to the scripted provider
server; its agent starts a long command in a bubblewrap sandbox; `shopfloor
stop` must bring it down within a second, leave no sandbox process, write the
checkpoint, and `shopfloor resume` must finish the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopfloor.observe.runs import RunRegistry
from tests.support.llm_server import Reply, ScriptedLLMServer, ToolUse, llm_server  # noqa: F401 (fixture)

PIPELINE = """digraph stopme {
  graph [goal="exercise the emergency stop"]
  start [shape=Mdiamond]
  implement [shape=box, prompt="Run the long job"]
  exit [shape=Msquare]
  start -> implement -> exit
}
"""
#: Generous waits for a loaded CI box; the 1-second promise is measured by `shopfloor stop` itself.
STARTUP_TIMEOUT_S = 60


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pipeline.dot").write_text(PIPELINE)
    return root


def _env(server: ScriptedLLMServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update({k: v for k, v in server.env().items() if k.startswith("ANTHROPIC")})
    return env


@pytest.fixture
def start_run(project: Path, llm_server: ScriptedLLMServer,  # noqa: F811
              shopfloor_cmd: list[str]) -> Iterator[object]:
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*shopfloor_cmd, "run", "pipeline.dot", "--backend", "agent", "--logs-root",
                                 str(project / "run"), "--json", *extra], cwd=project, env=_env(llm_server),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)


def _wait_for(predicate: object, what: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _events(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _sandbox_pids() -> list[int]:
    home = Path(os.environ["SHOPFLOOR_HOME"]) / "sandboxes"
    return [json.loads(p.read_text())["pid"] for p in home.glob("*.json")] if home.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stop_brings_a_running_sandboxed_agent_down_within_a_second(
        project: Path, llm_server: ScriptedLLMServer, start_run: object,  # noqa: F811
        shopfloor_cmd: list[str]) -> None:
    llm_server.push(Reply(tool_calls=[ToolUse("shell", {"command": "sleep 60", "timeout_ms": 120_000})]))
    proc = start_run()  # type: ignore[operator]
    run_dir = project / "run"
    _wait_for(lambda: len(llm_server.requests) == 1, "the agent's first LLM call")
    _wait_for(lambda: any(_alive(p) for p in _sandbox_pids()), "the sandboxed `sleep` to be running")
    sandboxes = [p for p in _sandbox_pids() if _alive(p)]
    run_id = json.loads((run_dir / "manifest.json").read_text())["run_id"]

    done = subprocess.run([*shopfloor_cmd, "stop", run_id, "--json"], capture_output=True, text=True,
                          timeout=60, env=_env(llm_server))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["results"][0]
    assert result["outcome"] == "stopped" and result["elapsed_s"] < 1.0, result

    assert proc.wait(timeout=30) == 130
    assert not any(_alive(p) for p in sandboxes)
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    assert checkpoint["status"] == "stopped" and checkpoint["next_node"] == "implement"
    registry = RunRegistry()
    assert registry.get(run_id).status == "stopped"  # type: ignore[union-attr]
    registry.close()
    assert any(e["kind"] == "PipelineStopped" for e in _events(run_dir))

    llm_server.push(Reply(text="The long job is done."))
    resumed = subprocess.run([*shopfloor_cmd, "resume", "--logs-root", str(run_dir), "--json"], cwd=project,
                             capture_output=True, text=True, timeout=120, env=_env(llm_server))
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "success"


def test_stop_all_and_bad_input(shopfloor_cmd: list[str]) -> None:
    none = subprocess.run([*shopfloor_cmd, "stop", "--all", "--json"], capture_output=True, text=True,
                          timeout=60)
    assert none.returncode == 0 and json.loads(none.stdout) == {"results": []}
    missing = subprocess.run([*shopfloor_cmd, "stop", "nope"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no run 'nope' in the run registry" in missing.stderr
    neither = subprocess.run([*shopfloor_cmd, "stop"], capture_output=True, text=True, timeout=60)
    assert neither.returncode == 2 and "name one run or pass --all" in neither.stderr


def test_run_budget_exhaustion_stops_the_run_resumably(
        project: Path, llm_server: ScriptedLLMServer, start_run: object,  # noqa: F811
        shopfloor_cmd: list[str]) -> None:
    # claude-sonnet-4-5: each call reserves ~$1 (64k output tokens at $15/M) and costs ~$0.3 here.
    (project / "shopfloor.toml").write_text("[budgets]\nusd = 1.5\n[agent]\nenvironment = \"local\"\n")
    llm_server.default = lambda req: Reply(tool_calls=[ToolUse("shell", {"command": f"echo {time.time()}"})],
                                           input_tokens=50_000, output_tokens=10_000)
    proc = start_run()  # type: ignore[operator]
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "budget exceeded: run usd limit $1.5000" in err and "--budget-usd N" in err
    run_dir = project / "run"
    exceeded = [e for e in _events(run_dir) if e["kind"] == "govern.budget_exceeded"]
    assert len(exceeded) == 1 and exceeded[0]["data"]["level"] == "run"  # type: ignore[index]
    budget = json.loads((run_dir / "budget.json").read_text())
    assert 0.5 < budget["run"]["usd"] <= 1.5
    assert json.loads((run_dir / "checkpoint.json").read_text())["status"] == "stopped"

    llm_server.default = None
    llm_server.push(Reply(text="Finished within the new budget."))
    resumed = subprocess.run([*shopfloor_cmd, "resume", "--logs-root", str(run_dir), "--json",
                              "--budget-usd", "5"], cwd=project, capture_output=True, text=True, timeout=120,
                             env=_env(llm_server))
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "budget.json").read_text())["limits_override"] == {"usd": 5.0}


def test_brake_fails_the_node_and_replay_finds_the_same_firing(
        project: Path, llm_server: ScriptedLLMServer, start_run: object,  # noqa: F811
        shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text("[agent]\nenvironment = \"local\"\n")
    llm_server.default = lambda req: Reply(tool_calls=[ToolUse("shell", {"command": "ls"})])
    proc = start_run()  # type: ignore[operator]
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    result = json.loads(out)
    assert result["node_outcomes"]["implement"] == "fail"
    assert "brake: stuck: the same `shell` call returned the same result" in result["failure_reason"]
    run_dir = project / "run"
    live = [e for e in _events(run_dir) if e["kind"] == "brake.steer"]
    assert len(live) == 1 and live[0]["data"]["node_id"] == "implement"  # type: ignore[index]

    replayed = subprocess.run([*shopfloor_cmd, "brake", "replay", str(run_dir / "events.jsonl"), "--json"],
                              capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    stuck = json.loads(replayed.stdout)["detectors"]["stuck"]
    # The live brake fires on the 4th `ls` (its tool_call_end); replay names that event's seq.
    fourth_end = [e for e in _events(run_dir) if e["kind"] == "agent.tool_call_end"][3]
    assert stuck["fired"] and stuck["first_index"] == fourth_end["seq"]
    assert stuck["reason"] == live[0]["data"]["reason"]  # type: ignore[index]


def test_pause_escalation_asks_the_runs_interviewer(
        project: Path, llm_server: ScriptedLLMServer, start_run: object) -> None:  # noqa: F811
    (project / "shopfloor.toml").write_text('[agent]\nenvironment = "local"\n[brake]\nescalation = "pause"\n')
    (project / "answers.json").write_text(json.dumps({"implement": ["C", "S"]}))  # continue once, then stop
    llm_server.default = lambda req: Reply(tool_calls=[ToolUse("shell", {"command": "ls"})])
    proc = start_run("--answers", "answers.json")  # type: ignore[operator]
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "brake: stuck" in json.loads(out)["failure_reason"]
    kinds = [e["kind"] for e in _events(project / "run")]
    assert kinds.count("brake.escalate") == 2 and kinds.count("govern.brake_resumed") == 1
    assert len(llm_server.requests) == 6  # steered at the 4th `ls`, paused at the 5th (go on) and 6th (stop)


def test_stop_cancels_an_llm_call_in_flight(
        project: Path, llm_server: ScriptedLLMServer, start_run: object,  # noqa: F811
        shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text('[agent]\nenvironment = "local"\n')
    llm_server.push(Reply(text="too late", delay=60))  # the model takes a minute to answer
    proc = start_run()  # type: ignore[operator]
    _wait_for(lambda: len(llm_server.requests) == 1, "the agent's LLM call to be in flight")
    run_id = json.loads((project / "run" / "manifest.json").read_text())["run_id"]
    done = subprocess.run([*shopfloor_cmd, "stop", run_id, "--json"], capture_output=True, text=True,
                          timeout=60, env=_env(llm_server))
    result = json.loads(done.stdout)["results"][0]
    assert result["outcome"] == "stopped" and result["elapsed_s"] < 1.0, result
    assert proc.wait(timeout=30) == 130


def test_node_budget_fails_the_node_with_the_budget_reason(
        project: Path, llm_server: ScriptedLLMServer, start_run: object) -> None:  # noqa: F811
    (project / "shopfloor.toml").write_text('[agent]\nenvironment = "local"\n')
    (project / "pipeline.dot").write_text(PIPELINE.replace('prompt="Run the long job"',
                                                           'prompt="Run the long job", budget_usd=1.5'))
    llm_server.default = lambda req: Reply(tool_calls=[ToolUse("shell", {"command": f"echo {time.time()}"})],
                                           input_tokens=50_000, output_tokens=10_000)
    proc = start_run()  # type: ignore[operator]
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # the node failed; the run was not stopped
    result = json.loads(out)
    assert result["node_outcomes"]["implement"] == "fail"
    assert "budget exceeded: run/implement usd limit $1.5000" in result["failure_reason"]
    budget = json.loads((project / "run" / "budget.json").read_text())
    assert budget["nodes"]["implement"]["usd"] <= 1.5
