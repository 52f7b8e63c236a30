"""Routing rules: which Slack channels hear about a Jira issue event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PRIORITIES = ["Lowest", "Low", "Medium", "High", "Highest"]
NOTIFIED_EVENTS = ["jira:issue_created", "jira:issue_updated"]


@dataclass(frozen=True)
class Rule:
    channel: str
    project: str = "*"
    min_priority: str = "Lowest"
    mention: str = ""


@dataclass(frozen=True)
class Route:
    channel: str
    mention: str


def rank(priority: str) -> int:
    """Position of a priority in PRIORITIES; unknown priorities rank as Medium."""
    if priority in PRIORITIES:
        return PRIORITIES.index(priority)
    return PRIORITIES.index("Medium")


def load_rules(path: Path) -> list[Rule]:
    data = json.loads(Path(path).read_text())
    return [Rule(**entry) for entry in data["rules"]]


def matches(rule: Rule, project: str, priority: str) -> bool:
    if rule.project not in ("*", project):
        return False
    return rank(priority) >= rank(rule.min_priority) + 1


def routes_for(rules: list[Rule], event_type: str, project: str, priority: str) -> list[Route]:
    """Every matching rule's channel, once each, in rule order."""
    if event_type in NOTIFIED_EVENTS:
        return []
    routes: list[Route] = []
    seen: set[str] = set()
    for rule in rules:
        if matches(rule, project, priority) and rule.channel not in seen:
            seen.add(rule.channel)
            routes.append(Route(rule.channel, rule.mention))
    return routes
