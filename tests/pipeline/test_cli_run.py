"""`shopfloor run` / `shopfloor resume` as a user runs them: real subprocesses, exit codes, --json."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from shopfloor.observe.eventlog import verify
from shopfloor.observe.runs import RunRegistry
from tests.support.dotfiles import dot_path
from tests.support.pipeline_runs import REPO_ROOT, run_json, shopfloor

JSON_KEYS = {"status", "completed_nodes", "node_outcomes", "context", "logs_root", "run_id"}


def test_run_json_success_prints_one_object_and_exits_zero(tmp_path: Path) -> None:
    code, out = run_json("run", str(dot_path("engine_smoke")), "--logs-root", str(tmp_path / "r"))
    assert code == 0
    assert set(out) >= JSON_KEYS
    assert out["status"] == "success" and out["logs_root"] == str(tmp_path / "r")
    assert out["completed_nodes"] == ["start", "plan", "implement", "review", "done"]
    assert out["node_outcomes"]["implement"] == "success"
    assert out["context"]["graph.goal"] == "Create a hello world Python script"
    assert verify(tmp_path / "r" / "events.jsonl") > 0
    record = RunRegistry().get(out["run_id"])
    assert record is not None and record.status == "success" and record.logs_root == str(tmp_path / "r")


def test_run_fail_exits_one_and_set_values_reach_the_context(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.dot"
    pipeline.write_text(
        'digraph P { start [shape=Mdiamond]; gate [shape=diamond]; ok [prompt="ok"]; '
        'bad [prompt="bad", sim.outcome=fail]; done [shape=Msquare]; start -> gate; '
        'gate -> ok [condition="context.env=prod"]; gate -> bad [condition="context.env!=prod"]; '
        "ok -> done; bad -> done }"
    )
    code, out = run_json(
        "run", str(pipeline), "--logs-root", str(tmp_path / "a"), "--set", "env=dev", "--set", "retries=3"
    )
    assert code == 1 and out["status"] == "fail" and "bad" in out["completed_nodes"]
    assert out["context"]["env"] == "dev" and out["context"]["retries"] == 3
    code, out = run_json("run", str(pipeline), "--logs-root", str(tmp_path / "b"), "--set", "env=prod")
    assert code == 0 and "ok" in out["completed_nodes"]


def test_invalid_input_is_one_line_and_exit_two(tmp_path: Path) -> None:
    bad_dot = tmp_path / "bad.dot"
    bad_dot.write_text("digraph X {\n  a -> \n}\n")
    answers = tmp_path / "answers.json"
    answers.write_text("{oops")
    cases = [
        (["run", str(tmp_path / "missing.dot")], "pipeline file not found"),
        (["run", str(bad_dot)], f"{bad_dot}:3:1"),
        (["run", str(dot_path("engine_linear")), "--set", "novalue"], "has no '='"),
        (["run", str(dot_path("engine_linear")), "--set", "bad key=1"], "not a valid context key"),
        (["run", str(dot_path("engine_linear")), "--backend", "nope"], "unknown backend 'nope'"),
        (["run", str(dot_path("engine_human")), "--answers", str(answers)], "not valid JSON"),
        (
            ["run", str(dot_path("engine_human")), "--answers", str(answers), "--auto-approve"],
            "exclude each other",
        ),
        (["resume", "--logs-root", str(tmp_path / "nothing")], "not a run directory"),
    ]
    for args, message in cases:
        proc = shopfloor(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_answers_file_routes_a_human_gate(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"review_gate": ["F", "A"]}))
    code, out = run_json(
        "run", str(dot_path("engine_human")), "--answers", str(answers), "--logs-root", str(tmp_path / "r")
    )
    assert code == 0
    assert out["completed_nodes"] == ["start", "review_gate", "fixes", "review_gate", "ship_it", "done"]


def test_console_interviewer_reads_stdin(tmp_path: Path) -> None:
    proc = shopfloor(
        "run", str(dot_path("engine_human")), "--logs-root", str(tmp_path / "r"), "--json", stdin="A\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["completed_nodes"][-2:] == ["ship_it", "done"]
    assert "  [A] Approve\n  [F] Fix" in proc.stderr


def test_a_finished_run_in_the_way_is_moved_aside_never_deleted(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    first_code, first = run_json("run", str(dot_path("engine_linear")), "--logs-root", str(root))
    second_code, _ = run_json("run", str(dot_path("engine_linear")), "--logs-root", str(root))
    assert first_code == second_code == 0
    assert (tmp_path / f"demo.{first['run_id']}" / "checkpoint.json").exists()


def test_sigterm_stops_after_a_checkpoint_and_resume_finishes(tmp_path: Path) -> None:
    pipeline = tmp_path / "slow.dot"
    pipeline.write_text(
        'digraph S { start [shape=Mdiamond]; a [prompt="a"]; '
        'wait [shape=parallelogram, tool_command="sleep 30"]; b [prompt="b"]; done [shape=Msquare]; '
        "start -> a -> wait -> b -> done }"
    )
    root = tmp_path / "r"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopfloor", "run", str(pipeline), "--logs-root", str(root), "--json"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (root / "wait" / "stdout.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert json.loads(out)["status"] == "stopped"
    ckpt = json.loads((root / "checkpoint.json").read_text())
    assert ckpt["status"] == "stopped" and ckpt["next_node"] == "wait"
    pipeline.write_text(pipeline.read_text())  # resume runs the copy in the run directory, not this file
    (root / "pipeline.dot").write_text((root / "pipeline.dot").read_text().replace("sleep 30", "true"))
    code, resumed = run_json("resume", "--logs-root", str(root))
    assert code == 0
    assert resumed["completed_nodes"] == ["start", "a", "wait", "b", "done"]


def test_demo_target_command_succeeds(tmp_path: Path) -> None:
    proc = shopfloor(
        "run", "examples/pipeline/release_train.dot", "--auto-approve", "--logs-root", str(tmp_path / "demo")
    )
    assert proc.returncode == 0, proc.stderr
    assert "success" in proc.stdout
    code, out = run_json("resume", "--logs-root", str(tmp_path / "demo"))
    nodes = out["completed_nodes"]
    assert code == 0 and nodes.count("review") == 2 and nodes.count("implement") == 2
    assert {"unit_tests", "lint", "integration", "collect", "approval", "package", "publish_stable"} <= set(
        nodes
    )


def test_bad_handler_attributes_are_rejected_before_the_run_with_their_location(tmp_path: Path) -> None:
    pipeline = tmp_path / "bad.dot"
    pipeline.write_text(
        "digraph B {\n  start [shape=Mdiamond]\n  fan [shape=component, join_policy=fastest]\n"
        '  a [prompt="a"]\n  j [shape=tripleoctagon]\n  done [shape=Msquare]\n'
        "  start -> fan -> a -> j -> done\n}\n"
    )
    proc = shopfloor("run", str(pipeline), "--logs-root", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert f"{pipeline}:3:" in proc.stderr and "join_policy 'fastest'" in proc.stderr
    assert not (tmp_path / "r").exists(), "nothing runs"
