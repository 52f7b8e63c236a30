"""Fault injection on the canary (game days): healthy at first, then the proxy aborts part of its requests;
the built-in analysis traffic sees it, the analysis fails and all traffic returns to stable by itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from shopfloor.assembly import registry_factory
from shopfloor.config import ProjectFile
from shopfloor.observe.eventlog import read_events
from shopfloor.pipeline.interviewer import QueueInterviewer
from shopfloor.pipeline.prepare import prepare_pipeline
from shopfloor.pipeline.runner import start_run
from shopfloor.release.deploy import Releaser
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from shopfloor.release.target_client import TargetClient
from tests.support.release import ERROR_RATE_METRIC, make_service, starts, target_toml

#: 40 requests/s through the proxy, half to the canary: ~10 canary requests per 0.5 s measurement.
TRAFFIC = "traffic = { path = \"/work\", rate_per_s = 40 }\n"
FAULT = """
[targets.fault]
abort_rate = 0.5
after_requests = 12
"""


def _config(fault: str = FAULT, count: int = 8) -> str:
    toml = target_toml(steps="[50]", interval_s=0.5, count=count, min_requests=3)
    return toml + TRAFFIC + ERROR_RATE_METRIC + fault


def _release(project: Path, version: str) -> str:
    with Ledger() as ledger:
        return create_release(make_service(project.parent / version, version), ProjectFile.load(),
                              ledger=ledger)[0].digest


def test_a_fault_starting_partway_through_the_canary_rolls_it_back(project: Path) -> None:
    (project / "shopfloor.toml").write_text(_config())
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    events: list[tuple[str, dict[str, Any]]] = []
    releaser = Releaser(ProjectFile.load(), on_progress=lambda kind, data: events.append((kind, data)))
    port = releaser.deploy(v1, "web", "one")["proxy_port"]  # a first deploy: no canary, no fault
    result = releaser.deploy(v2, "web", "two")  # nothing else sends traffic: only the built-in generator

    assert result["state"] == "rolled_back" and result["verdict"] == "Failed", result
    measurements = result["analyses"][0]["measurements"]
    assert measurements[0]["verdict"] == "Successful" and measurements[0]["value"] == 0.0  # healthy at first
    assert measurements[-1]["verdict"] == "Failed" and measurements[-1]["value"] > 0.05
    fault = result["fault"]
    assert fault["active"] and fault["abort_rate"] == 0.5 and fault["after_requests"] == 12
    assert fault["requests"] > 12 and fault["aborted"] == fault["faulted"] // 2 > 0
    traffic = result["analyses"][0]["traffic"]
    # 503s came from the proxy (the service never answers 503), and the generator stayed within its bound.
    assert traffic["statuses"]["503"] == fault["aborted"] and traffic["statuses"]["200"] > 0
    assert traffic["sent"] <= 40 * 0.5 * 8
    assert 0 < result["restore_s"] < 5
    assert result["traffic"] == [{"digest": v1, "role": "stable", "weight": 100}]
    assert "canary" not in TargetClient("web").state()["backends"]
    with httpx.Client(timeout=5) as client:  # stable never had the fault
        answers = [client.get(f"http://127.0.0.1:{port}/work") for _ in range(20)]
    assert {(a.status_code, a.text) for a in answers} == {(200, "v1\n")}
    phases = [d["phase"] for kind, d in events if kind == "release.fault"]
    assert phases == ["armed", "measured"]
    with Ledger() as ledger:
        assert ledger.deployment(result["deployment_id"]).fault == {
            "abort_rate": 0.5, "delay_ms": 0.0, "after_s": 0.0, "after_requests": 12}
    assert releaser.history("web")["deployments"][-1]["fault"]["abort_rate"] == 0.5
    assert starts(project.parent) == ["v1", "v2"]


def test_built_in_traffic_makes_a_healthy_canary_conclusive(project: Path) -> None:
    # Without it nothing reaches the canary and the deployment would pause for a human.
    (project / "shopfloor.toml").write_text(_config(fault="", count=2))
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    releaser = Releaser(ProjectFile.load())
    releaser.deploy(v1, "web", "one")
    result = releaser.deploy(v2, "web", "two")
    assert result["state"] == "succeeded" and result["verdict"] == "Successful", result
    assert "fault" not in result
    traffic = result["analyses"][0]["traffic"]
    assert traffic["url"].endswith("/work") and set(traffic["statuses"]) == {"200"}
    assert all(m["verdict"] == "Successful" for m in result["analyses"][0]["measurements"])


PIPELINE = """
digraph gameday {
  start  [shape=Mdiamond]
  deploy [type="shopfloor.deploy", target="web", fault_abort_rate="1", fault_delay_ms="20",
          fault_after_requests="5"]
  done   [shape=Msquare]
  start -> deploy -> done
}
"""


def test_a_deploy_node_injects_a_fault_and_the_run_records_it(project: Path) -> None:
    (project / "shopfloor.toml").write_text(_config(fault=""))  # the target itself declares no fault
    v1, v2 = _release(project, "v1"), _release(project, "v2")
    Releaser(ProjectFile.load()).deploy(v1, "web", "one")
    logs = project.parent / "run"
    result = start_run(prepare_pipeline(PIPELINE, handler_types=["shopfloor.deploy"]), logs_root=logs,
                       registry_factory=registry_factory("simulate"), interviewer=QueueInterviewer([]),
                       config=ProjectFile.load(), initial_context={"release.digest": v2})
    assert result.status == "fail" and result.context["release.state"] == "rolled_back"
    status = json.loads((logs / "deploy" / "status.json").read_text())
    assert "canary analysis failed at step 0" in status["failure_reason"]
    faults = [e.data for e in read_events(logs / "events.jsonl") if e.kind == "release.fault"]
    assert [f["phase"] for f in faults] == ["armed", "measured"]
    measured = faults[-1]
    assert measured["abort_rate"] == 1.0 and measured["delay_ms"] == 20.0 and measured["verdict"] == "Failed"
    assert measured["aborted"] == measured["faulted"] > 0 and measured["delayed"] == measured["faulted"]


def test_validate_flags_a_deploy_node_fault_out_of_range() -> None:
    from shopfloor.pipeline.parser import parse_dot
    from shopfloor.release.handlers import lint_rules

    graph = parse_dot('digraph g { d [type="shopfloor.deploy", target="web", fault_abort_rate="1.5"] }')
    (diagnostic,) = [d for rule in lint_rules() for d in rule.apply(graph)]
    assert diagnostic.node_id == "d" and "fault_abort_rate='1.5'" in diagnostic.message
    assert "between 0 and 1" in diagnostic.fix
