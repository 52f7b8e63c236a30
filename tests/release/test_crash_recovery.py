"""kill -9 at every state transition: the next release command finishes the job, deploying once.

The deploy runs as a real `shopfloor deploy` subprocess that SIGKILLs itself right after
committing its Nth state transition (the CRASH_AT_ENV hook); then `shopfloor releases`, a
different process, must find the orphaned deployment and drive it to the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from shopfloor.config import ProjectFile
from shopfloor.release.deploy import Releaser
from shopfloor.release.ledger import CRASH_AT_ENV, Ledger
from shopfloor.release.releases import create_release
from tests.support.release import make_service, smoke_metric, starts, target_toml

#: provisioning, step, analyzing, promoting, succeeded
SUCCESS_PATH = ["provisioning", "step", "analyzing", "promoting", "succeeded"]
#: provisioning, step, analyzing, rolling_back, rolled_back
ROLLBACK_PATH = ["provisioning", "step", "analyzing", "rolling_back", "rolled_back"]


def _release(project: Path, version: str, mode: str = "ok") -> str:
    with Ledger() as ledger:
        source = make_service(project.parent / version, version, mode)
        return create_release(source, ProjectFile.load(), ledger=ledger)[0].digest


def _crash_then_recover(project: Path, cmd: list[str], digest: str, key: str, crash_at: int,
                        path: list[str]) -> dict:
    env = {**os.environ, CRASH_AT_ENV: str(crash_at)}
    crashed = subprocess.run([*cmd, "deploy", digest, "--target", "web", "--idempotency-key", key],
                             capture_output=True, text=True, cwd=project, env=env)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    with Ledger() as ledger:
        dep = next(d for d in ledger.deployments("web") if d.digest == digest)
    assert dep.state == path[crash_at - 1], f"crash at {crash_at} left {dep.state}"
    recovered = subprocess.run([*cmd, "releases", "--target", "web", "--json"], capture_output=True,
                               text=True, cwd=project)
    assert recovered.returncode == 0, recovered.stderr
    report = json.loads(recovered.stdout)
    with Ledger() as ledger:
        history = [t["to_state"] for t in ledger.transitions(dep.id)]
    assert history == ["accepted", *path], f"crash at {crash_at}: {history}"
    # A retry of the original request gets the first (and only) deployment's result.
    first = Releaser(ProjectFile.load()).deploy(digest, "web", key)
    assert first["deployment_id"] == dep.id
    return {"report": report, "result": first}


def test_kill_at_each_transition_of_a_successful_canary(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml(metrics=smoke_metric(project.parent), count=1))
    Releaser(ProjectFile.load()).deploy(_release(project, "v0"), "web", "base")
    for crash_at in range(1, len(SUCCESS_PATH) + 1):
        version = f"v{crash_at}"
        digest = _release(project, version)
        out = _crash_then_recover(project, shopfloor_cmd, digest, f"k{crash_at}", crash_at, SUCCESS_PATH)
        assert out["result"]["state"] == "succeeded"
        assert [(t["digest"], t["weight"]) for t in out["report"]["traffic"]] == [(digest, 100)]
        assert starts(project.parent).count(version) == 1, f"{version} started twice (crash at {crash_at})"
    assert starts(project.parent) == [f"v{i}" for i in range(len(SUCCESS_PATH) + 1)]


def test_kill_at_each_transition_of_a_failing_canary(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml(metrics=smoke_metric(project.parent), count=1))
    good = _release(project, "good")
    Releaser(ProjectFile.load()).deploy(good, "web", "base")
    # Transitions 1-2 (provisioning, step) are the success path's, covered above; this path
    # diverges at the analysis.
    diverges_at = ROLLBACK_PATH.index("analyzing") + 1
    for crash_at in range(diverges_at, len(ROLLBACK_PATH) + 1):
        version = f"bad{crash_at}"
        digest = _release(project, version, mode="fail500")
        out = _crash_then_recover(project, shopfloor_cmd, digest, f"k{crash_at}", crash_at, ROLLBACK_PATH)
        assert out["result"]["state"] == "rolled_back"
        assert [(t["digest"], t["weight"]) for t in out["report"]["traffic"]] == [(good, 100)]
    bad = [f"bad{i}" for i in range(diverges_at, len(ROLLBACK_PATH) + 1)]
    assert starts(project.parent) == ["good", *bad]
