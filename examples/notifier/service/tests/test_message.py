from notifier.message import issue_fields, render


def event(key="PAY-7", priority="High", summary="Card payments failing", kind="jira:issue_created"):
    return {"webhookEvent": kind,
            "issue": {"key": key, "fields": {"summary": summary, "priority": {"name": priority},
                                             "project": {"key": key.split("-")[0]}}}}


def test_fields_are_read_from_the_webhook():
    assert issue_fields(event()) == ("PAY-7", "PAY", "High", "Card payments failing")


def test_message_names_priority_key_and_links_the_issue():
    text = render(event(), "", "https://jira.example.com")
    assert text == "[High] PAY-7 created: Card payments failing <https://jira.example.com/browse/PAY-7>"


def test_mention_prefixes_the_message():
    assert render(event(), "<!here>", "https://j").startswith("<!here> [High] PAY-7")


def test_long_summaries_are_cut():
    text = render(event(summary="x" * 500), "", "https://j")
    assert len(text) < 200 and "…" in text
