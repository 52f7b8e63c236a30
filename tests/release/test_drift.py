"""Drift: a deploy whose validated context moved is refused; a live target changed out of band is reported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shopfloor.config import ProjectFile
from shopfloor.release.artifacts import source_revision
from shopfloor.release.deploy import Releaser
from shopfloor.release.drift import capture_snapshot, compare
from shopfloor.release.errors import EXIT_DRIFT, DriftDetected
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from shopfloor.release.target_client import TargetClient
from tests.support.release import make_service, starts, target_toml


def _deploy(cmd: list[str], project: Path, digest: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, "deploy", digest, "--target", "web", "--idempotency-key", key],
                          capture_output=True, text=True, cwd=project)


def test_snapshot_compare_names_each_differing_item(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    before = capture_snapshot(ProjectFile.load())
    (project / "uv.lock").write_text("version = 1\n")
    (project / "shopfloor.toml").write_text(target_toml() + '\n[policy]\ncritical_paths = ["billing/**"]\n')
    after = capture_snapshot(ProjectFile.load())
    assert [d.name for d in compare(before, after)] == ["lockfile_hash", "config_hash", "policy_hash"]
    assert compare(after, capture_snapshot(ProjectFile.load())) == []


def test_an_edited_sealed_scenario_is_drift(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml() + '\n[validate]\nscenarios = "sealed"\n')
    (project / "sealed").mkdir()
    (project / "sealed" / "s1.yaml").write_text("id: s1\n")
    before = capture_snapshot(ProjectFile.load())
    assert before.scenario_set_hash
    (project / "sealed" / "s1.yaml").write_text("id: s1\nsteps: []\n")
    assert [d.name for d in compare(before, capture_snapshot(ProjectFile.load()))] == ["scenario_set_hash"]


def test_a_deploy_with_drift_is_refused_until_revalidated(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    source = make_service(project.parent / "v1", "v1")
    created = subprocess.run([*shopfloor_cmd, "release", "create", str(source)], capture_output=True,
                             text=True, cwd=project, check=True)
    digest = created.stdout.strip()
    (project / "requirements.txt").write_text("requests==2.0\n")  # dependencies changed after validation

    refused = _deploy(shopfloor_cmd, project, digest, "k1")
    assert refused.returncode == EXIT_DRIFT
    assert "context drifted since validation: lockfile_hash" in refused.stderr
    assert "re-validate" in refused.stderr and "Traceback" not in refused.stderr
    assert starts(project.parent) == []
    with Ledger() as ledger:
        assert ledger.deployments("web") == []

    with Ledger() as ledger:  # re-validation records the present context
        create_release(source, ProjectFile.load(), ledger=ledger)
    assert Releaser(ProjectFile.load()).deploy(digest, "web", "k1")["state"] == "succeeded"
    assert starts(project.parent) == ["v1"]


def test_a_run_snapshot_taken_at_start_is_what_the_deploy_compares(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    config = ProjectFile.load()
    with Ledger() as ledger:
        ledger.record_snapshot("run-1", capture_snapshot(config).to_dict(), replace=False)
        (project / "shopfloor.toml").write_text(target_toml(count=5))  # config edited mid-run
        manifest, _ = create_release(make_service(project.parent / "v1", "v1"), ProjectFile.load(),
                                     ledger=ledger, run_id="run-1")
    with pytest.raises(DriftDetected, match="config_hash"):
        Releaser(ProjectFile.load()).deploy(manifest.digest, "web", "k")


def test_drift_reports_a_live_target_changed_out_of_band(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml())
    with Ledger() as ledger:
        digest = create_release(make_service(project.parent / "v1", "v1"), ProjectFile.load(),
                                ledger=ledger)[0].digest
    releaser = Releaser(ProjectFile.load())
    releaser.deploy(digest, "web", "k")
    clean = releaser.drift_report("web")
    assert clean == {"target": "web", "drifted": False, "items": [], "expected": digest}

    workdir = Path(TargetClient("web").state()["backends"]["stable"]["workdir"])
    (workdir / "version.txt").write_text("hotfix\n")  # someone edits the running release by hand
    drifted = subprocess.run([*shopfloor_cmd, "drift", "--target", "web", "--json"], capture_output=True,
                             text=True, cwd=project)
    assert drifted.returncode == EXIT_DRIFT
    report = json.loads(drifted.stdout)
    assert [i["item"] for i in report["items"]] == ["stable files (changed out of band)"]
    assert report["items"][0]["ledger"] == digest

    TargetClient("web").stop()
    stopped = releaser.drift_report("web")["items"]
    assert stopped == [{"item": "target", "ledger": digest, "live": "not running"}]


def test_source_revision_follows_tracked_edits_not_untracked_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "app.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "app.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    clean = source_revision(repo)
    assert len(clean) == 40
    (repo / "runs").mkdir()
    (repo / "runs" / "log.txt").write_text("untracked\n")
    assert source_revision(repo) == clean
    (repo / "app.py").write_text("x = 2\n")
    first_edit = source_revision(repo)
    (repo / "app.py").write_text("x = 3\n")
    assert first_edit.startswith(clean + "+dirty.") and source_revision(repo) not in (clean, first_edit)
