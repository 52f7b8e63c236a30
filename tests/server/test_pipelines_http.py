"""The Attractor HTTP server mode over real HTTP on loopback (attractor-spec 9.5, DoD 11.11)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.dotfiles import dot_source
from tests.support.server import ServedShopfloor, served  # noqa: F401  (fixture)

WAIT_S = 20.0


def _wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _start(client: httpx.Client, name: str, **json_body: Any) -> str:
    if json_body:
        response = client.post("/pipelines", json={"dot": dot_source(name), **json_body})
    else:
        response = client.post("/run", content=dot_source(name), headers={"content-type": "text/plain"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _status(client: httpx.Client, run_id: str) -> dict[str, Any]:
    response = client.get(f"/status/{run_id}")
    assert response.status_code == 200
    return dict(response.json())


def _finished(client: httpx.Client, run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        status = _status(client, run_id)
        return status if status["status"] not in ("running", "stopping") else None
    return dict(_wait_for(done, f"{run_id} to finish"))


def test_run_status_answer_routes_on_the_human_choice(served: ServedShopfloor) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=10) as client:
        run_id = _start(client, "human_gate")
        status = _wait_for(lambda: (s := _status(client, run_id))["pending_questions"] and s, "the question")
        assert status["status"] == "running" and status["current_node"] == "review"
        assert status["completed_nodes"] == ["start", "work"]
        (question,) = status["pending_questions"]
        assert question["text"] == "Review Changes"
        assert [o["key"] for o in question["options"]] == ["A", "F"]

        # first round: Fix, through the per-question endpoint
        fixed = client.post(f"/pipelines/{run_id}/questions/{question['id']}/answer", json={"answer": "F"})
        assert fixed.status_code == 200 and fixed.json()["answer"] == "[F] Fix"
        again = _wait_for(lambda: client.get(f"/pipelines/{run_id}/questions").json()["questions"],
                          "the second question")
        assert again[0]["id"] != question["id"]
        # second round: Approve, through POST /answer naming no question (the only pending one)
        approved = client.post("/answer", json={"id": run_id, "answer": "[A] Approve"})
        assert approved.status_code == 200, approved.text

        final = _finished(client, run_id)
        assert final["status"] == "success"
        assert final["completed_nodes"] == ["start", "work", "review", "fixes", "review", "ship_it", "exit"]
        assert final["context"]["preferred_label"] == "[A] Approve"
        listed = client.get("/pipelines").json()["pipelines"]
        assert [(p["id"], p["status"]) for p in listed] == [(run_id, "success")]
    assert (served.runs_dir / run_id / "events.jsonl").is_file()  # an ordinary run directory


def _read_sse(lines: Any, until: str) -> list[tuple[int, str, dict[str, Any]]]:
    events: list[tuple[int, str, dict[str, Any]]] = []
    current: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line == "":
            if current:
                data = json.loads(current.get("data", "{}"))
                events.append((int(current.get("id", "0")), current.get("event", ""), data))
                if current.get("event") == until:
                    return events
            current = {}
            continue
        key, _, value = line.partition(": ")
        current[key] = value
    return events


def test_sse_streams_events_live_and_replays_from_last_event_id(served: ServedShopfloor) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=10) as client:
        run_id = _start(client, "human_gate")
        with client.stream("GET", f"/pipelines/{run_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            before = _read_sse(lines, until="InterviewStarted")
            assert before[0][1] == "PipelineStarted"
            assert before[-1][2]["data"] == {"question": "Review Changes", "stage": "review"}
            client.post("/answer", json={"id": run_id, "answer": "A"})
            after = _read_sse(lines, until="end")
        kinds = [kind for _, kind, _ in before + after]
        assert kinds.index("InterviewCompleted") > kinds.index("InterviewStarted")
        assert kinds[-2:] == ["PipelineCompleted", "end"]
        ids = [i for i, kind, _ in before + after if kind != "end"]
        assert ids == list(range(1, len(ids) + 1))

        with client.stream("GET", f"/events/{run_id}", headers={"Last-Event-ID": "3"}) as replay:
            replayed = _read_sse(replay.iter_lines(), until="end")
        assert [i for i, kind, _ in replayed if kind != "end"] == ids[3:]


def test_json_body_sets_the_initial_context(served: ServedShopfloor) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=10) as client:
        prod = _start(client, "context_branch", context={"env": "prod"})
        other = _start(client, "context_branch", context={"env": "dev"})
        assert "prod" in _finished(client, prod)["completed_nodes"]
        assert "staging" in _finished(client, other)["completed_nodes"]
        context = client.get(f"/pipelines/{prod}/context").json()["context"]
        assert context["env"] == "prod"
        ckpt = client.get(f"/pipelines/{prod}/checkpoint").json()
        assert ckpt["status"] == "success" and ckpt["completed_nodes"][-1] == "exit"
        svg = client.get(f"/pipelines/{prod}/graph")
        assert svg.headers["content-type"] == "image/svg+xml"
        assert "<svg" in svg.text and "prod: success" in svg.text and "staging: not run" in svg.text


def test_cancel_stops_the_run_which_resume_can_finish(served: ServedShopfloor,  # noqa: F811
                                                      shopfloor_cmd: list[str]) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        run_id = _start(client, "slow")
        _wait_for(lambda: _status(client, run_id)["current_node"] == "slow", "the slow node")
        cancelled = client.post(f"/pipelines/{run_id}/cancel")
        assert cancelled.status_code == 202
        final = _finished(client, run_id)
        assert final["status"] == "stopped"
        assert "after" not in final["completed_nodes"]
    logs_root = served.runs_dir / run_id
    resumed = subprocess.run([*shopfloor_cmd, "resume", "--logs-root", str(logs_root), "--json",
                              "--auto-approve"], capture_output=True, text=True, timeout=90, check=False)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["status"] == "success"
    assert result["completed_nodes"] == ["start", "quick", "slow", "after", "exit"]  # nothing ran twice


def test_bad_requests_get_one_line_json_errors(served: ServedShopfloor) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=10) as client:
        bad_dot = client.post("/run", content="digraph G {\n  a -- b\n}",
                              headers={"content-type": "text/plain"})
        assert bad_dot.status_code == 400
        assert bad_dot.json()["error"].startswith("<string>:2:5: undirected edge")
        invalid = client.post("/run", content=dot_source("missing_exit"))
        assert invalid.status_code == 400 and "no exit node" in invalid.json()["error"]
        assert client.post("/pipelines", content=b"{not json", headers={"content-type": "application/json"}
                           ).status_code == 400
        bad_backend = client.post("/pipelines", json={"dot": dot_source("linear"), "backend": "nope"})
        assert bad_backend.status_code == 400 and "unknown backend" in bad_backend.json()["error"]
        missing = client.get("/status/nope")
        assert missing.status_code == 404 and "no pipeline 'nope'" in missing.json()["error"]
        run_id = _start(client, "linear")
        _finished(client, run_id)
        conflict = client.post("/answer", json={"id": run_id, "answer": "A"})
        assert conflict.status_code == 409 and "0 questions are pending" in conflict.json()["error"]
        unknown_q = client.post(f"/pipelines/{run_id}/questions/q9/answer", json={"answer": "A"})
        assert unknown_q.status_code == 400 and "no pending question" in unknown_q.json()["error"]
        assert client.post("/answer", json={"answer": "A"}).status_code == 400
        for response in (bad_dot, invalid, missing, conflict):
            assert "\n" not in response.json()["error"]


def test_shutdown_stops_running_pipelines_and_exits(served: ServedShopfloor) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=10) as client:
        run_id = _start(client, "slow")
        _wait_for(lambda: _status(client, run_id)["current_node"] == "slow", "the slow node")
    assert served.stop() == 0
    ckpt = json.loads((served.runs_dir / run_id / "checkpoint.json").read_text())
    assert ckpt["status"] == "stopped" and ckpt["completed_nodes"] == ["start", "quick"]


def test_serve_refuses_a_bad_backend(shopfloor_cmd: list[str]) -> None:
    proc = subprocess.run([*shopfloor_cmd, "serve", "--port", "0", "--backend", "nope"], capture_output=True,
                          text=True, timeout=30, check=False)
    assert proc.returncode == 2 and "unknown backend 'nope'" in proc.stderr and "Traceback" not in proc.stderr
    assert sys.executable  # the command ran with this interpreter


def test_server_section_limits_concurrent_runs_and_body_size(tmp_path: Any, shopfloor_cmd: list[str]) -> None:
    (tmp_path / "shopfloor.toml").write_text("[server]\nmax_runs = 1\nmax_body_bytes = 2048\n")
    proc = subprocess.Popen([*shopfloor_cmd, "serve", "--port", "0", "--runs-dir", str(tmp_path / "runs")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        url = (proc.stdout.readline() if proc.stdout else "").strip().rsplit(" ", 1)[-1]
        with httpx.Client(base_url=url, timeout=10) as client:
            first = _start(client, "slow")
            second = client.post("/run", content=dot_source("linear"))
            assert second.status_code == 429 and "1 pipelines are already running" in second.json()["error"]
            big = client.post("/run", content="digraph G { " + "a; " * 1000 + "}")
            assert big.status_code == 400 and "over 2048 bytes" in big.json()["error"]
            big_decision = client.post("/release/approvals/r1/gate", json={"reason": "x" * 4096})
            assert big_decision.status_code == 400 and "over 2048 bytes" in big_decision.json()["error"]
            client.post(f"/pipelines/{first}/cancel")
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_bad_server_section_is_one_line(tmp_path: Any, shopfloor_cmd: list[str]) -> None:
    (tmp_path / "shopfloor.toml").write_text("[server]\nmax_runs = 0\n")
    proc = subprocess.run([*shopfloor_cmd, "serve", "--port", "0"], capture_output=True, text=True,
                          timeout=30, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "[server]" in proc.stderr and "max_runs" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_human_gate_is_operable_from_the_html_page(served: ServedShopfloor) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=10) as client:
        run_id = _start(client, "human_gate")
        _wait_for(lambda: _status(client, run_id)["pending_questions"], "the question")
        page = client.get(f"/pipelines/{run_id}/ui")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "Review Changes" in html and 'http-equiv="refresh"' in html  # live: refreshes itself
        action = re.search(r'<form class="q" method="post" action="([^"]+)"', html)
        assert action is not None
        buttons = dict(re.findall(r'<button name="answer" value="([^"]+)">([^<]+)</button>', html))
        assert buttons == {"A": "[A] Approve", "F": "[F] Fix"}
        # what a browser sends when the Approve button is clicked
        clicked = client.post(action.group(1), content="answer=A",
                              headers={"content-type": "application/x-www-form-urlencoded"})
        assert clicked.status_code == 303 and clicked.headers["location"] == f"/pipelines/{run_id}/ui"
        final = _finished(client, run_id)
        assert final["status"] == "success" and "ship_it" in final["completed_nodes"]
        done = client.get(f"/pipelines/{run_id}/ui").text
        assert "refresh" not in done and "ship_it" in done
        index = client.get("/ui").text
        assert f'href="/pipelines/{run_id}/ui"' in index


def test_pages_escape_what_users_wrote(served: ServedShopfloor) -> None:  # noqa: F811
    dot = ('digraph X { graph [goal="<script>alert(1)</script>"] start [shape=Mdiamond] exit [shape=Msquare] '
           'g [shape=hexagon, label="<b>gate</b>"] start -> g g -> exit [label="[Y] <i>yes</i>"] }')
    with httpx.Client(base_url=served.url, timeout=10) as client:
        run_id = client.post("/run", content=dot).json()["id"]
        _wait_for(lambda: _status(client, run_id)["pending_questions"], "the question")
        html = client.get(f"/pipelines/{run_id}/ui").text
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "<b>gate</b>" not in html and "<i>yes</i>" not in html
        client.post(f"/pipelines/{run_id}/cancel")
