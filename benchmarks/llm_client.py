"""What the unified LLM client costs over raw httpx, against the same local scripted server.

    .venv/bin/python benchmarks/llm_client.py [--calls N] [--stream-chars N]

1. Non-streaming: p50 latency of `Client.complete` (OpenAI Responses wire format)
   against a bare `httpx.Client.post` + `response.json()` of the same body, calls
   interleaved so both see the same server and machine load. Target: < 1 ms added.
2. Streaming: text-delta events per second through `Client.stream` (Anthropic
   SSE) against the same bytes read with httpx `iter_lines` + `json.loads`.
Each figure is printed beside its baseline with the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support.llm_server

from tests.support.llm_server import Reply, ScriptedLLMServer

from shopfloor.llm.client import Client
from shopfloor.llm.types import Message, Request, StreamEventType

DEFAULT_CALLS = 400
DEFAULT_STREAM_CHARS = 20_000
TARGET_ADDED_MS = 1.0


def bench_complete(server: ScriptedLLMServer, calls: int) -> tuple[float, float]:
    server.default = Reply(text="The answer is 42.", input_tokens=12, output_tokens=6)
    client = Client.from_env(server.env())
    request = Request(
        model="gpt-5.2", provider="openai", messages=[Message.user("What is the answer?")], max_tokens=64
    )
    adapter = client.providers["openai"]
    body = adapter.build_body(request)  # type: ignore[attr-defined]
    raw = httpx.Client(headers={"authorization": "Bearer sk-test-openai"})
    url = f"{server.openai_base_url}/responses"
    ours: list[float] = []
    base: list[float] = []
    for _ in range(20):  # warm both connection pools
        client.complete(request)
        raw.post(url, content=json.dumps(body).encode(), headers={"content-type": "application/json"}).json()
    for _ in range(calls):
        start = time.perf_counter()
        raw.post(url, content=json.dumps(body).encode(), headers={"content-type": "application/json"}).json()
        base.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.complete(request)
        ours.append(time.perf_counter() - start)
    raw.close()
    client.close()
    return statistics.median(base) * 1000, statistics.median(ours) * 1000


def bench_stream(server: ScriptedLLMServer, chars: int) -> tuple[float, float, int]:
    server.default = Reply(text="x" * chars, chunk_size=1)
    client = Client.from_env(server.env())
    request = Request(model="claude-opus-4-6", provider="anthropic", messages=[Message.user("stream")])
    body, headers = client.providers["anthropic"].build(request)  # type: ignore[attr-defined]
    body["stream"] = True
    raw = httpx.Client(headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", **headers})

    start = time.perf_counter()
    raw_events = 0
    with raw.stream("POST", f"{server.anthropic_base_url}/v1/messages", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:]).get("type") == "content_block_delta":
                raw_events += 1
    raw_rate = raw_events / (time.perf_counter() - start)

    start = time.perf_counter()
    ours_events = sum(1 for e in client.stream(request) if e.type == StreamEventType.TEXT_DELTA)
    ours_rate = ours_events / (time.perf_counter() - start)
    raw.close()
    client.close()
    assert raw_events == ours_events == chars, (raw_events, ours_events)
    return raw_rate, ours_rate, ours_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--stream-chars", type=int, default=DEFAULT_STREAM_CHARS)
    args = parser.parse_args()
    with ScriptedLLMServer() as server:
        base_ms, ours_ms = bench_complete(server, args.calls)
        raw_rate, ours_rate, events = bench_stream(server, args.stream_chars)
    added = ours_ms - base_ms
    verdict = "meets" if added < TARGET_ADDED_MS else "MISSES"
    print(f"non-streaming p50 over {args.calls} calls: raw httpx {base_ms:.3f} ms"
          f" | shopfloor.llm {ours_ms:.3f} ms | added {added:+.3f} ms | ratio {ours_ms / base_ms:.2f}x"
          f" ({verdict} the < {TARGET_ADDED_MS:g} ms target)")
    print(f"streaming, {events} text deltas: raw httpx {raw_rate:,.0f} events/s"
          f" | shopfloor.llm {ours_rate:,.0f} events/s | ratio {ours_rate / raw_rate:.2f}x")

if __name__ == "__main__":
    main()
