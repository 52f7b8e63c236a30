"""What the agent loop adds to each tool call, beside the work the tool itself does.

    .venv/bin/python benchmarks/agent.py

1. Tool dispatch: `Session.dispatch_tool("read_file", ...)` (registry lookup, JSON-Schema
   validation, pre/post hooks, truncation, TOOL_CALL_START/END events) against the
   same read done directly on the LocalExecutionEnvironment with line numbering.
   Target: p50 overhead within 2x of the bare read.
2. apply_patch: a 50-hunk v4a patch on a 5,000-line file (parse, fuzzy-capable hunk
   matching, all-or-nothing plan, write) against write_file of the already-patched text.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shopfloor.agent.profiles import create_anthropic_profile, create_openai_profile
from shopfloor.agent.session import Session
from shopfloor.agent.tools.files import number_lines
from shopfloor.llm.client import Client
from shopfloor.sandbox.environment import LocalExecutionEnvironment

DISPATCH_ROUNDS = 2000
PATCH_ROUNDS = 30
FILE_LINES = 5000
HUNKS = 50
TARGET_DISPATCH_RATIO = 2.0


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


def report(name: str, ours: list[float], base: list[float], base_name: str) -> float:
    ratio = p(ours, 50) / p(base, 50)
    print(f"{name:<28} p50 {p(ours, 50):8.3f} ms  p95 {p(ours, 95):8.3f} ms  |  {base_name:<22} "
          f"p50 {p(base, 50):8.3f} ms  p95 {p(base, 95):8.3f} ms  |  ratio {ratio:5.2f}x")
    return ratio


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = "".join(f"value_{i} = {i}  # line {i}\n" for i in range(FILE_LINES))
        (root / "module.py").write_text(source)
        env = LocalExecutionEnvironment(root)
        client = Client()  # no provider: dispatching a tool makes no LLM call
        session = Session(create_anthropic_profile(), env, client)

        def bare_read() -> None:
            number_lines(env.read_file("module.py", 1, 200), 1)

        def dispatched_read() -> None:
            session.dispatch_tool("read_file", {"file_path": "module.py", "limit": 200})

        dispatch_ratio = report("dispatch read_file (200 l)", timed(dispatched_read, DISPATCH_ROUNDS),
                                timed(bare_read, DISPATCH_ROUNDS), "bare env read + numbers")

        step = FILE_LINES // HUNKS
        hunks = "".join(f"@@ value_{i * step + 2} = {i * step + 2}  # line {i * step + 2}\n"
                        f"-value_{i * step + 3} = {i * step + 3}  # line {i * step + 3}\n"
                        f"+value_{i * step + 3} = -1  # patched\n" for i in range(HUNKS))
        patch = f"*** Begin Patch\n*** Update File: module.py\n{hunks}*** End Patch"
        patcher = Session(create_openai_profile(), env, client)
        patched = patcher.dispatch_tool("apply_patch", {"patch": patch})
        assert not patched.is_error, patched.content
        expected = (root / "module.py").read_text()

        def apply() -> None:
            (root / "module.py").write_text(source)
            patcher.dispatch_tool("apply_patch", {"patch": patch})

        def write() -> None:
            (root / "module.py").write_text(source)
            env.write_file("module.py", expected)

        report(f"apply_patch ({HUNKS} hunks)", timed(apply, PATCH_ROUNDS), timed(write, PATCH_ROUNDS),
               "write_file of result")
        print(f"target: dispatch overhead within {TARGET_DISPATCH_RATIO:g}x of the bare read — "
              f"{'met' if dispatch_ratio <= TARGET_DISPATCH_RATIO else 'NOT met'} ({dispatch_ratio:.2f}x)")


if __name__ == "__main__":
    main()
