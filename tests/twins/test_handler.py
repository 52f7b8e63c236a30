"""The `shopfloor.twins` pipeline node: twins up for the rest of the run, URLs in the context."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import httpx
import pytest

from shopfloor import assembly
from shopfloor.config import ProjectFile
from shopfloor.pipeline.interviewer import AutoApproveInterviewer
from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.runner import start_run

# The tool node plays the service under test: it finds the twins in twins.json and posts to Slack.
POST_TO_SLACK = """
import json, sys, urllib.request, urllib.parse
twins = json.load(open(sys.argv[1]))
slack = twins["slack"]
token = next(iter(slack["credentials"]["tokens"]))
data = urllib.parse.urlencode({"channel": "#general", "text": "deployed"}).encode()
req = urllib.request.Request(slack["base_url"] + "chat.postMessage", data=data,
                             headers={"Authorization": "Bearer " + token})
print(json.load(urllib.request.urlopen(req))["ok"])
"""


def pipeline(tmp_path: Path, twins_attr: str) -> str:
    script = tmp_path / "post.py"
    script.write_text(POST_TO_SLACK)
    twins_json = tmp_path / "run" / "twins" / "twins.json"
    return f"""digraph t {{
      start [shape=Mdiamond]
      twins [type="shopfloor.twins"{twins_attr}]
      post [shape=parallelogram, sandbox="false", tool_command="{sys.executable} {script} {twins_json}"]
      exit [shape=Msquare]
      start -> twins -> post -> exit
    }}"""


def run(tmp_path: Path, dot: str, config: ProjectFile | None = None):
    return start_run(
        parse_dot(dot),
        logs_root=tmp_path / "run",
        registry_factory=assembly.registry_factory("simulate"),
        interviewer=AutoApproveInterviewer(),
        config=config,
    )


def test_twins_node_serves_the_run_and_stops_with_it(tmp_path: Path) -> None:
    result = run(tmp_path, pipeline(tmp_path, ', twins="slack,jira"'))
    assert result.status == "success", result.outcome.failure_reason
    assert result.context["tool.output"].strip() == "True"
    slack_url = result.context["twins.slack.url"]
    assert result.context["twins.slack.base_url"] == slack_url + "/api/"
    assert int(slack_url.rsplit(":", 1)[1]) in result.context["twins.ports"]
    assert result.context["twins.jira.basic_auth"][0]["email"] == "admin@example.com"
    described = json.loads((tmp_path / "run" / "twins" / "twins.json").read_text())
    assert set(described) == {"slack", "jira"}
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    started = [e for e in events if e["kind"] == "twins.started"]
    assert started and started[0]["data"]["twins"]["slack"]["url"] == slack_url
    with pytest.raises(httpx.ConnectError):  # the run is over, so are its twins
        httpx.get(slack_url + "/_twin/health", timeout=2)
    stage = tmp_path / "run" / "twins"
    assert f"SLACK_API_URL={slack_url}/api/" in (stage / "twins.env").read_text().splitlines()
    assert result.context["twins.jira.env"]["JIRA_URL"] == result.context["twins.jira.url"]
    posted = [json.loads(line) for line in (stage / "journal-slack.jsonl").read_text().splitlines()]
    assert [(e["path"], e["status"]) for e in posted] == [("/api/chat.postMessage", 200)]
    assert "text=deployed" in posted[0]["body"]


def test_config_section_supplies_names_and_seed(tmp_path: Path) -> None:
    (tmp_path / "seed.yaml").write_text(
        "slack:\n  tokens: {xoxb-from-config: {user: shopbot}}\n"
        "  channels: [{name: general, members: [shopbot]}]\n"
    )
    with socket.socket() as probe:  # a port that was free a moment ago, as a user would pick one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "shopfloor.toml").write_text(
        f'[twins]\nstart = ["slack"]\nseed = "seed.yaml"\nports = {{slack = {port}}}\n'
    )
    result = run(tmp_path, pipeline(tmp_path, ""), ProjectFile.load(tmp_path / "shopfloor.toml"))
    assert result.status == "success", result.outcome.failure_reason
    assert list(result.context["twins.slack.tokens"]) == ["xoxb-from-config"]
    assert result.context["twins.slack.url"] == f"http://127.0.0.1:{port}"
    assert result.context["twins.ports"] == [port]


def test_bad_twin_name_fails_the_node_with_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, pipeline(tmp_path, ', twins="slack,nope"'))
    assert result.status == "fail"
    assert result.node_outcomes.get("twins") == "fail"
    assert "unknown twin 'nope'" in result.outcome.failure_reason


def test_lint_rule_flags_unknown_twin_names() -> None:
    from shopfloor.twins.handler import lint_rules

    graph = parse_dot('digraph t { a [type="shopfloor.twins", twins="slack, jria, pkg.mod:MyTwin"] }')
    (diagnostic,) = [d for rule in lint_rules() for d in rule.apply(graph)]
    assert diagnostic.node_id == "a" and "unknown twin 'jria'" in diagnostic.message
