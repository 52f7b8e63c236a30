"""A minimal Slack Web API client: chat.postMessage with rate-limit retries."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

#: How many times a 429 answer is retried before giving up.
MAX_RETRIES = 3
#: Longest Retry-After the client is willing to sleep, in seconds.
MAX_RETRY_AFTER_S = 5.0
REQUEST_TIMEOUT_S = 5.0


class SlackError(Exception):
    """Slack answered ok: false, or kept rate-limiting."""


class SlackClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token

    def post_message(self, channel: str, text: str) -> dict:
        body = json.dumps({"channel": channel, "text": text}).encode()
        for attempt in range(MAX_RETRIES + 1):
            request = urllib.request.Request(
                self.base_url + "chat.postMessage", data=body, method="POST",
                headers={"Authorization": f"Bearer {self.token}",
                         "Content-Type": "application/json; charset=utf-8"})
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                    payload = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 429 and attempt < MAX_RETRIES:
                    delay = float(exc.headers.get("Retry-After", "1"))
                    time.sleep(min(delay, MAX_RETRY_AFTER_S))
                    continue
                raise SlackError(f"chat.postMessage failed with HTTP {exc.code}") from exc
            if not payload.get("ok"):
                raise SlackError(f"chat.postMessage failed: {payload.get('error')}")
            return payload
        raise SlackError("chat.postMessage kept being rate limited")
