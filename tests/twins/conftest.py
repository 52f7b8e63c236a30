from tests.support.twins import aws_twin, jira_twin, okta_twin, slack_twin, twin_fleet, webhook_receiver

__all__ = ["aws_twin", "jira_twin", "okta_twin", "slack_twin", "twin_fleet", "webhook_receiver"]
