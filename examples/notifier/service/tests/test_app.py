from notifier.app import Notifier
from notifier.rules import Rule
from notifier.slack import SlackClient, SlackError


class RecordingSlack(SlackClient):
    def __init__(self, fail_channels=()):
        super().__init__("http://unused/", "token")
        self.posts = []
        self.fail_channels = set(fail_channels)

    def post_message(self, channel, text):
        if channel in self.fail_channels:
            raise SlackError("channel_not_found")
        self.posts.append((channel, text))
        return {"ok": True}


EVENT = {"webhookEvent": "jira:issue_created",
         "issue": {"key": "OPS-1", "fields": {"summary": "Disk full", "priority": {"name": "Highest"},
                                              "project": {"key": "OPS"}}}}
RULES = [Rule(channel="incidents", min_priority="Highest", mention="<!here>"),
         Rule(channel="triage", min_priority="Medium")]


def test_event_is_posted_to_each_routed_channel():
    slack = RecordingSlack()
    notified = Notifier(RULES, slack, "https://jira").handle(EVENT)
    assert notified == ["incidents", "triage"]
    assert slack.posts[0][1].startswith("<!here> [Highest] OPS-1 created")


def test_a_failing_channel_does_not_stop_the_others():
    slack = RecordingSlack(fail_channels={"incidents"})
    notifier = Notifier(RULES, slack, "https://jira")
    assert notifier.handle(EVENT) == ["triage"]
    assert (notifier.delivered, notifier.failed) == (1, 1)
