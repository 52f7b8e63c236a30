"""`shopfloor brake replay` over recorded logs, as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from shopfloor.observe.eventlog import EventLog
from tests.support.brake import EventScript, healthy_script


def _cli(cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, "brake", "replay", *args], capture_output=True, text=True, timeout=60)


def test_replay_reports_first_firing_per_detector(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    script = EventScript()
    script.read("README.md")
    for _ in range(5):
        script.shell("ls", "same")
    script.shell("rm -rf /")
    log = script.write_jsonl(tmp_path / "session.jsonl")
    done = _cli(shopfloor_cmd, str(log), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["events"] == len(script.events)
    stuck = report["detectors"]["stuck"]
    # 4th `ls` ends at event index: read(3 events) + 4 shell calls x 3 events - 1
    assert stuck["fired"] and stuck["first_index"] == 3 + 4 * 3 - 1 and stuck["escalated_at"] == 3 + 5 * 3 - 1
    assert "same result 4 times" in stuck["reason"]
    assert report["detectors"]["destructive"]["fired"]
    assert report["detectors"]["thrash"] == {"fired": False}
    human = _cli(shopfloor_cmd, str(log))
    assert ("stuck        fired at event 14: the same `shell` call returned the same result 4 times "
            "in a row; escalated (stop) at event 17") in human.stdout
    assert "thrash       did not fire" in human.stdout


def test_replay_reads_a_run_event_log_and_uses_seq(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.append("run_started", {"run_id": "r1"})
    for event in healthy_script().events:
        log.append(f"agent.{event['kind']}", {**event["data"], "session_id": "s1", "node_id": "impl"})
    log.close()
    report = json.loads(_cli(shopfloor_cmd, str(tmp_path / "events.jsonl"), "--json").stdout)
    assert report["events"] > 150
    assert not any(d["fired"] for d in report["detectors"].values())


def test_replay_thresholds_come_from_the_config(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    script = EventScript()
    for _ in range(4):
        script.shell("ls", "same")
    log = script.write_jsonl(tmp_path / "s.jsonl")
    (tmp_path / "shopfloor.toml").write_text("[brake.stuck]\nsame_result = 5\n")
    config = str(tmp_path / "shopfloor.toml")
    report = json.loads(_cli(shopfloor_cmd, str(log), "--json", "--config", config).stdout)
    assert not report["detectors"]["stuck"]["fired"]


def test_replay_bad_input_is_one_line(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    missing = _cli(shopfloor_cmd, str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "event log not found" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "user_input"}\nnot json\n')
    done = _cli(shopfloor_cmd, str(bad))
    assert done.returncode == 2 and f"{bad}:2: not an event record" in done.stderr
    (tmp_path / "shopfloor.toml").write_text("[brake.stuck]\nsame_result = 1\n")
    done = _cli(shopfloor_cmd, str(bad), "--config", str(tmp_path / "shopfloor.toml"))
    assert done.returncode == 2 and "[brake].stuck.same_result" in done.stderr
