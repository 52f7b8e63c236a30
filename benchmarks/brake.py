"""What the brake costs per event, and what each runaway agent wastes before it is stopped.

    .venv/bin/python benchmarks/brake.py

1. Overhead: every event of a recorded healthy trajectory (14 modules, 60 tool
   steps) through `Brake.observe`, against two baselines measured in the same
   run: appending the event to a list, and appending it to a hash-chained
   events.jsonl (`EventLog.append`, what every run does anyway).
2. Waste: each scripted runaway of tests/support/runaways.py run through a real
   Session (scripted provider server over loopback HTTP, real tools in a temp
   workspace) under the governor, until the brake stops it. Reported: tool steps
   and LLM tokens spent, against what the same runaway would spend without a
   brake before the node's turn limit (workers.agent DEFAULT_NODE_MAX_TURNS) ended it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: trajectories, scripted server

from tests.support.agent import make_harness
from tests.support.brake import healthy_script
from tests.support.governed import governed
from tests.support.llm_server import ScriptedLLMServer
from tests.support.runaways import DEFAULT_REPLY_TOKENS, RUNAWAYS

from shopfloor.config import ProjectFile
from shopfloor.govern.brake import Brake
from shopfloor.govern.policy import load_policy
from shopfloor.observe.eventlog import EventLog
from shopfloor.workers.agent import DEFAULT_NODE_MAX_TURNS

REPEATS = 30


def overhead() -> None:
    policy = load_policy(ProjectFile(None, {}))
    events = healthy_script().events
    total = len(events) * REPEATS

    def per_event(fn: object) -> float:
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        return (time.perf_counter() - start) / total * 1e6

    def brake() -> None:
        for _ in range(REPEATS):
            b = Brake(policy)
            for i, e in enumerate(events):
                b.observe(e["kind"], e["data"], i)

    def to_list() -> None:
        for _ in range(REPEATS):
            out: list[object] = []
            for e in events:
                out.append(e)

    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "events.jsonl")

        def to_log() -> None:
            for _ in range(REPEATS):
                for e in events:
                    log.append(e["kind"], e["data"])
            log.flush(durable=False)

        t_brake, t_list, t_log = per_event(brake), per_event(to_list), per_event(to_log)
        log.close()
    print(f"detector overhead over {total} events ({len(events)}-event healthy trajectory x {REPEATS})")
    print(f"  brake.observe          {t_brake:8.2f} us/event")
    print(f"  baseline list.append   {t_list:8.2f} us/event   ratio brake/list   {t_brake / t_list:8.1f}x")
    print(f"  baseline EventLog      {t_log:8.2f} us/event   ratio brake/eventlog {t_brake / t_log:6.2f}x")


def waste() -> None:
    per_reply = sum(DEFAULT_REPLY_TOKENS)
    cap_tokens = DEFAULT_NODE_MAX_TURNS * per_reply
    print(f"\nrunaway agents, stopped by the brake vs. running to the turn limit without it "
          f"({DEFAULT_NODE_MAX_TURNS} turns, {cap_tokens:,} tokens at {per_reply} tokens/reply)")
    print(f"  {'runaway':<12} {'detector':<12} {'LLM calls':>9} {'tool steps':>10} {'tokens':>8} "
          f"{'after 1st steer':>15} {'tokens vs no brake':>19}")
    with ScriptedLLMServer() as server:
        for runaway in RUNAWAYS.values():
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                (root / "precious").mkdir()
                harness = make_harness("anthropic", server, root)
                runaway.setup(harness.workspace)
                server.requests.clear()
                server.default = runaway.model()
                gov = governed(harness)
                emit, calls_at_steer = gov.governor.emit, []

                def mark(kind: str, data: dict[str, object], emit=emit, marks=calls_at_steer) -> None:
                    if kind == "brake.steer":
                        marks.append(len(server.requests))
                    emit(kind, data)

                gov.governor.emit = mark
                gov.run("do the task")
                harness.env.cleanup()
                harness.client.close()
                assert gov.governor.stop_reason, f"{runaway.name} was not stopped"
                steps = sum(1 for e in harness.events if e.kind.value == "tool_call_end")
                tokens = int(gov.budget.spent()["tokens"])
                after = gov.llm_calls - calls_at_steer[0]
                print(f"  {runaway.name:<12} {runaway.detector:<12} {gov.llm_calls:>9} {steps:>10} "
                      f"{tokens:>8} {after:>11} call(s) {tokens / cap_tokens:>18.1%}")
        server.default = None


if __name__ == "__main__":
    overhead()
    waste()
