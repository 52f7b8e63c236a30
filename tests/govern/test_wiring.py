"""Run-level governance wiring: one budget tree and one brake per node across a node's sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopfloor.config import ProjectFile
from shopfloor.govern.wiring import govern_session
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.scope import RunScope
from tests.support.agent import AgentHarness, anthropic_agent, shared_llm_server  # noqa: F401 (fixtures)
from tests.support.llm_server import Reply, ToolUse
from tests.support.runaways import RUN_TESTS, RUNAWAYS, calc_project, calls, shell


def _scope(tmp_path: Path, emitted: list[tuple[str, dict[str, Any]]]) -> RunScope:
    return RunScope("run-1", tmp_path / "run", ProjectFile(None, {}), None,
                    lambda kind, data: emitted.append((kind, data)))


def test_plateau_accumulates_over_a_nodes_retries(anthropic_agent: AgentHarness, tmp_path: Path) -> None:  # noqa: F811
    calc_project(anthropic_agent.workspace)
    emitted: list[tuple[str, dict[str, Any]]] = []
    scope = _scope(tmp_path, emitted)
    node = Node("implement")
    wrong = [f"def add(a, b):\n    return a - b  # try {i}\n" for i in range(3)]  # never passes a test
    first = [reply for content in wrong for reply in (
        calls(ToolUse("write_file", {"file_path": "src/calc.py", "content": content})),
        calls(shell(RUN_TESTS)))] + [Reply(text="I could not fix it.")]
    anthropic_agent.server.push(*first)
    attempt1 = anthropic_agent.session()
    gov1 = govern_session(scope, node, attempt1)
    assert attempt1.submit("fix the bug").status == "completed" and gov1.stop_reason is None

    anthropic_agent.server.default = RUNAWAYS["plateau"].model()
    attempt2 = anthropic_agent.session()
    gov2 = govern_session(scope, node, attempt2)
    result = attempt2.submit("fix the bug (retry)")
    assert result.status == "aborted" and (gov2.stop_reason or "").startswith("brake: plateau")
    steer = next(data for kind, data in emitted if kind == "brake.steer")
    assert steer["node_id"] == "implement" and steer["reason"].startswith("5 test runs without improving")
    # The retry was steered at its 3rd test run (the 6th in all: the first attempt's 3 runs counted)
    # and stopped at its 4th: 4 write/test pairs.
    assert len(anthropic_agent.server.requests) - len(first) == 8
    scope.resources.close()
    budget = json.loads((tmp_path / "run" / "budget.json").read_text())
    assert budget["run"]["llm_calls"] == len(anthropic_agent.server.requests)
    assert budget["nodes"]["implement"]["llm_calls"] == len(anthropic_agent.server.requests)
