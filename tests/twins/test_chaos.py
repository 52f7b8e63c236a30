"""Chaos: each fault as a client sees it, and the same seed giving the same faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import boto3
import httpx
import pytest
from jira import JIRA, JIRAError
from okta.client import Client

from shopfloor.errors import UserError
from shopfloor.twins.chaos import ChaosEngine, TwinChaos, load_chaos
from shopfloor.twins.server import TwinServer
from tests.support.twins import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    JIRA_API_TOKEN,
    JIRA_EMAIL,
    OKTA_API_TOKEN,
)
from tests.twins.notes_twin import TOKEN, NotesTwin

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def notes_with() -> Iterator[Callable[..., TwinServer]]:
    servers: list[TwinServer] = []

    def start(faults: dict, seed: int = 0) -> TwinServer:
        server = TwinServer(
            NotesTwin({"notes": ["n"]}), chaos=TwinChaos.model_validate(faults), chaos_seed=seed
        ).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


#: One client for the module: building an httpx client (its TLS context) costs more than a loopback call.
_HTTP = httpx.Client(headers=AUTH)


def get(server: TwinServer, path: str = "/notes", timeout: float = 5) -> httpx.Response:
    return _HTTP.get(server.url + path, timeout=timeout)


def test_latency_with_jitter_delays_every_answer(notes_with) -> None:
    server = notes_with({"latency": {"ms": 150, "jitter_ms": 50}})
    started = time.perf_counter()
    for _ in range(3):
        assert get(server).status_code == 200
    assert time.perf_counter() - started >= 3 * 0.100  # never below ms - jitter


def test_error_rate_is_deterministic_per_seed(notes_with) -> None:
    faults = {"errors": {"rate": 0.5, "status": 503}}

    def statuses(seed: int) -> list[int]:
        server = notes_with(faults, seed=seed)
        return [get(server).status_code for _ in range(24)]

    first, again, other = statuses(1), statuses(1), statuses(2)
    assert first == again and set(first) == {200, 503}
    assert first != other


def test_injected_errors_carry_the_vendor_error_body(twin_fleet) -> None:
    chaos = {
        "twins": {"jira": {"routes": {"GET /rest/api/*/issue/*": {"errors": {"rate": 1.0, "status": 503}}}}}
    }
    twin = twin_fleet(["jira"], chaos=chaos)["jira"]
    jira = JIRA(server=twin.url, basic_auth=(JIRA_EMAIL, JIRA_API_TOKEN), max_retries=0)
    jira.create_issue(
        project="OPS", summary="x", issuetype={"name": "Task"}, prefetch=False
    )  # unaffected route
    with pytest.raises(JIRAError) as err:
        jira.issue("OPS-1")
    assert err.value.status_code == 503
    assert err.value.response.json() == {"errorMessages": ["injected by chaos"], "errors": {}}


def test_429_burst_then_quiet(notes_with) -> None:
    server = notes_with({"rate_limit": {"rate": 1.0, "burst": 2, "retry_after_s": 3, "quiet": 1}})
    answers = [get(server) for _ in range(6)]
    assert [a.status_code for a in answers] == [429, 429, 200, 429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"


def test_okta_sdk_waits_out_a_429_burst(twin_fleet, monkeypatch) -> None:
    chaos = {"twins": {"okta": {"rate_limit": {"rate": 1.0, "burst": 1, "retry_after_s": 0}}}}
    twin = twin_fleet(["okta"], chaos=chaos)["okta"]
    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")

    async def list_users():
        return await Client({"orgUrl": twin.url, "token": OKTA_API_TOKEN}).list_users()

    users, _, err = asyncio.run(list_users())
    assert err is None and users == []
    limited, ok = twin.twin.journal.entries()
    assert (limited.status, limited.fault, ok.status) == (429, "rate_limit", 200)
    assert '"errorCode":"E0000047"' in limited.response_body


def test_hanging_request_times_the_client_out(notes_with) -> None:
    server = notes_with({"routes": {"GET /notes": {"hang": {"rate": 1.0, "seconds": 2}}}})
    with pytest.raises(httpx.ReadTimeout):
        get(server, timeout=0.3)
    assert get(server, "/notes/none").status_code == 404  # other routes answer


def test_connection_reset(notes_with) -> None:
    server = notes_with({"reset": {"rate": 1.0}})
    with pytest.raises(httpx.ReadError) as err:
        get(server)
    assert "reset" in str(err.value).lower()
    assert server.twin.journal.entries()[0].fault == "reset"


def test_limited_data_truncates_or_throttles_the_body(notes_with) -> None:
    truncated = notes_with({"limited_data": {"max_bytes": 20}})
    with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|complete message body"):
        get(truncated)
    throttled = notes_with({"limited_data": {"bytes_per_s": 4000}})
    started = time.perf_counter()
    answer = get(throttled)
    assert len(answer.content) > 1000 and answer.json()["notes"][0]["text"] == "n"
    assert time.perf_counter() - started >= len(answer.content) / 4000 * 0.8


def test_outage_takes_the_twin_down_and_brings_it_back(notes_with) -> None:
    server = notes_with({"outage": {"after_requests": 2, "duration_s": 0.6}})
    assert get(server).status_code == 200 and get(server).status_code == 200
    with pytest.raises(httpx.ReadError):
        get(server)  # the request that finds the twin going down
    time.sleep(0.1)
    with pytest.raises(httpx.ConnectError):
        get(server)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            assert get(server).status_code == 200
            break
        except httpx.ConnectError:
            time.sleep(0.05)
    else:
        pytest.fail("twin did not come back")
    assert get(server).status_code == 200  # one outage per profile


def test_outage_on_demand_through_the_control_api(notes_with) -> None:
    server = notes_with({})
    assert httpx.post(server.url + "/_twin/outage", json={"seconds": 0.5}).json() == {"ok": True}
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):
        get(server)
    time.sleep(0.6)
    assert get(server).status_code == 200


def test_route_overrides_and_live_profile_changes(notes_with) -> None:
    server = notes_with(
        {"errors": {"rate": 1.0, "status": 502}, "routes": {"GET /notes/*": {"errors": {"rate": 0.0}}}}
    )
    assert get(server).status_code == 502
    assert get(server, "/notes/none").status_code == 404
    httpx.post(server.url + "/_twin/chaos", json={"faults": {}})
    assert get(server).status_code == 200


def test_profiles_are_validated_with_one_line_errors(tmp_path) -> None:
    bad = tmp_path / "chaos.yaml"
    bad.write_text("twins:\n  slack:\n    errors: {rate: 2}\n")
    with pytest.raises(UserError, match=r"chaos.yaml.*less than or equal to 1.*twins.slack.errors.rate"):
        load_chaos(bad)
    bad.write_text("twins:\n  slack:\n    latnecy: {ms: 5}\n")
    with pytest.raises(UserError, match="latnecy"):
        load_chaos(bad)
    good = tmp_path / "chaos.json"
    good.write_text('{"seed": 3, "twins": {"jira": {"latency": {"ms": 5}}}}')
    assert load_chaos(good).twins["jira"].latency.ms == 5


def test_engine_draws_are_reproducible() -> None:
    config = TwinChaos.model_validate(
        {"errors": {"rate": 0.3}, "reset": {"rate": 0.2}, "latency": {"ms": 10, "jitter_ms": 10}}
    )
    engines = [ChaosEngine("x", config, seed=9), ChaosEngine("x", config, seed=9)]
    runs = [
        [(d.fault, round(d.delay_s, 6)) for d in (e.decide("GET", "/a") for _ in range(50))] for e in engines
    ]
    assert runs[0] == runs[1] and {"error", "reset", None} <= {f for f, _ in runs[0]}


def test_jira_and_boto3_retry_through_their_vendors_throttles(twin_fleet) -> None:
    burst = {"rate_limit": {"rate": 1.0, "burst": 1, "retry_after_s": 0, "quiet": 100}}
    fleet = twin_fleet(
        ["jira", "aws"],
        chaos={
            "twins": {
                "jira": {"routes": {"POST /rest/api/*/issue": burst}},
                "aws": {"routes": {"PUT /*": burst}},
            }
        },
    )
    jira = JIRA(server=fleet["jira"].url, basic_auth=(JIRA_EMAIL, JIRA_API_TOKEN), max_retries=1)
    assert (
        jira.create_issue(project="OPS", summary="x", issuetype={"name": "Task"}, prefetch=False).key
        == "OPS-1"
    )
    posts = fleet["jira"].twin.journal.entries(method="POST", path="/rest/api/2/issue")
    assert [(e.status, e.fault) for e in posts] == [(429, "rate_limit"), (201, None)]

    s3 = boto3.client(
        "s3",
        endpoint_url=fleet["aws"].url,
        region_name="us-east-1",
        aws_access_key_id=AWS_ACCESS_KEY_ID,
        aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
    )
    s3.create_bucket(Bucket="bkt")  # PUT /bkt: throttled once (503 SlowDown), retried by botocore
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bkt"]
    puts = fleet["aws"].twin.journal.entries(method="PUT", path="/bkt")
    assert [(e.status, e.fault) for e in puts] == [(503, "rate_limit"), (200, None)]
