"""Twin throughput on loopback: Slack chat.postMessage and a Jira JQL search,
beside a minimal uvicorn app that returns a constant, measured in the same run.

    .venv/bin/python benchmarks/twins.py [--requests N] [--concurrency C]

Each target is served by uvicorn (h11, asyncio) in a background thread, exactly
as twins are; C client threads each keep one HTTP/1.1 connection alive and send
N/C requests. Printed: requests/s, p50 and p99 latency, and each twin's ratio to
the constant app (1.0 would mean the twin adds nothing).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import statistics
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlparse

import uvicorn

from shopfloor.twins.runner import run_twins

DEFAULT_REQUESTS = 3000
DEFAULT_CONCURRENCY = 4
WARMUP_REQUESTS = 100
SEARCH_ISSUES = 200


async def constant_app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


def serve_constant() -> tuple[str, uvicorn.Server]:
    """The baseline, started the plain uvicorn way (uvicorn binds port 0 itself)."""
    config = uvicorn.Config(
        constant_app,
        host="127.0.0.1",
        port=0,
        log_level="error",
        access_log=False,
        lifespan="off",
        http="h11",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server


Request = tuple[str, str, bytes, dict[str, str]]  # method, path, body, headers


def _round(
    host: str, port: int, make_request: Callable[[int], Request], total: int, concurrency: int
) -> tuple[list[float], float]:
    """`total` requests over `concurrency` keep-alive connections: (sorted latencies, elapsed seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()
    per = max(total // concurrency, 1)

    def worker(first: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine = []
        for i in range(first, first + per):
            method, path, body, headers = make_request(i)
            began = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - began)
            assert response.status == 200, (path, response.status)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(t * per,)) for t in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), time.perf_counter() - began


def measure(url: str, make: Callable[[int], Request], total: int, concurrency: int) -> dict[str, float]:
    parsed = urlparse(url)
    assert parsed.hostname and parsed.port
    _round(parsed.hostname, parsed.port, make, WARMUP_REQUESTS, concurrency)
    latencies, elapsed = _round(parsed.hostname, parsed.port, make, total, concurrency)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args()

    issues = [
        {
            "project": "OPS",
            "summary": f"issue {i}",
            "priority": ["High", "Low", "Medium"][i % 3],
            "labels": ["infra"] if i % 2 else ["web"],
        }
        for i in range(SEARCH_ISSUES)
    ]
    seed = {
        "jira": {
            "users": [{"email": "bench@example.com", "name": "Bench", "api_token": "t"}],
            "projects": [{"key": "OPS", "lead": "bench@example.com"}],
            "issues": issues,
        }
    }
    baseline_url, baseline = serve_constant()
    with run_twins(["slack", "jira"], seed=seed) as fleet:
        slack_auth = {
            "Authorization": "Bearer xoxb-shopfloor-twin",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        jira_auth = {"Authorization": "Basic " + base64.b64encode(b"bench@example.com:t").decode()}
        search = "/rest/api/3/search/jql?" + urlencode(
            {
                "jql": "project = OPS AND labels = infra ORDER BY priority DESC",
                "maxResults": 20,
                "fields": "summary,status,priority",
            }
        )
        targets: dict[str, tuple[str, Callable[[int], Request]]] = {
            "constant uvicorn app (baseline)": (baseline_url, lambda i: ("GET", "/", b"", {})),
            "slack chat.postMessage": (
                fleet["slack"].url,
                lambda i: (
                    "POST",
                    "/api/chat.postMessage",
                    urlencode({"channel": "#general", "text": f"m{i}"}).encode(),
                    slack_auth,
                ),
            ),
            f"jira search/jql ({SEARCH_ISSUES} issues)": (
                fleet["jira"].url,
                lambda i: ("GET", search, b"", jira_auth),
            ),
        }
        results = {
            name: measure(url, make, args.requests, args.concurrency) for name, (url, make) in targets.items()
        }
    baseline.should_exit = True
    base = results["constant uvicorn app (baseline)"]
    print(f"{args.requests} requests per target, {args.concurrency} keep-alive connections, loopback")
    header = ("target", "req/s", "p50 ms", "p99 ms", "req/s vs baseline", "p99 vs baseline")
    print(f"{header[0]:<34} {header[1]:>9} {header[2]:>8} {header[3]:>8} {header[4]:>18} {header[5]:>16}")
    for name, r in results.items():
        print(
            f"{name:<34} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['rps'] / base['rps']:>17.2f}x {r['p99_ms'] / base['p99_ms']:>15.2f}x"
        )


if __name__ == "__main__":
    main()
