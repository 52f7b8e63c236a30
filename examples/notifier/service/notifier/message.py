"""The text of a Slack notification for a Jira issue."""

from __future__ import annotations

from typing import Any

MAX_SUMMARY_CHARS = 120


def issue_fields(event: dict[str, Any]) -> tuple[str, str, str, str]:
    """(key, project key, priority name, summary) of the issue in a Jira webhook payload."""
    issue = event["issue"]
    fields = issue.get("fields", {})
    priority = (fields.get("priority") or {}).get("name", "Medium")
    project = (fields.get("project") or {}).get("key") or issue["key"].split("-")[0]
    return issue["key"], project, priority, fields.get("summary", "")


def render(event: dict[str, Any], mention: str, jira_url: str) -> str:
    key, _, priority, summary = issue_fields(event)
    if len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[: MAX_SUMMARY_CHARS - 1] + "…"
    action = "updated" if event.get("webhookEvent") == "jira:issue_updated" else "created"
    prefix = f"{mention} " if mention else ""
    return f"{prefix}[{priority}] {key} {action}: {summary} <{jira_url}/browse/{key}>"
