"""`shopfloor twins up` as a user runs it: a real subprocess, stopped by SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import boto3
import httpx
import pytest
from slack_sdk import WebClient

# boto3 and the okta SDK read their endpoint and credentials from the environment the twins print.
SERVICE = """
import asyncio, boto3
from okta.client import Client
print(len(boto3.client("s3").list_buckets()["Buckets"]))
users, _, err = asyncio.run(Client().list_users())
assert err is None, err
print(users)
"""


@pytest.fixture
def spawn(shopfloor_cmd: list[str]) -> Iterator:
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[subprocess.Popen, dict]:
        proc = subprocess.Popen(
            [*shopfloor_cmd, "twins", "up", *args, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        line = proc.stdout.readline()  # one JSON object once every twin listens
        assert line, proc.stderr.read()
        return proc, json.loads(line)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_up_prints_urls_and_credentials_then_sigterm_stops_everything(spawn) -> None:
    proc, info = spawn("slack", "jira", "okta", "aws")
    twins = info["twins"]
    assert set(twins) == {"slack", "jira", "okta", "aws"}
    token = next(iter(twins["slack"]["credentials"]["tokens"]))
    assert WebClient(token=token, base_url=twins["slack"]["base_url"]).auth_test()["ok"] is True
    jira = twins["jira"]["credentials"]["basic_auth"][0]
    me = httpx.get(twins["jira"]["url"] + "/rest/api/3/myself", auth=(jira["email"], jira["api_token"]))
    assert me.json()["emailAddress"] == jira["email"]
    okta_token = twins["okta"]["credentials"]["api_tokens"][0]
    assert (
        httpx.get(
            twins["okta"]["url"] + "/api/v1/users", headers={"Authorization": f"SSWS {okta_token}"}
        ).status_code
        == 200
    )
    wrong = httpx.get(twins["okta"]["url"] + "/api/v1/users", headers={"Authorization": "SSWS nope"})
    assert wrong.status_code == 401 and wrong.json()["errorCode"] == "E0000011"
    keys = twins["aws"]["credentials"]["access_keys"][0]
    s3 = boto3.client("s3", endpoint_url=twins["aws"]["url"], region_name="us-east-1", **keys)
    assert s3.list_buckets()["Buckets"] == []

    # A service configured only by the printed environment reaches the twins through unmodified SDKs.
    service = subprocess.run(
        [sys.executable, "-c", SERVICE],
        env={**os.environ, **info["env"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert service.returncode == 0, service.stderr
    assert service.stdout.split() == ["0", "[]"]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    for twin in twins.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(twin["url"] + "/_twin/health", timeout=2)


def test_seed_and_chaos_files_and_ctrl_c(spawn, tmp_path) -> None:
    (tmp_path / "seed.yaml").write_text("slack:\n  tokens: {xoxb-ci: {user: shopbot}}\n")
    (tmp_path / "chaos.yaml").write_text("twins:\n  slack:\n    errors: {rate: 1.0, status: 503}\n")
    proc, info = spawn(
        "slack", "--seed", str(tmp_path / "seed.yaml"), "--chaos", str(tmp_path / "chaos.yaml")
    )
    slack = info["twins"]["slack"]
    assert list(slack["credentials"]["tokens"]) == ["xoxb-ci"]
    answer = httpx.post(slack["base_url"] + "auth.test", headers={"Authorization": "Bearer xoxb-ci"})
    assert answer.status_code == 503 and answer.json()["ok"] is False
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


def test_bad_input_is_one_line_and_exit_2(shopfloor_cmd, tmp_path) -> None:
    (tmp_path / "chaos.yaml").write_text("twins:\n  slack:\n    errors: {rate: 7}\n")
    done = subprocess.run(
        [*shopfloor_cmd, "twins", "up", "slack", "--chaos", str(tmp_path / "chaos.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "chaos.yaml" in done.stderr and "rate" in done.stderr
