from tests.support.twins import aws_twin, jira_twin, okta_twin, slack_twin, twin_fleet

__all__ = ["aws_twin", "jira_twin", "okta_twin", "slack_twin", "twin_fleet"]
