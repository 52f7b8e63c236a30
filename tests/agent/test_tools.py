"""The built-in tools against a real temp workspace (LocalExecutionEnvironment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.agent.registry import (
    InvalidArguments,
    RegisteredTool,
    ToolError,
    ToolRegistry,
    tool_definition,
)
from shopfloor.agent.tools.apply_patch import APPLY_PATCH
from shopfloor.agent.tools.files import (
    EDIT_FILE,
    GEMINI_EDIT_FILE,
    LIST_DIR,
    READ_FILE,
    READ_MANY_FILES,
    WRITE_FILE,
)
from shopfloor.agent.tools.search import GLOB, grep_tool
from shopfloor.sandbox.environment import LocalExecutionEnvironment


@pytest.fixture
def env(tmp_path: Path) -> LocalExecutionEnvironment:
    work = tmp_path / "work"
    work.mkdir()
    return LocalExecutionEnvironment(work)


def run(tool: RegisteredTool, env: LocalExecutionEnvironment, **arguments: object) -> str:
    registry = ToolRegistry([tool])
    output = tool.executor(registry.validate_arguments(tool.name, arguments), env)
    return output if isinstance(output, str) else "".join(output)


def test_read_file_numbers_lines_and_honours_offset_and_limit(env: LocalExecutionEnvironment) -> None:
    Path(env.working_directory(), "a.txt").write_text("".join(f"line{i}\n" for i in range(1, 11)))
    assert run(READ_FILE, env, file_path="a.txt").splitlines()[0] == "  1 | line1"
    out = run(READ_FILE, env, file_path="a.txt", offset=4, limit=2)
    assert out == "  4 | line4\n  5 | line5"


def test_read_file_errors_for_missing_and_binary_files(env: LocalExecutionEnvironment) -> None:
    with pytest.raises(ToolError, match=r"File not found: nope\.txt"):
        run(READ_FILE, env, file_path="nope.txt")
    Path(env.working_directory(), "b.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="binary"):
        run(READ_FILE, env, file_path="b.bin")


def test_write_file_creates_parents_and_reports_bytes(env: LocalExecutionEnvironment) -> None:
    out = run(WRITE_FILE, env, file_path="pkg/sub/x.py", content="print('hé')\n")
    assert out == "Created pkg/sub/x.py (13 bytes written)"
    assert Path(env.working_directory(), "pkg/sub/x.py").read_text() == "print('hé')\n"
    assert run(WRITE_FILE, env, file_path="pkg/sub/x.py", content="").startswith("Overwrote")


def test_edit_file_exact_unique_and_replace_all(env: LocalExecutionEnvironment) -> None:
    path = Path(env.working_directory(), "e.py")
    path.write_text("a = 1\nb = 1\na = 1\n")
    with pytest.raises(ToolError, match="occurs 2 times"):
        run(EDIT_FILE, env, file_path="e.py", old_string="a = 1", new_string="a = 2")
    assert (
        run(EDIT_FILE, env, file_path="e.py", old_string="b = 1", new_string="b = 5")
        == "Edited e.py: 1 replacement"
    )
    assert (
        run(EDIT_FILE, env, file_path="e.py", old_string="a = 1", new_string="a = 2", replace_all=True)
        == "Edited e.py: 2 replacements"
    )
    assert path.read_text() == "a = 2\nb = 5\na = 2\n"
    with pytest.raises(ToolError, match="old_string not found"):
        run(EDIT_FILE, env, file_path="e.py", old_string="zzz", new_string="y")


def test_edit_file_falls_back_to_whitespace_insensitive_matching(env: LocalExecutionEnvironment) -> None:
    path = Path(env.working_directory(), "f.py")
    path.write_text("def f():\n    return 1   \n")
    out = run(
        EDIT_FILE,
        env,
        file_path="f.py",
        old_string="def f():\n  return 1",
        new_string="def f():\n    return 2",
    )
    assert "normalization" in out
    assert path.read_text() == "def f():\n    return 2\n"


def test_gemini_edit_checks_expected_replacements(env: LocalExecutionEnvironment) -> None:
    path = Path(env.working_directory(), "g.txt")
    path.write_text("x x x")
    with pytest.raises(ToolError, match="expected 2 occurrence"):
        run(GEMINI_EDIT_FILE, env, file_path="g.txt", old_string="x", new_string="y", expected_replacements=2)
    run(GEMINI_EDIT_FILE, env, file_path="g.txt", old_string="x", new_string="y", expected_replacements=3)
    assert path.read_text() == "y y y"


def test_apply_patch_adds_updates_moves_and_deletes(env: LocalExecutionEnvironment) -> None:
    root = Path(env.working_directory())
    (root / "main.py").write_text("import os\nimport sys\n\ndef main():\n    return 0\n")
    (root / "old.py").write_text("gone\n")
    patch = (
        "*** Begin Patch\n"
        "*** Add File: pkg/new.py\n+VALUE = 1\n"
        "*** Update File: main.py\n*** Move to: app.py\n@@ def main():\n-    return 0\n+    return 1\n"
        "*** Delete File: old.py\n"
        "*** End Patch"
    )
    out = run(APPLY_PATCH, env, patch=patch)
    assert out.splitlines() == [
        "Success. Updated the following files:",
        "A pkg/new.py",
        "R main.py -> app.py",
        "D old.py",
    ]
    assert (root / "pkg/new.py").read_text() == "VALUE = 1\n"
    assert (root / "app.py").read_text().endswith("    return 1\n")
    assert not (root / "main.py").exists() and not (root / "old.py").exists()


def test_apply_patch_is_all_or_nothing(env: LocalExecutionEnvironment) -> None:
    root = Path(env.working_directory())
    (root / "a.py").write_text("x = 1\n")
    patch = (
        "*** Begin Patch\n*** Add File: b.py\n+y\n*** Update File: a.py\n@@\n-not there\n+z\n*** End Patch"
    )
    with pytest.raises(ToolError, match="No files were changed"):
        run(APPLY_PATCH, env, patch=patch)
    assert not (root / "b.py").exists() and (root / "a.py").read_text() == "x = 1\n"
    with pytest.raises(ToolError, match="Invalid patch"):
        run(APPLY_PATCH, env, patch="not a patch")


def test_grep_modes_and_glob(env: LocalExecutionEnvironment) -> None:
    root = Path(env.working_directory())
    (root / "src").mkdir()
    (root / "src/a.py").write_text("TODO one\nfine\nTODO two\n")
    (root / "src/b.txt").write_text("todo three\n")
    out = run(grep_tool(), env, pattern="TODO")
    assert "a.py:1:TODO one" in out and "a.py:3:TODO two" in out and "b.txt" not in out
    assert "b.txt" in run(grep_tool(), env, pattern="todo", case_insensitive=True, glob_filter="*.txt")
    tool = grep_tool(with_output_mode=True)
    assert run(tool, env, pattern="TODO", output_mode="count").endswith("a.py:2")
    assert run(tool, env, pattern="TODO", output_mode="files_with_matches").endswith("src/a.py")
    assert run(grep_tool(), env, pattern="absent") == "No matches found."
    assert run(GLOB, env, pattern="**/*.py").endswith("src/a.py")


def test_list_dir_and_read_many_files(env: LocalExecutionEnvironment) -> None:
    root = Path(env.working_directory())
    (root / "d").mkdir()
    (root / "d/x.txt").write_text("xx")
    (root / "y.txt").write_text("yy")
    assert run(LIST_DIR, env, depth=2).splitlines() == ["d/", "d/x.txt (2 bytes)", "y.txt (2 bytes)"]
    out = run(READ_MANY_FILES, env, paths=["y.txt", "d/*.txt", "missing.md"])
    assert "--- y.txt ---\nyy" in out and "x.txt ---\nxx" in out and "[no file matches]" in out


def test_registry_validates_arguments_against_the_schema() -> None:
    registry = ToolRegistry([READ_FILE])
    with pytest.raises(InvalidArguments, match="'file_path' is a required property"):
        registry.validate_arguments("read_file", {})
    with pytest.raises(InvalidArguments, match="limit: 'ten' is not of type 'integer'"):
        registry.validate_arguments("read_file", {"file_path": "a", "limit": "ten"})
    with pytest.raises(InvalidArguments, match="not valid JSON"):
        registry.validate_arguments("read_file", "{broken")
    assert registry.validate_arguments("read_file", '{"file_path": "a"}') == {"file_path": "a"}


def test_registry_latest_registration_wins_and_rejects_bad_schemas() -> None:
    registry = ToolRegistry([READ_FILE])
    custom = RegisteredTool(tool_definition("read_file", "custom", {}, []), lambda args, env: "custom")
    registry.register(custom)
    assert registry.get("read_file") is custom and registry.names() == ["read_file"]
    registry.unregister("read_file")
    assert registry.get("read_file") is None
    with pytest.raises(ValueError, match="invalid parameters schema"):
        registry.register(RegisteredTool(tool_definition("bad", "", {"x": {"type": 5}}, []), lambda a, e: ""))


def test_apply_patch_works_the_same_in_the_bubblewrap_sandbox(tmp_path: Path) -> None:
    from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment

    work = tmp_path / "sandboxed"
    work.mkdir()
    (work / "keep.py").write_text("A = 1\n")
    (work / "drop.py").write_text("B = 2\n")
    env = SandboxedExecutionEnvironment(work)
    env.initialize()
    try:
        patch = ("*** Begin Patch\n*** Update File: keep.py\n@@\n-A = 1\n+A = 10\n*** Delete File: drop.py\n"
                 "*** Add File: sub/new.py\n+C = 3\n*** End Patch")
        out = run(APPLY_PATCH, env, patch=patch)  # type: ignore[arg-type]
    finally:
        env.cleanup()
    assert out.endswith("M keep.py\nD drop.py\nA sub/new.py")
    assert (work / "keep.py").read_text() == "A = 10\n" and not (work / "drop.py").exists()
    assert (work / "sub/new.py").read_text() == "C = 3\n"
