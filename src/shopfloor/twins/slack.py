"""Slack Web API twin: enough of https://api.slack.com/methods for `slack_sdk.WebClient`.

Point the SDK at `WebClient(token=..., base_url=twin.base_url())` (the base URL
ends in `/api/`). Like Slack, every method answers HTTP 200 with `{"ok": false,
"error": "<code>"}` on failure (invalid_auth, channel_not_found, not_in_channel,
missing_scope, ...), paginates with `response_metadata.next_cursor`, and answers
429 + Retry-After when rate limited (chaos). Tokens carry scopes; a method
whose scope the token lacks fails with `missing_scope`, as on Slack.

Fixture (`slack:` in a seed file):

    team: {name: Acme, domain: acme}
    bot: {name: shopbot}                        # the app's bot user
    tokens: {"xoxb-acme": {user: shopbot, scopes: [chat:write, ...]}}
    users: [{name: alice, real_name: Alice, email: alice@example.com}]
    channels: [{name: general, members: [alice, shopbot], is_private: false}]
    messages: [{channel: general, user: alice, text: "hi"}]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from shopfloor.twins.framework import Twin, TwinReply, TwinRequest, json_response, route
from shopfloor.twins.webhooks import WebhookSender

DEFAULT_BOT_TOKEN = "xoxb-shopfloor-twin"
DEFAULT_USER_TOKEN = "xoxp-shopfloor-twin"
DEFAULT_SIGNING_SECRET = "shopfloor-twin-signing-secret"
BOT_SCOPES = [
    "chat:write",
    "channels:read",
    "channels:history",
    "channels:join",
    "channels:manage",
    "groups:read",
    "groups:history",
    "users:read",
    "users:read.email",
    "reactions:write",
    "im:write",
    "im:read",
    "im:history",
]
#: Default and maximum page sizes, as Slack documents them per method.
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
MAX_CHANNEL_NAME = 80
_CHANNEL_NAME = re.compile(r"^[a-z0-9_\-]+$")
_EMOJI_NAME = re.compile(r"^[a-z0-9_+\-']+$")

#: method → the scope Slack requires of a bot token.
REQUIRED_SCOPES = {
    "conversations.list": "channels:read",
    "conversations.info": "channels:read",
    "conversations.members": "channels:read",
    "conversations.create": "channels:manage",
    "conversations.join": "channels:join",
    "conversations.open": "im:write",
    "conversations.history": "channels:history",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "users.list": "users:read",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "reactions.add": "reactions:write",
}


def _fail(error: str, **extra: Any) -> TwinReply:
    return TwinReply(json_response({"ok": False, "error": error, **extra}))


class SlackTwin(Twin):
    name = "slack"
    description = "Slack Web API (slack_sdk.WebClient)"
    fixture_keys = frozenset({"team", "bot", "tokens", "users", "channels", "messages", "events"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.webhooks = WebhookSender()
        super().__init__(*args, **kwargs)

    # --- fixture & state ---------------------------------------------------------------------------
    def load_fixture(self, fixture: Mapping[str, Any]) -> None:
        s = self.state
        if not s:
            team = {"name": "Shopfloor Twin", "domain": "shopfloor-twin", **fixture.get("team", {})}
            s.update(
                team={"id": self.ids.next("T", 8), **team},
                users={},
                channels={},
                messages={},
                tokens={},
                ts_seq=0,
                events=None,
                app_id=self.ids.next("A", 10),
            )
            bot = self._add_user(
                {"name": "shopbot", "real_name": "Shopfloor Bot", "is_bot": True, **fixture.get("bot", {})}
            )
            s["bot_user"] = bot["id"]
            s["bot_id"] = self.ids.next("B", 10)
            if "tokens" not in fixture:
                s["tokens"][DEFAULT_BOT_TOKEN] = {"user_id": bot["id"], "scopes": BOT_SCOPES}
            if "users" not in fixture and "channels" not in fixture:
                self._default_workspace(with_user_token="tokens" not in fixture)
        for spec in fixture.get("users", []):
            self._add_user(spec)
        for token, spec in fixture.get("tokens", {}).items():
            user = self._user_by_name(spec.get("user", "shopbot"))
            s["tokens"][token] = {"user_id": user["id"], "scopes": list(spec.get("scopes", BOT_SCOPES))}
        for spec in fixture.get("channels", []):
            members = [self._user_by_name(n)["id"] for n in spec.get("members", [])]
            creator = members[0] if members else s["bot_user"]
            self._add_channel(
                spec["name"],
                creator,
                bool(spec.get("is_private", False)),
                members,
                topic=spec.get("topic", ""),
                purpose=spec.get("purpose", ""),
            )
        for spec in fixture.get("messages", []):
            channel = self._channel_by_name(spec["channel"])
            self._post(channel["id"], self._user_by_name(spec["user"])["id"], spec["text"])
        if "events" in fixture:
            s["events"] = {
                "url": fixture["events"]["url"],
                "signing_secret": fixture["events"].get("signing_secret", DEFAULT_SIGNING_SECRET),
            }

    def _emit(self, event: dict[str, Any]) -> None:
        """Deliver an Events API `event_callback`, signed as Slack signs it (X-Slack-Signature v0)."""
        config = self.state["events"]
        if not config:
            return
        envelope = {
            "token": "verification-token-unused",
            "team_id": self.state["team"]["id"],
            "api_app_id": self.state["app_id"],
            "event": {**event, "event_ts": event.get("ts")},
            "type": "event_callback",
            "event_id": self.ids.next("Ev", 10),
            "event_time": int(self.clock.now()),
            "authorizations": [
                {"team_id": self.state["team"]["id"], "user_id": self.state["bot_user"], "is_bot": True}
            ],
        }
        body = json.dumps(envelope).encode()
        # Wall-clock time: receivers reject signatures older than five minutes.
        timestamp = str(int(time.time()))
        digest = hmac.new(
            config["signing_secret"].encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
        )
        self.webhooks.send_body(
            config["url"],
            event["type"],
            body,
            {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + digest.hexdigest()},
        )

    def _default_workspace(self, *, with_user_token: bool) -> None:
        alice = self._add_user({"name": "alice", "real_name": "Alice Adams", "email": "alice@example.com"})
        bob = self._add_user({"name": "bob", "real_name": "Bob Brown", "email": "bob@example.com"})
        bot = self.state["bot_user"]
        self._add_channel("general", alice["id"], False, [alice["id"], bob["id"], bot])
        self._add_channel("random", alice["id"], False, [alice["id"], bob["id"]])
        if with_user_token:
            self.state["tokens"][DEFAULT_USER_TOKEN] = {
                "user_id": alice["id"],
                "scopes": [*BOT_SCOPES, "chat:write.public"],
            }

    def _add_user(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        uid = self.ids.next("U", 10)
        name = spec["name"]
        real_name = spec.get("real_name", name)
        user = {
            "id": uid,
            "team_id": self.state["team"]["id"],
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": spec.get("tz", "Etc/UTC"),
            "is_bot": bool(spec.get("is_bot", False)),
            "is_admin": bool(spec.get("is_admin", False)),
            "updated": int(self.clock.now()),
            "profile": {
                "real_name": real_name,
                "display_name": spec.get("display_name", name),
                "email": spec.get("email"),
                "team": self.state["team"]["id"],
            },
        }
        self.state["users"][uid] = user
        return user

    def _add_channel(
        self,
        name: str,
        creator: str,
        private: bool,
        members: list[str],
        *,
        topic: str = "",
        purpose: str = "",
    ) -> dict[str, Any]:
        cid = self.ids.next("G" if private else "C", 10)
        now = int(self.clock.now())
        channel = {
            "id": cid,
            "name": name,
            "name_normalized": name,
            "is_channel": not private,
            "is_group": private,
            "is_im": False,
            "is_mpim": False,
            "is_private": private,
            "is_archived": False,
            "is_general": name == "general",
            "created": now,
            "creator": creator,
            "topic": {"value": topic, "creator": "", "last_set": 0},
            "purpose": {"value": purpose, "creator": "", "last_set": 0},
            "members": list(dict.fromkeys([creator, *members])),
        }
        self.state["channels"][cid] = channel
        self.state["messages"][cid] = []
        return channel

    def _post(self, cid: str, user: str, text: str, **extra: Any) -> dict[str, Any]:
        self.state["ts_seq"] += 1
        ts = f"{int(self.clock.now())}.{self.state['ts_seq']:06d}"
        message = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.state["team"]["id"],
            **extra,
        }
        self.state["messages"][cid].append(message)
        return message

    def _user_by_name(self, name: str) -> dict[str, Any]:
        for user in self.state["users"].values():
            if user["name"] == name or user["id"] == name:
                return user
        raise ValueError(f"slack fixture: unknown user {name!r}")

    def _channel_by_name(self, name: str) -> dict[str, Any]:
        for channel in self.state["channels"].values():
            if channel["name"] == name.lstrip("#") or channel["id"] == name:
                return channel
        raise ValueError(f"slack fixture: unknown channel {name!r}")

    # --- framework hooks ---------------------------------------------------------------------------
    def base_url(self) -> str:
        return self.url + "/api/"

    def environment(self) -> dict[str, str]:
        bot = next(
            (t for t, g in self.state["tokens"].items() if g["user_id"] == self.state["bot_user"]), None
        )
        env = {"SLACK_API_URL": self.base_url()}
        if bot:
            env["SLACK_BOT_TOKEN"] = bot
        if self.state["events"]:
            env["SLACK_SIGNING_SECRET"] = self.state["events"]["signing_secret"]
        return env

    def credentials(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tokens": {
                t: {"user": self.state["users"][v["user_id"]]["name"], "scopes": v["scopes"]}
                for t, v in self.state["tokens"].items()
            }
        }
        if self.state["events"]:
            out["signing_secret"] = self.state["events"]["signing_secret"]
        return out

    def error_response(self, status: int, message: str) -> Response:
        return json_response(
            {"ok": False, "error": "fatal_error" if status >= 500 else "invalid_request", "detail": message},
            status,
        )

    def rate_limited_response(self, retry_after_s: int) -> Response:
        return json_response({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after_s)})

    def not_found_response(self, request: TwinRequest) -> Response:
        return json_response(
            {"ok": False, "error": "unknown_method", "req_method": request.path.rsplit("/", 1)[-1]}, 404
        )

    def authenticate(self, request: TwinRequest) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else request.params().get("token", "")
        if not token:
            return json_response({"ok": False, "error": "not_authed"})
        grant = self.state["tokens"].get(token)
        if grant is None:
            return json_response({"ok": False, "error": "invalid_auth"})
        method = request.path.rsplit("/", 1)[-1]
        needed = REQUIRED_SCOPES.get(method)
        if (
            needed
            and needed not in grant["scopes"]
            and not (needed == "chat:write" and "chat:write.public" in grant["scopes"])
        ):
            return json_response(
                {
                    "ok": False,
                    "error": "missing_scope",
                    "needed": needed,
                    "provided": ",".join(grant["scopes"]),
                }
            )
        request.auth.update(grant)
        return None

    # --- helpers -----------------------------------------------------------------------------------
    def _args(self, request: TwinRequest) -> dict[str, Any]:
        try:
            return request.params()
        except ValueError:
            raise _fail("invalid_json") from None

    def _im(self, caller: str, user: str) -> tuple[dict[str, Any], bool]:
        """The direct-message conversation between two users, opened if needed: (channel, already_open)."""
        for channel in self.state["channels"].values():
            if channel["is_im"] and set(channel["members"]) == {caller, user}:
                return channel, True
        cid = self.ids.next("D", 10)
        channel = {
            "id": cid,
            "name": "",
            "is_channel": False,
            "is_group": False,
            "is_im": True,
            "is_mpim": False,
            "is_private": True,
            "is_archived": False,
            "user": user,
            "created": int(self.clock.now()),
            "is_user_deleted": False,
            "members": list(dict.fromkeys([caller, user])),
        }
        self.state["channels"][cid] = channel
        self.state["messages"][cid] = []
        return channel, False

    def _channel(self, args: Mapping[str, Any], caller: str) -> dict[str, Any]:
        ref = str(args.get("channel") or "")
        if not ref:
            raise _fail("channel_not_found")
        if ref in self.state["users"]:  # a user id as channel means the DM with that user, as on Slack
            return self._im(caller, ref)[0]
        for channel in self.state["channels"].values():
            if channel["id"] == ref or ("#" + channel["name"] == ref or channel["name"] == ref):
                if channel["is_private"] and caller not in channel["members"]:
                    break  # private channels are invisible to non-members
                return channel
        raise _fail("channel_not_found")

    def _public(self, channel: Mapping[str, Any], caller: str) -> dict[str, Any]:
        out = {k: v for k, v in channel.items() if k != "members"}
        out["is_member"] = caller in channel["members"]
        out["num_members"] = len(channel["members"])
        return out

    def _limit(self, args: Mapping[str, Any], default: int = DEFAULT_PAGE_LIMIT) -> int:
        try:
            limit = int(args.get("limit") or default)
        except ValueError:
            raise _fail("invalid_limit") from None
        return max(1, min(limit, MAX_PAGE_LIMIT))

    def _page(
        self,
        items: list[Any],
        key: Any,
        kind: str,
        args: Mapping[str, Any],
        default_limit: int = DEFAULT_PAGE_LIMIT,
    ) -> tuple[list[Any], str]:
        """Slack cursor pagination: the cursor is base64 of `kind:<first key of the next page>`."""
        start = 0
        cursor = str(args.get("cursor") or "")
        if cursor:
            try:
                decoded = base64.b64decode(cursor.encode(), validate=True).decode()
                decoded_kind, _, first = decoded.partition(":")
            except ValueError:
                raise _fail("invalid_cursor") from None
            keys = [str(key(item)) for item in items]
            if decoded_kind != kind or first not in keys:
                raise _fail("invalid_cursor")
            start = keys.index(first)
        limit = self._limit(args, default_limit)
        page = items[start : start + limit]
        rest = items[start + limit :]
        next_cursor = base64.b64encode(f"{kind}:{key(rest[0])}".encode()).decode() if rest else ""
        return page, next_cursor

    def _message(self, channel: Mapping[str, Any], ts: str) -> dict[str, Any]:
        for message in self.state["messages"][channel["id"]]:
            if message["ts"] == ts:
                return message
        raise _fail("message_not_found")

    # --- methods -----------------------------------------------------------------------------------
    @route("POST", "/api/api.test", auth=False)
    @route("GET", "/api/api.test", auth=False)
    def api_test(self, request: TwinRequest) -> Any:
        args = self._args(request)
        if "error" in args:
            return {"ok": False, "error": args["error"], "args": args}
        return {"ok": True, "args": args}

    @route("POST", "/api/auth.test")
    @route("GET", "/api/auth.test")
    def auth_test(self, request: TwinRequest) -> Any:
        caller = request.auth["user_id"]
        team = self.state["team"]
        out = {
            "ok": True,
            "url": f"https://{team['domain']}.slack.com/",
            "team": team["name"],
            "user": self.state["users"][caller]["name"],
            "team_id": team["id"],
            "user_id": caller,
            "is_enterprise_install": False,
        }
        if caller == self.state["bot_user"]:
            out["bot_id"] = self.state["bot_id"]
        return out

    @route("POST", "/api/conversations.list")
    @route("GET", "/api/conversations.list")
    def conversations_list(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
        exclude_archived = str(args.get("exclude_archived", "false")).lower() in ("true", "1")
        channels = [
            c
            for c in sorted(self.state["channels"].values(), key=lambda c: c["id"])
            if (
                ("im" in types and c["is_im"] and caller in c["members"])
                or (
                    "private_channel" in types
                    and c["is_private"]
                    and not c["is_im"]
                    and caller in c["members"]
                )
                or ("public_channel" in types and not c["is_private"])
            )
            and not (exclude_archived and c["is_archived"])
        ]
        page, cursor = self._page(channels, lambda c: c["id"], "channel", args)
        return {
            "ok": True,
            "channels": [self._public(c, caller) for c in page],
            "response_metadata": {"next_cursor": cursor},
        }

    @route("POST", "/api/conversations.create")
    def conversations_create(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        name = str(args.get("name") or "")
        if not name:
            raise _fail("invalid_name_required")
        if len(name) > MAX_CHANNEL_NAME:
            raise _fail("invalid_name_maxlength")
        if not _CHANNEL_NAME.match(name):
            raise _fail("invalid_name_specials")
        if any(c["name"] == name for c in self.state["channels"].values()):
            raise _fail("name_taken")
        private = str(args.get("is_private", "false")).lower() in ("true", "1")
        channel = self._add_channel(name, caller, private, [caller])
        if not private:
            self._emit(
                {
                    "type": "channel_created",
                    "channel": {
                        "id": channel["id"],
                        "name": name,
                        "created": channel["created"],
                        "creator": caller,
                    },
                }
            )
        return {"ok": True, "channel": self._public(channel, caller)}

    @route("POST", "/api/conversations.info")
    @route("GET", "/api/conversations.info")
    def conversations_info(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        return {"ok": True, "channel": self._public(self._channel(args, caller), caller)}

    @route("POST", "/api/conversations.open")
    def conversations_open(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _fail("users_list_not_supplied")
        if len(users) > 1:
            raise _fail("not_supported", detail="the twin opens one-to-one DMs only")
        if users[0] not in self.state["users"]:
            raise _fail("user_not_found")
        channel, already = self._im(caller, users[0])
        out: dict[str, Any] = {"ok": True, "channel": {"id": channel["id"]}}
        if already:
            out.update(no_op=True, already_open=True)
        return out

    @route("POST", "/api/conversations.join")
    def conversations_join(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        channel = self._channel(args, caller)
        if channel["is_private"]:
            raise _fail("method_not_supported_for_channel_type")
        if channel["is_archived"]:
            raise _fail("is_archived")
        out: dict[str, Any] = {"ok": True}
        if caller in channel["members"]:
            out.update(warning="already_in_channel", response_metadata={"warnings": ["already_in_channel"]})
        else:
            channel["members"].append(caller)
            self._emit(
                {
                    "type": "member_joined_channel",
                    "user": caller,
                    "channel": channel["id"],
                    "channel_type": "C",
                    "team": self.state["team"]["id"],
                }
            )
        out["channel"] = self._public(channel, caller)
        return out

    @route("POST", "/api/conversations.members")
    @route("GET", "/api/conversations.members")
    def conversations_members(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        channel = self._channel(args, caller)
        page, cursor = self._page(list(channel["members"]), lambda m: m, "member", args)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    @route("POST", "/api/conversations.history")
    @route("GET", "/api/conversations.history")
    def conversations_history(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        channel = self._channel(args, caller)
        if caller not in channel["members"]:
            raise _fail("not_in_channel")
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or "inf")
        inclusive = str(args.get("inclusive", "false")).lower() in ("true", "1")
        newest_first = [
            m
            for m in reversed(self.state["messages"][channel["id"]])
            if (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)
        ]
        page, cursor = self._page(newest_first, lambda m: m["ts"], "ts", args)
        out: dict[str, Any] = {
            "ok": True,
            "messages": page,
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }
        return out

    @route("POST", "/api/chat.postMessage")
    def chat_post_message(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        channel = self._channel(args, caller)
        text = str(args.get("text") or "")
        if not text and not args.get("blocks") and not args.get("attachments"):
            raise _fail("no_text")
        if channel["is_archived"]:
            raise _fail("is_archived")
        if caller not in channel["members"] and (
            channel["is_private"] or "chat:write.public" not in request.auth["scopes"]
        ):
            raise _fail("not_in_channel")
        extra: dict[str, Any] = {}
        if args.get("thread_ts"):
            parent = self._message(channel, str(args["thread_ts"]))
            extra["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
        if caller == self.state["bot_user"]:
            extra["bot_id"] = self.state["bot_id"]
        if args.get("blocks"):
            extra["blocks"] = args["blocks"]
        message = self._post(channel["id"], caller, text, **extra)
        channel_type = "group" if channel["is_private"] else "channel"
        self._emit({**message, "channel": channel["id"], "channel_type": channel_type})
        return {"ok": True, "channel": channel["id"], "ts": message["ts"], "message": message}

    @route("POST", "/api/chat.update")
    def chat_update(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        channel = self._channel(args, caller)
        message = self._message(channel, str(args.get("ts") or ""))
        if message["user"] != caller:
            raise _fail("cant_update_message")
        text = str(args.get("text") or "")
        if not text and not args.get("blocks"):
            raise _fail("no_text")
        message["text"] = text
        message["edited"] = {"user": caller, "ts": f"{int(self.clock.now())}.000000"}
        return {"ok": True, "channel": channel["id"], "ts": message["ts"], "text": text, "message": message}

    @route("POST", "/api/chat.delete")
    def chat_delete(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        channel = self._channel(args, caller)
        message = self._message(channel, str(args.get("ts") or ""))
        if message["user"] != caller:
            raise _fail("cant_delete_message")
        self.state["messages"][channel["id"]].remove(message)
        return {"ok": True, "channel": channel["id"], "ts": message["ts"]}

    @route("POST", "/api/users.list")
    @route("GET", "/api/users.list")
    def users_list(self, request: TwinRequest) -> Any:
        args = self._args(request)
        users = sorted(self.state["users"].values(), key=lambda u: u["id"])
        page, cursor = self._page(users, lambda u: u["id"], "user", args, default_limit=MAX_PAGE_LIMIT)
        return {
            "ok": True,
            "members": page,
            "cache_ts": int(self.clock.now()),
            "response_metadata": {"next_cursor": cursor},
        }

    @route("POST", "/api/users.info")
    @route("GET", "/api/users.info")
    def users_info(self, request: TwinRequest) -> Any:
        user = self.state["users"].get(str(self._args(request).get("user") or ""))
        if user is None:
            raise _fail("user_not_found")
        return {"ok": True, "user": user}

    @route("POST", "/api/users.lookupByEmail")
    @route("GET", "/api/users.lookupByEmail")
    def users_lookup_by_email(self, request: TwinRequest) -> Any:
        email = str(self._args(request).get("email") or "").lower()
        for user in self.state["users"].values():
            if (user["profile"].get("email") or "").lower() == email and email:
                return {"ok": True, "user": user}
        raise _fail("users_not_found")

    @route("POST", "/api/reactions.add")
    def reactions_add(self, request: TwinRequest) -> Any:
        args, caller = self._args(request), request.auth["user_id"]
        channel = self._channel(args, caller)
        name = str(args.get("name") or "").strip(":")
        if not name or not _EMOJI_NAME.match(name):
            raise _fail("invalid_name")
        message = self._message(channel, str(args.get("timestamp") or ""))
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if caller in reaction["users"]:
                    raise _fail("already_reacted")
                reaction["users"].append(caller)
                reaction["count"] += 1
                break
        else:
            reactions.append({"name": name, "users": [caller], "count": 1})
        self._emit(
            {
                "type": "reaction_added",
                "user": caller,
                "reaction": name,
                "item_user": message["user"],
                "item": {"type": "message", "channel": channel["id"], "ts": message["ts"]},
                "ts": f"{int(self.clock.now())}.000000",
            }
        )
        return {"ok": True}
