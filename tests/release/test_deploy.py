"""Idempotent deploys on the local target: once per key, 422 on reuse, 409 in flight, rollback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.release.deploy import Releaser
from shopfloor.release.errors import EXIT_IN_FLIGHT, EXIT_KEY_REUSED, RequestInFlight
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from shopfloor.release.target_client import TargetClient
from tests.support.release import (
    kill_daemon,
    make_service,
    orphan_deployment,
    smoke_metric,
    starts,
    target_toml,
)


def _release(project: Path, version: str, mode: str = "ok") -> str:
    with Ledger() as ledger:
        source = make_service(project.parent / version, version, mode)
        manifest, _ = create_release(source, ProjectFile.load(), ledger=ledger)
    return manifest.digest


def _get(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/", timeout=5)


def test_first_deploy_serves_through_the_proxy(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    digest = _release(project, "v1")
    proc = subprocess.run([*shopfloor_cmd, "deploy", digest[:12], "--target", "web",
                           "--idempotency-key", "k1", "--json"], capture_output=True, text=True, cwd=project)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["state"] == "succeeded" and result["deployment_id"].startswith("dep-")
    assert result["traffic"] == [{"digest": digest, "role": "stable", "weight": 100}]
    resp = _get(result["proxy_port"])
    assert resp.text == "v1\n" and resp.headers["x-shopfloor-release"] == digest


def test_fifty_concurrent_requests_with_one_key_deploy_once(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    digest = _release(project, "v1")
    results: list[dict] = []
    conflicts: list[RequestInFlight] = []
    others: list[BaseException] = []
    barrier = threading.Barrier(50)

    def request() -> None:
        releaser = Releaser(ProjectFile.load())
        barrier.wait()
        try:
            results.append(releaser.deploy(digest, "web", "one-key"))
        except RequestInFlight as exc:
            conflicts.append(exc)
        except BaseException as exc:
            others.append(exc)
        finally:
            releaser.ledger.close()

    threads = [threading.Thread(target=request) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert others == []
    assert len(results) + len(conflicts) == 50 and results
    assert {r["deployment_id"] for r in results} == {results[0]["deployment_id"]}
    assert starts(project.parent) == ["v1"]
    with Ledger() as ledger:
        assert len(ledger.deployments("web")) == 1
    # After it finished, a retry with the key returns the first result, still without a new start.
    again = Releaser(ProjectFile.load()).deploy(digest, "web", "one-key")
    assert again["deployment_id"] == results[0]["deployment_id"] and again["state"] == "succeeded"
    assert starts(project.parent) == ["v1"]


def test_concurrent_processes_with_one_key_deploy_once(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    digest = _release(project, "v1")
    command = [*shopfloor_cmd, "deploy", digest, "--target", "web", "--idempotency-key", "pk", "--json"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project)
             for _ in range(4)]
    outcomes = [(p.wait(60), p.stdout.read(), p.stderr.read()) for p in procs if p.stdout and p.stderr]
    codes = sorted(code for code, _, _ in outcomes)
    assert set(codes) <= {0, EXIT_IN_FLIGHT} and 0 in codes, outcomes
    ids = {json.loads(out)["deployment_id"] for code, out, _ in outcomes if code == 0}
    assert len(ids) == 1
    assert starts(project.parent) == ["v1"]


def test_reusing_a_key_for_another_artifact_is_refused(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    first = subprocess.run([*shopfloor_cmd, "deploy", v1, "--target", "web", "--idempotency-key", "k"],
                           capture_output=True, text=True, cwd=project)
    assert first.returncode == 0, first.stderr
    reused = subprocess.run([*shopfloor_cmd, "deploy", v2, "--target", "web", "--idempotency-key", "k"],
                            capture_output=True, text=True, cwd=project)
    assert reused.returncode == EXIT_KEY_REUSED
    assert "idempotency key 'k' was used for digest" in reused.stderr and "Traceback" not in reused.stderr
    assert starts(project.parent) == ["v1"]


def test_a_retry_while_the_first_is_in_flight_gets_409(project: Path, shopfloor_cmd: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    gate = project.parent / "let-it-start"
    monkeypatch.setenv("START_GATE", str(gate))  # the service waits for this file: the deploy stays in flight
    digest = _release(project, "slow", mode="slowstart")
    first: list[dict] = []
    worker = threading.Thread(
        target=lambda: first.append(Releaser(ProjectFile.load()).deploy(digest, "web", "k")))
    worker.start()
    deadline = time.monotonic() + 10
    with Ledger() as ledger:
        while time.monotonic() < deadline and not ledger.deployments("web"):
            time.sleep(0.02)
    retry = subprocess.run([*shopfloor_cmd, "deploy", digest, "--target", "web", "--idempotency-key", "k"],
                           capture_output=True, text=True, cwd=project)
    gate.touch()
    worker.join()
    assert retry.returncode == EXIT_IN_FLIGHT, retry.stderr
    assert "still in progress" in retry.stderr
    assert first and first[0]["state"] == "succeeded"
    later = subprocess.run([*shopfloor_cmd, "deploy", digest, "--target", "web", "--idempotency-key", "k",
                            "--json"], capture_output=True, text=True, cwd=project)
    assert later.returncode == 0 and json.loads(later.stdout)["deployment_id"] == first[0]["deployment_id"]
    assert starts(project.parent) == ["slow"]


def test_canary_promotes_and_rollback_restores_the_last_known_good(project: Path,
                                                                    shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml(metrics=smoke_metric(project.parent)))
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    releaser = Releaser(ProjectFile.load())
    releaser.deploy(v1, "web", "d1")
    second = releaser.deploy(v2, "web", "d2")
    assert second["state"] == "succeeded" and second["plan"] == [50]
    assert second["traffic"] == [{"digest": v2, "role": "stable", "weight": 100}]
    assert _get(second["proxy_port"]).text == "v2\n"

    proc = subprocess.run([*shopfloor_cmd, "rollback", "--target", "web", "--json"], capture_output=True,
                          text=True, cwd=project)
    assert proc.returncode == 0, proc.stderr
    rolled = json.loads(proc.stdout)
    assert rolled["kind"] == "rollback" and rolled["digest"] == v1
    assert rolled["traffic"] == [{"digest": v1, "role": "stable", "weight": 100}]
    assert _get(second["proxy_port"]).text == "v1\n"
    with pytest.raises(UserError, match="no earlier known good release"):  # v2 was rolled away from
        releaser.last_known_good("web")

    history = subprocess.run([*shopfloor_cmd, "releases", "--target", "web", "--json"], capture_output=True,
                             text=True, cwd=project, check=True)
    rows = json.loads(history.stdout)["deployments"]
    assert [(r["kind"], r["digest"], r["state"]) for r in rows] == [
        ("deploy", v1, "succeeded"), ("deploy", v2, "succeeded"), ("rollback", v1, "succeeded")]

    to_v2 = subprocess.run([*shopfloor_cmd, "rollback", "--target", "web", "--to", v2[:10]],
                           capture_output=True, text=True, cwd=project)
    assert to_v2.returncode == 0, to_v2.stderr
    assert _get(second["proxy_port"]).text == "v2\n"
    assert starts(project.parent) == ["v1", "v2", "v1", "v2"]


def test_unknown_target_is_one_clear_line(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    digest = _release(project, "v1")
    proc = subprocess.run([*shopfloor_cmd, "deploy", digest, "--target", "nope", "--idempotency-key", "k"],
                          capture_output=True, text=True, cwd=project)
    assert proc.returncode == 2
    assert "unknown target 'nope' (declared: web)" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_crashed_service_is_restarted_by_its_supervisor(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    result = Releaser(ProjectFile.load()).deploy(_release(project, "v1"), "web", "k")
    pid = TargetClient("web").state()["backends"]["stable"]["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and starts(project.parent) != ["v1", "v1"]:
        time.sleep(0.05)
    backend = TargetClient("web").state()["backends"]["stable"]
    assert backend["restarts"] == 1 and backend["pid"] != pid and backend["alive"]
    assert _get(result["proxy_port"]).text == "v1\n"


def test_after_the_target_daemon_dies_the_next_deploy_restores_stable_first(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(metrics=smoke_metric(project.parent), count=1))
    releaser = Releaser(ProjectFile.load())
    releaser.deploy(_release(project, "v1"), "web", "one")
    kill_daemon()
    result = releaser.deploy(_release(project, "v2"), "web", "two")
    assert result["state"] == "succeeded" and result["plan"] == [50]  # canaried against the restored v1
    assert starts(project.parent) == ["v1", "v1", "v2"]


def test_a_deploy_interrupted_with_its_daemon_is_resumed_on_a_new_one(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(metrics=smoke_metric(project.parent), count=1))
    releaser = Releaser(ProjectFile.load())
    releaser.deploy(_release(project, "v1"), "web", "one")
    v2 = _release(project, "v2")
    orphan_deployment(v2)
    kill_daemon()
    history = releaser.history("web")  # any release command resumes it
    assert [d["state"] for d in history["deployments"]] == ["succeeded", "succeeded"]
    assert [(t["digest"], t["weight"]) for t in history["traffic"]] == [(v2, 100)]
    assert starts(project.parent) == ["v1", "v1", "v2"]
