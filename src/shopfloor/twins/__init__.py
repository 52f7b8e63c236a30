"""Digital twins of third-party services (Slack, Jira, Okta, AWS via moto), with chaos injection."""
