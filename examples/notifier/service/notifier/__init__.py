"""notifier: turns Jira issue events into Slack notifications, routed by project and priority."""
