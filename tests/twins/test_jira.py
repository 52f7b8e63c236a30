"""The Jira twin through the official `jira` package, asserting Jira Cloud's documented behaviour."""

from __future__ import annotations

import json

import httpx
import pytest
from jira import JIRA, JIRAError

from shopfloor.twins.runner import RunningTwin
from tests.support.twins import JIRA_API_TOKEN, JIRA_EMAIL


def connect(twin: RunningTwin, **options) -> JIRA:
    return JIRA(
        server=twin.url, basic_auth=(JIRA_EMAIL, JIRA_API_TOKEN), options=options or None, max_retries=0
    )


def jira_error(call) -> JIRAError:
    with pytest.raises(JIRAError) as info:
        call()
    return info.value


SEED = {
    "jira": {
        "users": [
            {"email": JIRA_EMAIL, "name": "Admin", "api_token": JIRA_API_TOKEN},
            {"email": "dev@example.com", "name": "Dev Eloper"},
        ],
        "projects": [{"key": "OPS", "name": "Operations"}, {"key": "WEB", "name": "Website"}],
        "issues": [
            {
                "project": "OPS",
                "summary": "Disk full on db1",
                "priority": "Highest",
                "labels": ["infra", "db"],
                "assignee": "dev@example.com",
                "status": "In Progress",
            },
            {"project": "OPS", "summary": "Rotate TLS certs", "priority": "Low", "labels": ["infra"]},
            {"project": "OPS", "summary": "Flaky deploy", "priority": "High", "issuetype": {"name": "Bug"}},
            {
                "project": "WEB",
                "summary": "Broken footer link",
                "priority": "Medium",
                "labels": ["frontend"],
                "status": "Done",
            },
        ],
    }
}


@pytest.fixture
def seeded(twin_fleet) -> RunningTwin:
    return twin_fleet(["jira"], seed=SEED)["jira"]


def keys(issues) -> list[str]:
    return [issue.key for issue in issues]


def test_create_get_and_edit_issue(jira_twin: RunningTwin) -> None:
    jira = connect(jira_twin)
    assert [p.key for p in jira.projects()] == ["OPS"]
    issue = jira.create_issue(
        project="OPS",
        summary="Disk full",
        issuetype={"name": "Bug"},
        priority={"name": "High"},
        labels=["infra"],
        description="db1 at 99%",
    )
    assert issue.key == "OPS-1"
    fetched = jira.issue("OPS-1")
    assert fetched.fields.summary == "Disk full" and fetched.fields.issuetype.name == "Bug"
    assert fetched.fields.status.name == "To Do" and fetched.fields.status.statusCategory.key == "new"
    assert fetched.fields.reporter.emailAddress == JIRA_EMAIL and fetched.fields.assignee is None
    assert fetched.fields.created == "2024-01-01T00:00:00.000+0000"
    fetched.update(fields={"summary": "Disk full on db1", "labels": ["infra", "db"]})
    again = jira.issue("OPS-1")
    assert again.fields.summary == "Disk full on db1" and again.fields.labels == ["infra", "db"]
    assert jira.create_issue(project="OPS", summary="next", issuetype={"name": "Task"}).key == "OPS-2"


def test_validation_errors_use_jiras_error_body(jira_twin: RunningTwin) -> None:
    jira = connect(jira_twin)
    missing = jira_error(lambda: jira.create_issue(project="OPS", summary="", issuetype={"name": "Bug"}))
    assert missing.status_code == 400
    assert missing.response.json() == {
        "errorMessages": [],
        "errors": {"summary": "You must specify a summary of the issue."},
    }
    unknown = jira_error(lambda: jira.issue("OPS-99"))
    assert unknown.status_code == 404
    assert unknown.response.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]
    assert "No project could be found with key 'NOPE'." in jira_error(lambda: jira.project("NOPE")).text
    bad_label = jira_error(
        lambda: jira.create_issue(
            project="OPS", summary="x", issuetype={"name": "Task"}, labels=["two words"]
        )
    )
    assert (
        bad_label.response.json()["errors"]["labels"]
        == "The label 'two words' contains spaces which is invalid."
    )


def test_wrong_credentials_get_jiras_401(jira_twin: RunningTwin) -> None:
    err = jira_error(lambda: JIRA(server=jira_twin.url, basic_auth=(JIRA_EMAIL, "wrong"), max_retries=0))
    assert err.status_code == 401
    assert "Client must be authenticated" in err.text


def test_jql_search_filters_and_orders(seeded: RunningTwin) -> None:
    jira = connect(seeded)
    assert keys(jira.search_issues("project = OPS ORDER BY priority DESC")) == ["OPS-1", "OPS-3", "OPS-2"]
    assert keys(jira.search_issues("project = OPS ORDER BY priority ASC")) == ["OPS-2", "OPS-3", "OPS-1"]
    assert keys(jira.search_issues('status = "In Progress"')) == ["OPS-1"]
    assert keys(jira.search_issues("labels = infra AND priority in (Highest, High) ORDER BY key")) == [
        "OPS-1"
    ]
    assert keys(jira.search_issues("project = WEB OR labels = db ORDER BY key ASC")) == ["OPS-1", "WEB-1"]
    assert keys(jira.search_issues("assignee = 'dev@example.com'")) == ["OPS-1"]
    assert keys(jira.search_issues("project = OPS AND assignee is EMPTY ORDER BY key")) == ["OPS-2", "OPS-3"]
    assert keys(jira.search_issues("project = OPS AND labels != db ORDER BY key")) == ["OPS-2"]
    assert keys(jira.search_issues("issuetype = Bug")) == ["OPS-3"]
    assert keys(jira.search_issues("summary ~ deploy")) == ["OPS-3"]
    assert keys(jira.search_issues("statusCategory = Done")) == ["WEB-1"]
    assert keys(
        jira.search_issues("project = OPS AND (priority = Low OR status = 'In Progress') ORDER BY key DESC")
    ) == ["OPS-2", "OPS-1"]
    assert keys(jira.search_issues("project in (OPS, WEB) AND NOT labels = infra ORDER BY key")) == [
        "OPS-3",
        "WEB-1",
    ]


def test_jql_errors_are_jiras(seeded: RunningTwin) -> None:
    jira = connect(seeded)
    cases = {
        "project = NOPE": "The value 'NOPE' does not exist for the field 'project'.",
        "colour = red": "Field 'colour' does not exist or you do not have permission to view it.",
        "project = ORDER": "Expecting either a value, list or function but got 'ORDER'",
        "priority ~ High": "The operator '~' is not supported by the 'priority' field.",
        "ORDER BY key": "Unbounded JQL queries are not allowed here.",
    }
    for jql, message in cases.items():
        err = jira_error(lambda q=jql: jira.search_issues(q))
        assert err.status_code == 400 and message in err.response.json()["errorMessages"][0], jql


def test_search_paginates_with_next_page_token(seeded: RunningTwin) -> None:
    jira = connect(seeded)
    first = jira.enhanced_search_issues("project in (OPS, WEB) ORDER BY key", maxResults=3)
    assert keys(first) == ["OPS-1", "OPS-2", "OPS-3"] and first.nextPageToken
    second = jira.enhanced_search_issues(
        "project in (OPS, WEB) ORDER BY key", maxResults=3, nextPageToken=first.nextPageToken
    )
    assert keys(second) == ["WEB-1"] and second.nextPageToken is None
    everything = jira.search_issues("project in (OPS, WEB) ORDER BY key", maxResults=False)
    assert keys(everything) == ["OPS-1", "OPS-2", "OPS-3", "WEB-1"]
    raw = httpx.get(
        f"{seeded.url}/rest/api/3/search/jql",
        params={"jql": "project = OPS", "maxResults": 1},
        auth=(JIRA_EMAIL, JIRA_API_TOKEN),
    ).json()
    assert (
        raw["issues"][0].keys() >= {"id", "key"} and "fields" not in raw["issues"][0]
    )  # default is ids only
    removed = httpx.get(
        f"{seeded.url}/rest/api/2/search", params={"jql": "project = OPS"}, auth=(JIRA_EMAIL, JIRA_API_TOKEN)
    )
    assert removed.status_code == 410


def test_transitions_and_comments(seeded: RunningTwin) -> None:
    jira = connect(seeded)
    names = sorted(t["name"] for t in jira.transitions("OPS-2"))
    assert names == ["Done", "In Progress"]  # no transition to the status it is already in
    jira.transition_issue("OPS-2", "In Progress")
    jira.transition_issue("OPS-2", "Done", comment="rotated")
    issue = jira.issue("OPS-2")
    assert issue.fields.status.name == "Done" and issue.fields.resolution.name == "Done"
    assert issue.fields.resolutiondate is not None
    bad = jira_error(lambda: jira.transition_issue("OPS-2", "31"))
    assert bad.response.json()["errorMessages"] == ["Transition id '31' is not valid for this issue."]
    jira.add_comment("OPS-2", "confirmed by monitoring")
    assert [c.body for c in jira.comments("OPS-2")] == ["rotated", "confirmed by monitoring"]
    assert keys(jira.search_issues("status = Done ORDER BY key")) == ["OPS-2", "WEB-1"]
    assert keys(jira.search_issues("text ~ monitoring")) == ["OPS-2"]


def test_v3_requires_atlassian_document_format(jira_twin: RunningTwin) -> None:
    v3 = connect(jira_twin, rest_api_version="3")
    err = jira_error(
        lambda: v3.create_issue(
            project="OPS", summary="x", issuetype={"name": "Task"}, description="plain text"
        )
    )
    assert err.response.json()["errors"]["description"].startswith(
        "Operation value must be an Atlassian Document"
    )
    adf = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hello"}]}],
    }
    created = v3.create_issue(project="OPS", summary="x", issuetype={"name": "Task"}, description=adf)
    assert v3.issue(created.key).raw["fields"]["description"] == adf
    assert connect(jira_twin).issue(created.key).fields.description == "hello"  # v2 renders plain text


def test_issue_events_are_sent_as_webhooks(twin_fleet, webhook_receiver) -> None:
    url, received = webhook_receiver
    twin = twin_fleet(["jira"], seed={"jira": {"webhooks": [{"url": url}]}})["jira"]
    jira = connect(twin)
    issue = jira.create_issue(project="OPS", summary="Page on-call", issuetype={"name": "Task"})
    jira.transition_issue(issue, "Done")
    assert twin.twin.webhooks.wait_idle()
    events = [json.loads(r.body) for r in received]
    assert [e["webhookEvent"] for e in events] == ["jira:issue_created", "jira:issue_updated"]
    assert events[0]["issue"]["key"] == "OPS-1" and events[0]["issue_event_type_name"] == "issue_created"
    assert events[1]["changelog"]["items"][0]["toString"] == "Done"
    assert [d["status"] for d in twin.twin.webhooks.deliveries] == [200, 200]
