"""Per-deployment env: `{{context.KEY}}` from the pipeline run, `{{env.NAME}}` from the deployer, kept in the
ledger so a resumed deployment, a restarted daemon and a rollback re-create the service as it was deployed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from shopfloor.assembly import registry_factory
from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.pipeline.interviewer import QueueInterviewer
from shopfloor.pipeline.prepare import prepare_pipeline
from shopfloor.pipeline.runner import start_run
from shopfloor.release.deploy import Releaser
from shopfloor.release.errors import EXIT_KEY_REUSED, IdempotencyKeyReused
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from shopfloor.release.target_client import TargetClient
from shopfloor.store import transaction
from tests.support.release import kill_daemon, make_service, orphan_deployment, target_toml

TWIN_ENV = ('env = { SLACK_API_URL = "{{context.twins.slack.base_url}}", '
            'SLACK_URL = "{{ context.twins.slack.url }}" }')
LABEL_ENV = 'env = { LABEL = "run {{context.run.label}}", STATIC = "plain" }'

PIPELINE = """
digraph ship {
  start  [shape=Mdiamond]
  twins  [type="shopfloor.twins", twins="slack"]
  deploy [type="shopfloor.deploy", target="web"]
  done   [shape=Msquare]
  start -> twins -> deploy -> done
}
"""


def _release(project: Path, version: str) -> str:
    with Ledger() as ledger:
        return create_release(make_service(project.parent / version, version), ProjectFile.load(),
                              ledger=ledger)[0].digest


def _env(port: int, name: str) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/env/{name}", timeout=5).text


def _run(project: Path, digest: str, logs: str, pipeline: str = PIPELINE):
    return start_run(prepare_pipeline(pipeline, handler_types=["shopfloor.twins", "shopfloor.deploy"]),
                     logs_root=project.parent / logs, registry_factory=registry_factory("simulate"),
                     interviewer=QueueInterviewer([]), config=ProjectFile.load(),
                     initial_context={"release.digest": digest})


def test_a_pipeline_run_deploys_with_the_twin_urls_from_its_context(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(extra=TWIN_ENV))
    digest = _release(project, "v1")
    result = _run(project, digest, "run1")
    assert result.status == "success", result.outcome
    base_url = result.context["twins.slack.base_url"]
    assert base_url.startswith("http://127.0.0.1:")
    port = TargetClient("web").state()["proxy_port"]
    assert _env(port, "SLACK_API_URL") == base_url  # the running service got the run's twin
    assert _env(port, "SLACK_URL") == result.context["twins.slack.url"]
    with Ledger() as ledger:
        dep = ledger.deployment(result.context["release.deployment_id"])
        assert dep is not None and dep.env == {"SLACK_API_URL": base_url,
                                               "SLACK_URL": result.context["twins.slack.url"]}
        row = ledger.conn.execute("SELECT payload FROM release_idempotency_keys").fetchone()
    payload = json.loads(row["payload"])
    # The key's payload fingerprints the env without holding its values (they may be secrets).
    assert set(payload) == {"digest", "target", "env_sha256"}
    assert base_url not in json.dumps(payload)


def test_a_context_key_the_run_lacks_fails_the_deploy_node_naming_it(project: Path) -> None:
    env = TWIN_ENV.replace("slack.base_url", "jira.base_url")
    (project / "shopfloor.toml").write_text(target_toml(extra=env))
    digest = _release(project, "v1")
    result = _run(project, digest, "run2")
    assert result.status == "fail" and result.node_outcomes.get("deploy") == "fail"
    reason = json.loads((project.parent / "run2" / "deploy" / "status.json").read_text())["failure_reason"]
    assert "{{context.twins.jira.base_url}}" in reason and "'twins.jira.base_url'" in reason
    assert "env SLACK_API_URL" in reason and "\n" not in reason
    with Ledger() as ledger:
        assert ledger.deployments("web") == []  # nothing was started or recorded


def test_cli_deploys_render_env_templates_and_refuse_context_ones(project: Path,
                                                                  shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml(extra='env = { TOKEN = "t-{{env.DEPLOY_TOKEN}}" }'))
    digest = _release(project, "v1")
    cmd = [*shopfloor_cmd, "deploy", digest, "--target", "web", "--json"]
    unset = subprocess.run([*cmd, "--idempotency-key", "a"], capture_output=True, text=True, cwd=project)
    assert unset.returncode == 2 and "Traceback" not in unset.stderr
    assert "{{env.DEPLOY_TOKEN}}" in unset.stderr and unset.stderr.count("\n") == 1
    env = {**os.environ, "DEPLOY_TOKEN": "s3cret"}
    ok = subprocess.run([*cmd, "--idempotency-key", "b"], capture_output=True, text=True, cwd=project,
                        env=env)
    assert ok.returncode == 0, ok.stderr
    assert _env(json.loads(ok.stdout)["proxy_port"], "TOKEN") == "t-s3cret"
    # The same key with another rendered env is another request: refused, the values not echoed.
    env["DEPLOY_TOKEN"] = "rotated"
    again = subprocess.run([*cmd, "--idempotency-key", "b"], capture_output=True, text=True, cwd=project,
                           env=env)
    assert again.returncode == EXIT_KEY_REUSED
    assert "with another environment or fault" in again.stderr and "rotated" not in again.stderr

    (project / "shopfloor.toml").write_text(
        target_toml(extra='env = { URL = "{{context.twins.slack.url}}" }'))
    no_run = subprocess.run([*cmd, "--idempotency-key", "c"], capture_output=True, text=True, cwd=project)
    assert no_run.returncode == 2 and no_run.stderr.count("\n") == 1
    assert "{{context.twins.slack.url}} needs a pipeline run's context" in no_run.stderr


def test_rollback_and_resume_recreate_each_release_with_its_own_env(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(extra=LABEL_ENV))
    v1, v2, v3 = _release(project, "v1"), _release(project, "v2"), _release(project, "v3")
    releaser = Releaser(ProjectFile.load())
    port = releaser.deploy(v1, "web", "one", context={"run.label": "one"})["proxy_port"]
    assert _env(port, "LABEL") == "run one" and _env(port, "STATIC") == "plain"
    releaser.deploy(v2, "web", "two", context={"run.label": "two"})
    assert _env(port, "LABEL") == "run two"
    with pytest.raises(IdempotencyKeyReused, match="another environment"):
        releaser.deploy(v2, "web", "two", context={"run.label": "changed"})
    assert releaser.deploy(v2, "web", "two", context={"run.label": "two"})["state"] == "succeeded"

    rolled = releaser.rollback("web")  # v1 comes back as it was deployed, with its run's env
    assert rolled["digest"] == v1 and _env(port, "LABEL") == "run one"
    with Ledger() as ledger:
        assert ledger.deployment(rolled["deployment_id"]).env == {"LABEL": "run one", "STATIC": "plain"}

    # A deployment interrupted mid-analysis, then its daemon killed: the next release command restores the
    # stable release and resumes the deployment, each with the env recorded in the ledger.
    orphan_deployment(v3, env={"LABEL": "run three", "STATIC": "plain"})
    kill_daemon()
    history = releaser.history("web")
    assert history["deployments"][-1]["state"] == "succeeded"
    assert _env(history["proxy_port"], "LABEL") == "run three"
    back = releaser.rollback("web", to=v2)  # an earlier release: its own deployment's env, not the latest
    assert back["digest"] == v2 and _env(history["proxy_port"], "LABEL") == "run two"


def test_an_unknown_template_namespace_is_one_line(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml(extra='env = { X = "{{secrets.db}}" }'))
    digest = _release(project, "v1")
    with pytest.raises(UserError) as err:
        Releaser(ProjectFile.load()).deploy(digest, "web", "k", context={})
    assert "unknown template {{secrets.db}}" in err.value.line() and "env X" in err.value.line()


def test_a_ledger_from_before_deployment_envs_is_upgraded_in_place(project: Path) -> None:
    from shopfloor.release.ledger import LEDGER_DB
    from shopfloor.store import connect

    old = connect(LEDGER_DB)  # the first schema of release_deployments, with one deployment in it
    old.executescript("""
        CREATE TABLE release_deployments (
            id TEXT PRIMARY KEY, target TEXT NOT NULL, digest TEXT NOT NULL, kind TEXT NOT NULL,
            state TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL,
            result TEXT NOT NULL DEFAULT '{}', error TEXT NOT NULL DEFAULT '');
        INSERT INTO release_deployments
            VALUES ('dep-old', 'web', 'abc', 'deploy', 'succeeded', 0, '', 1, 1, 1, '{}', '');
    """)
    old.close()
    with Ledger() as ledger:
        legacy = ledger.deployment("dep-old")
        assert legacy is not None and legacy.env is None and legacy.fault is None  # "none recorded"
        with transaction(ledger.conn):
            ledger.insert_deployment(ledger.conn, dep_id="dep-new", target="web", digest="abc", kind="deploy",
                                     owner="", env={"A": "1"}, fault={"abort_rate": 1.0})
        new = ledger.deployment("dep-new")
        assert new is not None and new.env == {"A": "1"} and new.fault == {"abort_rate": 1.0}
    with Ledger() as again:  # opening an upgraded ledger changes nothing
        assert again.deployment("dep-old") is not None
