from pathlib import Path

from notifier.rules import Rule, load_rules, rank, routes_for

RULES = load_rules(Path(__file__).parent.parent / "rules.json")


def channels(event_type: str, project: str, priority: str) -> list[str]:
    return [r.channel for r in routes_for(RULES, event_type, project, priority)]


def test_high_payments_issue_pages_oncall_and_reaches_triage():
    routed = channels("jira:issue_created", "PAY", "High")
    assert "payments-oncall" in routed and "triage" in routed


def test_highest_issue_in_any_project_is_an_incident():
    assert channels("jira:issue_created", "OPS", "Highest") == ["incidents", "triage"]


def test_lowest_priority_issue_is_not_routed():
    assert channels("jira:issue_created", "OPS", "Lowest") == []


def test_comment_events_are_not_notified():
    assert channels("comment_created", "PAY", "Highest") == []


def test_oncall_mention_is_carried_on_the_route():
    routes = routes_for(RULES, "jira:issue_created", "PAY", "Highest")
    assert routes[0].mention == "<!subteam^oncall>"


def test_unknown_priority_ranks_as_medium():
    assert rank("Blocker") == rank("Medium")


def test_wildcard_rule_matches_every_project():
    rules = [Rule(channel="all", project="*", min_priority="Lowest")]
    assert [r.channel for r in routes_for(rules, "jira:issue_updated", "ANY", "Lowest")] == ["all"]
