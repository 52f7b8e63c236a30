"""Release commands: artifacts, approvals, deploys, rollback, history and drift.

    shopfloor release create DIR [--run-id ID] [--validation FILE] [--satisfaction X] [--json]
    shopfloor release stop-target --target NAME
    shopfloor approve RUN_ID [GATE] [--as NAME] [--ttl SECONDS] [--digest PREFIX] [--json]
    shopfloor reject RUN_ID [GATE] --reason TEXT [--as NAME] [--json]
    shopfloor deploy DIGEST --target NAME --idempotency-key KEY [--json]
    shopfloor promote --target NAME [--json]
    shopfloor rollback --target NAME [--to DIGEST] [--json]
    shopfloor releases --target NAME [--json]
    shopfloor drift --target NAME [--json]

Exit codes: 0 done, 2 bad input, 3 deploy failed or rolled back, 4 idempotency key
reused with another payload (HTTP 422), 5 request with that key still in flight
(HTTP 409), 6 drift, 7 approval missing, 8 deployment paused for a human.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import typer

release_app = typer.Typer(help="Content-addressed release artifacts and targets.", no_args_is_help=True)

APPROVER_ENV = "SHOPFLOOR_APPROVER"
CONFIG_OPTION = typer.Option(None, "--config", help="shopfloor.toml declaring [[targets]] and [policy].")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object.")
TARGET_OPTION = typer.Option(..., "--target", help="A target declared under [[targets]].")


def _approver(name: str | None) -> str:
    return name or os.environ.get(APPROVER_ENV) or getpass.getuser()


def _releaser(config: Path | None) -> Any:
    from shopfloor.config import ProjectFile
    from shopfloor.release.deploy import Releaser

    return Releaser(ProjectFile.load(config))


def _traffic(result: dict[str, Any]) -> str:
    shares = [f"{t['weight']}% → {t['digest'][:12]} ({t['role']})" for t in result["traffic"]]
    return ", ".join(shares) or "none"


def _deployment_exit(result: dict[str, Any], as_json: bool) -> None:
    from shopfloor.release.errors import EXIT_DEPLOY_FAILED, EXIT_PAUSED

    if as_json:
        typer.echo(json.dumps(result, sort_keys=True))
    else:
        typer.echo(f"deployment {result['deployment_id']}: {result['state']} ({result['digest'][:12]} "
                   f"on {result['target']})")
        typer.echo(f"  traffic: {_traffic(result)}")
        if result.get("proxy_port"):
            typer.echo(f"  proxy:   http://127.0.0.1:{result['proxy_port']}")
        if result.get("restore_s") is not None:
            typer.echo(f"  restored to stable {result['restore_s']:.3f}s after the failing measurement")
        if result.get("error"):
            typer.echo(f"  error:   {result['error']}")
    if result["state"] in ("failed", "rolled_back"):
        raise typer.Exit(EXIT_DEPLOY_FAILED)
    if result["state"] == "paused":
        if not as_json:
            typer.echo(f"  canary analysis was inconclusive: decide with `shopfloor promote --target "
                       f"{result['target']}` or `shopfloor rollback --target {result['target']}`")
        raise typer.Exit(EXIT_PAUSED)


@release_app.command("create")
def create_command(
    directory: Path = typer.Argument(..., help="The candidate workspace to snapshot."),
    run_id: str = typer.Option("", "--run-id", help="The run that produced and validated it."),
    revision: str | None = typer.Option(None, "--revision", help="Source revision (default: git HEAD)."),
    validation: Path | None = typer.Option(None, "--validation",
                                           help='JSON list of results: [{"name": ..., "passed": true}].'),
    satisfaction: float | None = typer.Option(None, "--satisfaction", min=0.0, max=1.0,
                                              help="Scenario satisfaction in [0, 1]."),
    as_json: bool = JSON_OPTION,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Snapshot DIR as a content-addressed release and print its digest."""
    from shopfloor.config import ProjectFile
    from shopfloor.errors import UserError
    from shopfloor.release.deploy import Releaser
    from shopfloor.release.ledger import Ledger
    from shopfloor.release.releases import create_release

    results = None
    if validation is not None:
        try:
            results = json.loads(validation.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read validation results: {exc}", where=str(validation),
                            fix='write a JSON list like [{"name": "tests", "passed": true}]') from None
        if not isinstance(results, list) or not all(isinstance(r, dict) and "passed" in r for r in results):
            raise UserError("validation results must be a JSON list of objects with a 'passed' key",
                            where=str(validation), fix='e.g. [{"name": "tests", "passed": true}]')
    project = ProjectFile.load(config)
    with Ledger() as ledger:
        Releaser(project, ledger=ledger).recover()
        manifest, created = create_release(directory, project, ledger=ledger, run_id=run_id,
                                           revision=revision, validation=results, satisfaction=satisfaction)
    if as_json:
        typer.echo(json.dumps({**manifest.to_dict(), "created": created}, sort_keys=True))
    else:
        typer.echo(manifest.digest)


@release_app.command("stop-target")
def stop_target_command(target: str = TARGET_OPTION) -> None:
    """Stop a target's proxy and every service process it supervises."""
    from shopfloor.release.target_client import TargetClient

    typer.echo(f"stopped {target}" if TargetClient(target).stop() else f"{target} was not running")


def approve_command(
    run_id: str = typer.Argument(..., help="The run whose gate is waiting."),
    gate: str | None = typer.Argument(None, help="The gate node id (needed if several are waiting)."),
    approver: str | None = typer.Option(None, "--as", help=f"Approver identity (default: ${APPROVER_ENV} "
                                                          "or the login name)."),
    ttl: float | None = typer.Option(None, "--ttl", help="Seconds the approval stays usable (default 24 h)."),
    digest: str = typer.Option("", "--digest", help="The digest (prefix) you reviewed; refused if the gate "
                                                     "now waits on another."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve the artifact a gate is waiting on (bound to its digest and diff hash)."""
    from shopfloor.release import approvals
    from shopfloor.release.ledger import Ledger

    with Ledger() as ledger:
        d = approvals.decide(ledger, run_id, gate, approve=True, approver=_approver(approver),
                             ttl_s=approvals.DEFAULT_APPROVAL_TTL_S if ttl is None else ttl,
                             expect_digest=digest)
    _print_decision(d, as_json)


def reject_command(
    run_id: str = typer.Argument(..., help="The run whose gate is waiting."),
    gate: str | None = typer.Argument(None, help="The gate node id (needed if several are waiting)."),
    reason: str = typer.Option(..., "--reason", help="What must change."),
    approver: str | None = typer.Option(None, "--as", help="Reviewer identity."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject the artifact a gate is waiting on."""
    from shopfloor.release import approvals
    from shopfloor.release.ledger import Ledger

    with Ledger() as ledger:
        d = approvals.decide(ledger, run_id, gate, approve=False, approver=_approver(approver), reason=reason)
    _print_decision(d, as_json)


def _print_decision(d: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(d.__dict__, sort_keys=True))
    else:
        typer.echo(f"{d.decision} {d.run_id}/{d.gate}: digest {d.digest[:12]} diff {d.diff_hash[:12]} "
                   f"by {d.approver}")


def deploy_command(
    digest: str = typer.Argument(..., help="The release digest (or a unique prefix of 8+ characters)."),
    target: str = TARGET_OPTION,
    idempotency_key: str = typer.Option(..., "--idempotency-key",
                                        help="Unique per intended deploy; a retry with it returns the first "
                                             "result."),
    as_json: bool = JSON_OPTION,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Deploy a release to a target (canary or blue/green, with analysis and automatic rollback)."""
    _deployment_exit(_releaser(config).deploy(digest, target, idempotency_key), as_json)


def promote_command(target: str = TARGET_OPTION, as_json: bool = JSON_OPTION,
                    config: Path | None = CONFIG_OPTION) -> None:
    """Promote a canary whose analysis was inconclusive (a human's decision)."""
    _deployment_exit(_releaser(config).promote(target), as_json)


def rollback_command(
    target: str = TARGET_OPTION,
    to: str | None = typer.Option(None, "--to", help="Digest to restore (default: the last known good)."),
    as_json: bool = JSON_OPTION,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Abort a paused canary, or put the last known good release back on stable."""
    _deployment_exit(_releaser(config).rollback(target, to), as_json)


def releases_command(target: str = TARGET_OPTION, as_json: bool = JSON_OPTION,
                     config: Path | None = CONFIG_OPTION) -> None:
    """The deployment history of a target and what serves its traffic now."""
    report = _releaser(config).history(target)
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    typer.echo(f"target {target}: traffic {_traffic(report)}")
    for row in report["deployments"]:
        extra = f" restore {row['restore_s']:.3f}s" if row["restore_s"] is not None else ""
        typer.echo(f"  {row['deployment_id']}  {row['kind']:<8} {row['state']:<12} "
                   f"{row['digest'][:12]}{extra}")


def drift_command(target: str = TARGET_OPTION, as_json: bool = JSON_OPTION,
                  config: Path | None = CONFIG_OPTION) -> None:
    """Report a live target that differs from the ledger, or a context that moved since validation."""
    from shopfloor.release.errors import EXIT_DRIFT

    report = _releaser(config).drift_report(target)
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
    elif not report["drifted"]:
        typer.echo(f"target {target}: no drift")
    else:
        typer.echo(f"target {target}: drift")
        for item in report["items"]:
            typer.echo(f"  {item['item']}: ledger {item['ledger']} / live {item['live']}")
    if report["drifted"]:
        raise typer.Exit(EXIT_DRIFT)


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
    app.command("approve")(approve_command)
    app.command("reject")(reject_command)
    app.command("deploy")(deploy_command)
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)
    app.command("releases")(releases_command)
    app.command("drift")(drift_command)
