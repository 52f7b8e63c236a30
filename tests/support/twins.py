"""Twin fixtures other layers reuse: real twins on loopback, stopped after each test.

    from tests.support.twins import slack_twin  # noqa: F401  (re-export as a fixture)

    def test_notifier(slack_twin):
        client = WebClient(token=slack_twin.credentials()["tokens"]...)

`twin_fleet` is a factory: `twin_fleet(["slack", "jira"], seed=..., chaos=...)`
returns a running TwinFleet; every fleet it started stops at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
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
