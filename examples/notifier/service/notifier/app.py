"""The HTTP service: POST /jira/webhook receives Jira events, GET /healthz answers ok."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from notifier.message import issue_fields, render
from notifier.rules import Rule, load_rules, routes_for
from notifier.slack import SlackClient, SlackError


class Notifier:
    def __init__(self, rules: list[Rule], slack: SlackClient, jira_url: str) -> None:
        self.rules = rules
        self.slack = slack
        self.jira_url = jira_url.rstrip("/")
        self.lock = threading.Lock()
        self.delivered = 0
        self.failed = 0

    def handle(self, event: dict[str, Any]) -> list[str]:
        """Post the event to every routed channel; return the channels notified."""
        _, project, priority, _ = issue_fields(event)
        notified = []
        for route in routes_for(self.rules, event.get("webhookEvent", ""), project, priority):
            try:
                self.slack.post_message(route.channel, render(event, route.mention, self.jira_url))
            except SlackError:
                with self.lock:
                    self.failed += 1
                continue
            with self.lock:
                self.delivered += 1
            notified.append(route.channel)
        return notified


def make_handler(notifier: Notifier) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, {"ok": True})
            elif self.path == "/stats":
                self._reply(200, {"delivered": notifier.delivered, "failed": notifier.failed})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/jira/webhook":
                self._reply(404, {"error": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                event = json.loads(self.rfile.read(length) or b"{}")
                notified = notifier.handle(event)
            except (ValueError, KeyError, TypeError) as exc:
                self._reply(400, {"error": f"bad event: {exc}"})
                return
            self._reply(200, {"notified": notified})

        def log_message(self, format: str, *args: Any) -> None:  # keep stdout for real logs
            return

    return Handler


def build_server(port: int, notifier: Notifier) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("127.0.0.1", port), make_handler(notifier))


def main() -> None:
    rules = load_rules(Path(os.environ.get("NOTIFIER_RULES", Path(__file__).parent.parent / "rules.json")))
    slack = SlackClient(os.environ["SLACK_BASE_URL"], os.environ["SLACK_TOKEN"])
    notifier = Notifier(rules, slack, os.environ.get("JIRA_URL", "https://jira.example.com"))
    server = build_server(int(os.environ.get("PORT", "8080")), notifier)
    server.serve_forever()
