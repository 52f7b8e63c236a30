"""The Slack twin through the official slack_sdk.WebClient, asserting Slack's documented behaviour."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from shopfloor.twins.runner import RunningTwin
from tests.support.twins import SLACK_BOT_TOKEN, SLACK_USER_TOKEN


def client(twin: RunningTwin, token: str = SLACK_BOT_TOKEN, **kw) -> WebClient:
    return WebClient(token=token, base_url=twin.base_url, timeout=5, **kw)


def slack_error(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


def test_post_and_read_back_messages_newest_first(slack_twin: RunningTwin) -> None:
    bot = client(slack_twin)
    me = bot.auth_test()
    assert me["user"] == "shopbot" and me["bot_id"].startswith("B")
    first = bot.chat_postMessage(channel="#general", text="deploy started")
    second = bot.chat_postMessage(channel=first["channel"], text="deploy done", thread_ts=first["ts"])
    assert first["message"]["text"] == "deploy started" and first["message"]["user"] == me["user_id"]
    assert float(second["ts"]) > float(first["ts"])
    history = bot.conversations_history(channel=first["channel"])
    assert [m["text"] for m in history["messages"]] == ["deploy done", "deploy started"]
    assert history["messages"][0]["thread_ts"] == first["ts"]
    assert history["messages"][1]["reply_count"] == 1

    bot.chat_update(channel=first["channel"], ts=first["ts"], text="deploy started (v2)")
    bot.reactions_add(channel=first["channel"], name="rocket", timestamp=first["ts"])
    again = slack_error(
        lambda: bot.reactions_add(channel=first["channel"], name="rocket", timestamp=first["ts"])
    )
    assert again.response["error"] == "already_reacted"
    bot.chat_delete(channel=first["channel"], ts=second["ts"])
    (only,) = bot.conversations_history(channel=first["channel"])["messages"]
    assert only["text"] == "deploy started (v2)" and only["edited"]["user"] == me["user_id"]
    assert only["reactions"] == [{"name": "rocket", "users": [me["user_id"]], "count": 1}]


def test_history_paginates_with_cursor_and_has_more(slack_twin: RunningTwin) -> None:
    bot = client(slack_twin)
    channel = bot.conversations_info(channel="general")["channel"]["id"]
    for i in range(5):
        bot.chat_postMessage(channel=channel, text=f"m{i}")
    page = bot.conversations_history(channel=channel, limit=2)
    assert page["has_more"] is True and page["response_metadata"]["next_cursor"]
    texts = [m["text"] for p in bot.conversations_history(channel=channel, limit=2) for m in p["messages"]]
    assert texts == ["m4", "m3", "m2", "m1", "m0"]
    bad = slack_error(lambda: bot.conversations_history(channel=channel, cursor="bm9wZTp4"))
    assert bad.response["error"] == "invalid_cursor"


def test_users_and_conversations_paginate(slack_twin: RunningTwin) -> None:
    bot = client(slack_twin)
    # SlackResponse iterates by refilling itself, so read each page inside the loop.
    pages = [
        ([m["name"] for m in page["members"]], page["response_metadata"]["next_cursor"])
        for page in bot.users_list(limit=1)
    ]
    assert len(pages) == 3 and pages[-1][1] == "" and all(cursor for _, cursor in pages[:-1])
    assert sorted(name for names, _ in pages for name in names) == ["alice", "bob", "shopbot"]
    bot.conversations_create(name="deploys")
    names = [c["name"] for p in bot.conversations_list(limit=1) for c in p["channels"]]
    assert sorted(names) == ["deploys", "general", "random"]
    members = [m for p in bot.conversations_members(channel="general", limit=2) for m in p["members"]]
    assert len(members) == 3


def test_users_info_and_lookup_by_email(slack_twin: RunningTwin) -> None:
    bot = client(slack_twin)
    alice = bot.users_lookupByEmail(email="alice@example.com")["user"]
    assert alice["real_name"] == "Alice Adams"
    assert bot.users_info(user=alice["id"])["user"]["profile"]["email"] == "alice@example.com"
    assert (
        slack_error(lambda: bot.users_lookupByEmail(email="nobody@example.com")).response["error"]
        == "users_not_found"
    )
    assert slack_error(lambda: bot.users_info(user="U000")).response["error"] == "user_not_found"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_errors_use_slacks_ok_false_envelope_and_codes(slack_twin: RunningTwin) -> None:
    bot = client(slack_twin)
    wrong = slack_error(lambda: client(slack_twin, token="xoxb-wrong").auth_test())
    assert wrong.response.status_code == 200  # Slack reports auth errors in the body, not the status
    assert wrong.response.data == {"ok": False, "error": "invalid_auth"}
    assert (
        slack_error(lambda: WebClient(base_url=slack_twin.base_url).auth_test()).response["error"]
        == "not_authed"
    )
    assert (
        slack_error(lambda: bot.chat_postMessage(channel="#nope", text="x")).response["error"]
        == "channel_not_found"
    )
    # The bot is not in #random and has no chat:write.public scope.
    assert (
        slack_error(lambda: bot.chat_postMessage(channel="#random", text="x")).response["error"]
        == "not_in_channel"
    )
    assert (
        slack_error(lambda: bot.chat_postMessage(channel="#general", text="")).response["error"] == "no_text"
    )
    assert (
        slack_error(lambda: bot.conversations_create(name="General Chat")).response["error"]
        == "invalid_name_specials"
    )
    assert slack_error(lambda: bot.conversations_create(name="general")).response["error"] == "name_taken"
    joined = bot.conversations_join(channel="random")
    assert joined["channel"]["is_member"] is True
    assert bot.conversations_join(channel="random")["warning"] == "already_in_channel"
    assert bot.chat_postMessage(channel="#random", text="now I may")["ok"] is True
    # A user token with chat:write.public may post where it is not a member.
    human = client(slack_twin, token=SLACK_USER_TOKEN)
    posted = bot.chat_postMessage(channel="#general", text="bot message")
    denied = slack_error(lambda: human.chat_update(channel=posted["channel"], ts=posted["ts"], text="hijack"))
    assert denied.response["error"] == "cant_update_message"


def test_token_scopes_are_enforced(twin_fleet) -> None:
    seed = {"slack": {"tokens": {"xoxb-readonly": {"user": "shopbot", "scopes": ["channels:read"]}}}}
    slack = twin_fleet(["slack"], seed=seed)["slack"]
    readonly = client(slack, token="xoxb-readonly")
    assert readonly.conversations_list()["ok"] is True
    err = slack_error(lambda: readonly.chat_postMessage(channel="#general", text="x")).response
    assert err["error"] == "missing_scope" and err["needed"] == "chat:write"


def test_rate_limit_429_is_retried_by_the_sdk_handler(twin_fleet) -> None:
    chaos = {
        "twins": {
            "slack": {
                "routes": {
                    "POST /api/chat.postMessage": {
                        "rate_limit": {"rate": 1.0, "burst": 2, "retry_after_s": 0}
                    }
                }
            }
        }
    }
    slack = twin_fleet(["slack"], chaos=chaos)["slack"]
    plain = client(slack)
    limited = slack_error(lambda: plain.chat_postMessage(channel="#general", text="x"))
    assert limited.response.status_code == 429
    assert limited.response["error"] == "ratelimited"
    assert limited.response.headers["Retry-After"] == "0"

    slack.reset()
    patient = client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    assert patient.chat_postMessage(channel="#general", text="eventually")["ok"] is True
    posts = slack.twin.journal.entries(path="/api/chat.postMessage")
    assert [e.status for e in posts] == [429, 429, 200]
    assert [e.fault for e in posts] == ["rate_limit", "rate_limit", None]


def test_events_api_callbacks_are_signed_like_slacks(twin_fleet, webhook_receiver) -> None:
    url, received = webhook_receiver
    slack = twin_fleet(["slack"], seed={"slack": {"events": {"url": url, "signing_secret": "s3cret"}}})[
        "slack"
    ]
    assert slack.credentials()["signing_secret"] == "s3cret"
    bot = client(slack)
    posted = bot.chat_postMessage(channel="#general", text="build green")
    bot.reactions_add(channel=posted["channel"], name="white_check_mark", timestamp=posted["ts"])
    bot.conversations_create(name="incidents")
    assert slack.twin.webhooks.wait_idle()
    verifier = SignatureVerifier("s3cret")
    for delivery in received:
        assert verifier.is_valid_request(delivery.body, delivery.headers)
    assert not SignatureVerifier("wrong").is_valid_request(received[0].body, received[0].headers)
    events = [json.loads(d.body) for d in received]
    assert {e["type"] for e in events} == {"event_callback"}
    assert [e["event"]["type"] for e in events] == ["message", "reaction_added", "channel_created"]
    assert events[0]["event"]["text"] == "build green" and events[0]["event"]["channel"] == posted["channel"]
    assert events[1]["event"]["item"] == {"type": "message", "channel": posted["channel"], "ts": posted["ts"]}


def test_direct_messages_by_user_id_and_conversations_open(slack_twin: RunningTwin) -> None:
    bot = client(slack_twin)
    alice = bot.users_lookupByEmail(email="alice@example.com")["user"]["id"]
    sent = bot.chat_postMessage(channel=alice, text="your deploy is done")
    assert sent["channel"].startswith("D")
    opened = bot.conversations_open(users=alice)
    assert opened["channel"]["id"] == sent["channel"] and opened["already_open"] is True
    assert [m["text"] for m in bot.conversations_history(channel=sent["channel"])["messages"]] == [
        "your deploy is done"
    ]
    ims = [c["id"] for page in bot.conversations_list(types="im") for c in page["channels"]]
    assert ims == [sent["channel"]]
    publics = [c["name"] for page in bot.conversations_list() for c in page["channels"]]
    assert sorted(publics) == ["general", "random"]
    assert slack_error(lambda: bot.conversations_open(users="U0NOBODY")).response["error"] == "user_not_found"
