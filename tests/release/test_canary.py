"""Canary analysis: a bad build rolls back by itself; an inconclusive one waits for a human."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from shopfloor.config import ProjectFile
from shopfloor.release.deploy import Releaser
from shopfloor.release.errors import EXIT_IN_FLIGHT, EXIT_PAUSED, TargetBusy
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from shopfloor.release.target_client import TargetClient
from tests.support.release import ERROR_RATE_METRIC, Traffic, make_service, smoke_metric, starts, target_toml


def _release(project: Path, version: str, mode: str = "ok") -> str:
    with Ledger() as ledger:
        source = make_service(project.parent / version, version, mode)
        return create_release(source, ProjectFile.load(), ledger=ledger)[0].digest


def test_a_canary_returning_500s_rolls_back_automatically(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(steps="[20, 50]", metrics=ERROR_RATE_METRIC,
                                                        interval_s=0.5, min_requests=2))
    good, bad = _release(project, "v1"), _release(project, "v2", mode="fail500")
    releaser = Releaser(ProjectFile.load())
    port = releaser.deploy(good, "web", "good")["proxy_port"]
    with Traffic(port) as traffic:
        result = releaser.deploy(bad, "web", "bad")
        rolled_back_at = len(traffic.seen)
        deadline = time.monotonic() + 10
        while len(traffic.seen) < rolled_back_at + 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert result["state"] == "rolled_back" and result["verdict"] == "Failed"
    assert "canary analysis failed at step 0" in result["error"]
    assert result["traffic"] == [{"digest": good, "role": "stable", "weight": 100}]
    assert 0 < result["restore_s"] < 5
    failed = result["analyses"][-1]["measurements"][-1]
    assert failed["metric"] == "errors" and failed["value"] > 0.05
    # Users saw the bad build only while it was a 20 % canary, and only the good one afterwards.
    during = [s for s in traffic.seen[:rolled_back_at] if s[2] == bad]
    assert during and all(status == 500 for _, status, _ in during)
    assert all(status == 200 and digest == good for _, status, digest in traffic.seen[rolled_back_at:])
    assert "canary" not in TargetClient("web").state()["backends"]
    with Ledger() as ledger:
        states = [t["to_state"] for t in ledger.transitions(result["deployment_id"])]
    assert states == ["accepted", "provisioning", "step", "analyzing", "rolling_back", "rolled_back"]


def test_a_healthy_canary_walks_every_step_and_is_promoted(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(steps="[20, 50]", metrics=ERROR_RATE_METRIC,
                                                        interval_s=0.5, min_requests=2))
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    releaser = Releaser(ProjectFile.load())
    port = releaser.deploy(v1, "web", "one")["proxy_port"]
    with Traffic(port) as traffic:
        result = releaser.deploy(v2, "web", "two")
    assert result["state"] == "succeeded", result
    assert [a["step"] for a in result["analyses"]] == [0, 1]
    assert all(a["verdict"] == "Successful" for a in result["analyses"])
    assert result["traffic"] == [{"digest": v2, "role": "stable", "weight": 100}]
    assert {d for _, status, d in traffic.seen if status == 200} == {v1, v2}
    assert starts(project.parent) == ["v1", "v2"]


def test_an_inconclusive_canary_pauses_for_a_human(project: Path, shopfloor_cmd: list[str]) -> None:
    # No traffic at all: the error rate cannot be judged, so a human decides.
    (project / "shopfloor.toml").write_text(target_toml(metrics=ERROR_RATE_METRIC, count=1))
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    Releaser(ProjectFile.load()).deploy(v1, "web", "one")
    paused = subprocess.run([*shopfloor_cmd, "deploy", v2, "--target", "web", "--idempotency-key", "two",
                             "--json"], capture_output=True, text=True, cwd=project)
    assert paused.returncode == EXIT_PAUSED, paused.stderr
    result = json.loads(paused.stdout)
    assert result["state"] == "paused" and result["verdict"] == "Inconclusive"
    assert {t["digest"]: t["weight"] for t in result["traffic"]} == {v1: 50, v2: 50}

    promoted = subprocess.run([*shopfloor_cmd, "promote", "--target", "web", "--json"], capture_output=True,
                              text=True, cwd=project)
    assert promoted.returncode == 0, promoted.stderr
    final = json.loads(promoted.stdout)
    assert final["deployment_id"] == result["deployment_id"] and final["state"] == "succeeded"
    assert final["traffic"] == [{"digest": v2, "role": "stable", "weight": 100}]


def test_rollback_aborts_a_paused_canary(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(metrics=ERROR_RATE_METRIC, count=1))
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    releaser = Releaser(ProjectFile.load())
    releaser.deploy(v1, "web", "one")
    assert releaser.deploy(v2, "web", "two")["state"] == "paused"
    result = releaser.rollback("web")
    assert result["state"] == "rolled_back" and result["digest"] == v2
    assert result["traffic"] == [{"digest": v1, "role": "stable", "weight": 100}]


def test_a_paused_canary_blocks_other_deploys_to_its_target(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(metrics=ERROR_RATE_METRIC, count=1))
    v1, v2, v3 = _release(project, "v1"), _release(project, "v2"), _release(project, "v3")
    releaser = Releaser(ProjectFile.load())
    releaser.deploy(v1, "web", "one")
    assert releaser.deploy(v2, "web", "two")["state"] == "paused"
    with pytest.raises(TargetBusy, match="is paused for a human") as blocked:
        releaser.deploy(v3, "web", "three")
    assert blocked.value.exit_code == EXIT_IN_FLIGHT
    assert "shopfloor promote --target web" in blocked.value.line()
    assert starts(project.parent) == ["v1", "v2"]


def test_blue_green_switches_at_once_after_a_smoke_run_on_the_idle_release(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(strategy="bluegreen", count=1,
                                                        metrics=smoke_metric(project.parent)))
    v1, v2, bad = _release(project, "v1"), _release(project, "v2"), _release(project, "bad", mode="fail500")
    releaser = Releaser(ProjectFile.load())
    port = releaser.deploy(v1, "web", "one")["proxy_port"]
    with Traffic(port) as traffic:
        refused = releaser.deploy(bad, "web", "bad")
        good = releaser.deploy(v2, "web", "two")
    assert refused["state"] == "rolled_back" and refused["plan"] == [0]
    assert good["state"] == "succeeded" and good["plan"] == [0]
    assert good["traffic"] == [{"digest": v2, "role": "stable", "weight": 100}]
    served = [d for _, status, d in traffic.seen if status]
    assert bad not in served  # the green side got no user traffic before it passed its smoke run
    assert served[0] == v1 and served[-1] == v2
