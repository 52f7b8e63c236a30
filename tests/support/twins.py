"""Twin fixtures other layers reuse: real twins on loopback, stopped after each test.

    from tests.support.twins import slack_twin  # noqa: F401  (re-export as a fixture)

    def test_notifier(slack_twin):
        client = WebClient(token=slack_twin.credentials()["tokens"]...)

`twin_fleet` is a factory: `twin_fleet(["slack", "jira"], seed=..., chaos=...)`
returns a running TwinFleet; every fleet it started stops at teardown.
`webhook_receiver` is a loopback HTTP server recording what twins push to it
(Jira webhooks, Slack events): `(url, deliveries)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shopfloor.twins.runner import RunningTwin, TwinFleet, run_twins

SLACK_BOT_TOKEN = "xoxb-shopfloor-twin"
SLACK_USER_TOKEN = "xoxp-shopfloor-twin"
JIRA_EMAIL = "admin@example.com"
JIRA_API_TOKEN = "jira-twin-token"
OKTA_API_TOKEN = "okta-twin-token"
AWS_ACCESS_KEY_ID = "AKIDSHOPFLOORTWIN"
AWS_SECRET_ACCESS_KEY = "shopfloor-twin-secret"


@pytest.fixture
def twin_fleet() -> Iterator[Callable[..., TwinFleet]]:
    with ExitStack() as stack:

        def start(names: list[str], **options: Any) -> TwinFleet:
            return stack.enter_context(run_twins(names, **options))

        yield start


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[Delivery]]]:
    """A real HTTP server on loopback that records every POST: (url, deliveries)."""
    received: list[Delivery] = []

    class Record(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(Delivery(self.path, dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def slack_twin(twin_fleet: Callable[..., TwinFleet]) -> RunningTwin:
    return twin_fleet(["slack"])["slack"]


@pytest.fixture
def jira_twin(twin_fleet: Callable[..., TwinFleet]) -> RunningTwin:
    return twin_fleet(["jira"])["jira"]


@pytest.fixture
def okta_twin(twin_fleet: Callable[..., TwinFleet]) -> RunningTwin:
    return twin_fleet(["okta"])["okta"]


@pytest.fixture
def aws_twin(twin_fleet: Callable[..., TwinFleet]) -> RunningTwin:
    return twin_fleet(["aws"])["aws"]
