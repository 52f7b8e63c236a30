"""Recorded-style event streams for the brake: what a Session would emit, written by hand.

`EventScript` produces the exact event shapes `agent.events.SessionEvent.to_dict()`
writes (tool_call_start with arguments, tool_call_end with output or error,
assistant_text_end), so detector tests and `brake replay` tests read like logs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class EventScript:
    def __init__(self, session_id: str = "s1", node_id: str | None = None) -> None:
        self.session_id = session_id
        self.node_id = node_id
        self.events: list[dict[str, Any]] = []
        self._calls = 0

    def _add(self, kind: str, **data: Any) -> None:
        if self.node_id is not None:
            data["node_id"] = self.node_id
        self.events.append({"kind": kind, "session_id": self.session_id, "data": data})

    def text(self, text: str, tool_calls: int = 0) -> EventScript:
        self._add("assistant_text_end", text=text, tool_calls=tool_calls)
        return self

    def call(self, name: str, output: str = "", error: str | None = None, **arguments: Any) -> EventScript:
        self._calls += 1
        call_id = f"call-{self._calls}"
        self.text("", tool_calls=1)
        self._add("tool_call_start", tool_name=name, call_id=call_id, arguments=arguments)
        if error is not None:
            self._add("tool_call_end", tool_name=name, call_id=call_id, error=error)
        else:
            self._add("tool_call_end", tool_name=name, call_id=call_id, output=output)
        return self

    def shell(self, command: str, output: str = "") -> EventScript:
        return self.call("shell", output=output, command=command)

    def write(self, path: str, content: str) -> EventScript:
        return self.call("write_file", output=f"wrote {len(content)} bytes to {path}", file_path=path,
                         content=content)

    def edit(self, path: str, old: str, new: str) -> EventScript:
        return self.call("edit_file", output=f"edited {path}", file_path=path, old_string=old, new_string=new)

    def read(self, path: str, output: str = "") -> EventScript:
        return self.call("read_file", output=output or f"1\tcontents of {path}", file_path=path)

    @property
    def tool_steps(self) -> int:
        return self._calls

    def write_jsonl(self, path: Path) -> Path:
        path.write_text("".join(json.dumps(e) + "\n" for e in self.events))
        return path


def pytest_output(passed: int, failed: int) -> str:
    parts = [f"{failed} failed"] if failed else []
    parts.append(f"{passed} passed")
    return f"...\n===== {', '.join(parts)} in 0.12s =====\n"


def healthy_script(modules: int = 14) -> EventScript:
    """A productive agent: reads, writes new modules and their (asserting) tests, runs tests, improves.

    Every module adds 4 tool steps; passing tests go up by one per module.
    """
    script = EventScript()
    script.read("README.md", "1\t# project")
    script.shell("ls", "README.md\nsrc\ntests")
    for i in range(modules):
        body = "\n".join(f"def f{i}_{j}(x):\n    return x + {j}\n" for j in range(6))
        script.write(f"src/mod{i}.py", body)
        script.write(f"tests/test_mod{i}.py",
                     f"from mod{i} import f{i}_0\n\n\ndef test_f{i}():\n    assert f{i}_0(1) == 1\n")
        script.shell("python -m pytest -q", pytest_output(i + 1, 1 if i % 3 == 0 else 0))
        script.edit(f"src/mod{i}.py", "return x + 0\n", f"return x + 0  # identity for f{i}_0\n")
    script.shell("python -m pytest -q", pytest_output(modules, 0))
    script.shell("git status --short", "M src/mod0.py")
    script.text("All modules implemented and tested.")
    return script
