"""The release HTTP routes on a real `shopfloor serve`: Idempotency-Key semantics and approvals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopfloor.config import ProjectFile
from shopfloor.release.gate import evaluate
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from tests.support.release import make_service, project, starts, target_toml  # noqa: F401
from tests.support.server import ServedShopfloor, served  # noqa: F401


@pytest.fixture
def configured(tmp_path: Path, project: Path) -> Iterator[ProjectFile]:  # noqa: F811
    """shopfloor.toml where the server runs (tmp_path), written before the server starts."""
    path = tmp_path / "shopfloor.toml"
    path.write_text(target_toml() + '\n[policy]\ncritical_paths = ["billing/**"]\n')
    yield ProjectFile.load(path)


def _release(config: ProjectFile, root: Path, version: str) -> str:
    with Ledger() as ledger:
        return create_release(make_service(root / version, version), config, ledger=ledger)[0].digest


def test_deploys_follow_the_idempotency_key_draft(configured: ProjectFile, served: ServedShopfloor,  # noqa: F811
                                                 tmp_path: Path) -> None:
    v1, v2 = _release(configured, tmp_path, "v1"), _release(configured, tmp_path, "v2")
    url = f"{served.url}/release/deploys"
    with httpx.Client(timeout=60) as client:
        missing = client.post(url, json={"digest": v1, "target": "web"})
        assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["error"]
        first = client.post(url, json={"digest": v1, "target": "web"}, headers={"Idempotency-Key": "h1"})
        assert first.status_code == 201, first.text
        assert first.json()["state"] == "succeeded"
        assert first.json()["traffic"] == [{"digest": v1, "role": "stable", "weight": 100}]
        replay = client.post(url, json={"digest": v1, "target": "web"}, headers={"Idempotency-Key": "h1"})
        assert replay.status_code == 200 and replay.json() == first.json()
        reused = client.post(url, json={"digest": v2, "target": "web"}, headers={"Idempotency-Key": "h1"})
        assert reused.status_code == 422 and "was used for digest" in reused.json()["error"]
        history = client.get(f"{served.url}/release/targets/web/releases").json()
        assert [d["digest"] for d in history["deployments"]] == [v1]
        drift = client.get(f"{served.url}/release/targets/web/drift")
        assert drift.status_code == 200 and drift.json()["drifted"] is False
    assert starts(tmp_path) == ["v1"]


def test_approve_over_http_binds_to_the_pending_digest(configured: ProjectFile,
                                                       served: ServedShopfloor, tmp_path: Path) -> None:  # noqa: F811
    source = make_service(tmp_path / "cand", "v1")
    (source / "billing").mkdir()
    (source / "billing" / "charge.py").write_text("charge = 1\n")
    with Ledger() as ledger:
        digest = create_release(source, configured, ledger=ledger)[0].digest
        gate = evaluate(configured, ledger, run_id="r9", gate="gate", digest=digest, require_evidence=False)
        assert gate.status == "approval_required"
    with httpx.Client(timeout=30) as client:
        waiting = client.get(f"{served.url}/release/approvals/r9").json()
        assert (waiting["gate"], waiting["digest"]) == ("gate", digest)
        bad = client.post(f"{served.url}/release/approvals/r9/gate", json={"decision": "maybe"})
        assert bad.status_code == 400
        ok = client.post(f"{served.url}/release/approvals/r9/gate",
                         json={"decision": "approve", "approver": "carol"})
        assert ok.status_code == 200 and ok.json()["digest"] == digest and ok.json()["approver"] == "carol"
    with Ledger() as ledger:
        again = evaluate(configured, ledger, run_id="r9", gate="gate", digest=digest, require_evidence=False)
    assert again.status == "passed" and again.approver == "carol"
