"""`auto`: offline repair first; the agent only when repair falls short and a provider is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shopfloor.config import ProjectFile
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.workers.auto import create_backend
from tests.support.llm_server import Reply, ScriptedLLMServer, ToolUse

# A defect no mutation can fix (a string literal): repair must fall short.
GREETER = "def greet(name):\n    return 'hi'\n"
TESTS = "from greeter import greet\n\ndef test_greets_by_name():\n    assert greet('ada') == 'hello, ada'\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "greeter.py").write_text(GREETER)
    (root / "tests" / "test_greeter.py").write_text(TESTS)
    return root


def _run(tmp_path: Path, project: Path) -> tuple[str | Outcome, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    scope = RunScope("run1", tmp_path / "logs", ProjectFile(None, {}), None,
                     lambda kind, data: events.append((kind, data)))
    with scope.resources:
        options = {"workspace": str(project), "budget": 5, "provider": "anthropic"}
        result = create_backend(scope, options).run(
            Node("implement"), "Greet people by name", Context())
    return result, events


def test_repair_falls_short_and_the_agent_takes_over(tmp_path: Path, project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedLLMServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        fix = {"file_path": "greeter.py", "old_string": "'hi'", "new_string": "f'hello, {name}'"}
        server.push(Reply(tool_calls=[ToolUse("edit_file", fix)]), Reply(text="greet now uses the name"))
        result, events = _run(tmp_path, project)
    assert result == "greet now uses the name"
    assert "f'hello, {name}'" in (project / "greeter.py").read_text()
    kinds = [kind for kind, _ in events]
    assert kinds.index("repair.finished") < kinds.index("auto.escalated") < kinds.index("agent.session_start")


def test_without_a_provider_repairs_outcome_stands(tmp_path: Path, project: Path) -> None:
    result, events = _run(tmp_path, project)
    assert isinstance(result, Outcome) and result.status == StageStatus.FAIL
    assert "auto.escalated" not in [kind for kind, _ in events]
    assert (project / "greeter.py").read_text() == GREETER
