"""LocalExecutionEnvironment: the spec's required environment, on real processes and files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from shopfloor.sandbox.environment import (
    DEFAULT_COMMAND_TIMEOUT_MS,
    ExecutionEnvironment,
    LocalExecutionEnvironment,
)
from shopfloor.sandbox.files import GrepOptions
from shopfloor.sandbox.process import DEFAULT_KILL_GRACE_S
from tests.support.sandbox import run_in_background


@pytest.fixture
def env(tmp_path: Path):
    environment = LocalExecutionEnvironment(tmp_path, kill_grace_s=0.5)
    environment.initialize()
    yield environment
    environment.cleanup()


def test_implements_the_protocol_and_reports_metadata(env: LocalExecutionEnvironment, tmp_path: Path) -> None:
    assert isinstance(env, ExecutionEnvironment)
    assert env.working_directory() == str(tmp_path.resolve())
    assert env.platform() == "linux"
    assert env.os_version().startswith("Linux ")
    assert DEFAULT_COMMAND_TIMEOUT_MS == 10_000 and DEFAULT_KILL_GRACE_S == 2.0  # spec 5.4


def test_file_operations_resolve_relative_to_the_working_directory(env: LocalExecutionEnvironment,
                                                                   tmp_path: Path) -> None:
    env.write_file("pkg/mod.py", "a = 1\nb = 2\nc = 3\n")
    assert (tmp_path / "pkg" / "mod.py").read_text() == "a = 1\nb = 2\nc = 3\n"
    assert env.file_exists("pkg/mod.py") and not env.file_exists("pkg/missing.py")
    assert env.read_file("pkg/mod.py", offset=2, limit=1) == "b = 2\n"
    assert env.read_file(str(tmp_path / "pkg" / "mod.py")).count("\n") == 3
    entries = env.list_directory(".", depth=2)
    assert [(e.name, e.is_dir) for e in entries] == [("pkg", True), ("pkg/mod.py", False)]
    assert entries[1].size == len("a = 1\nb = 2\nc = 3\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2")
    with pytest.raises(ValueError, match="binary"):
        env.read_file("blob.bin")
    with pytest.raises(FileNotFoundError):
        env.read_file("nope.txt")


def test_grep_and_glob(env: LocalExecutionEnvironment, tmp_path: Path) -> None:
    env.write_file("a.py", "def Foo():\n    return 1\n")
    time.sleep(0.01)
    env.write_file("b.txt", "foo bar\n")
    assert env.grep("foo", options=GrepOptions(case_insensitive=True)).splitlines() == [
        f"{tmp_path.resolve()}/a.py:1:def Foo():", f"{tmp_path.resolve()}/b.txt:1:foo bar"]
    assert env.grep("foo", options=GrepOptions(glob_filter="*.py")) == ""
    assert len(env.grep(".", options=GrepOptions(max_results=2)).splitlines()) == 2
    with pytest.raises(ValueError, match="invalid regex"):
        env.grep("(")
    assert [Path(p).name for p in env.glob("*")] == ["b.txt", "a.py"]  # newest first


def test_exec_captures_stdout_stderr_exit_code_and_duration(env: LocalExecutionEnvironment) -> None:
    result = env.exec_command("echo out; echo err >&2; pwd; exit 3")
    assert result.exit_code == 3
    assert result.stdout.splitlines() == ["out", env.working_directory()]
    assert result.stderr == "err\n"
    assert not result.timed_out and result.limit is None
    assert result.duration_ms >= 0
    assert "out" in result.output and "err" in result.output


def test_exec_honours_working_dir_and_extra_env(env: LocalExecutionEnvironment, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = env.exec_command("pwd; echo $GREETING", working_dir="sub", env_vars={"GREETING": "hello"})
    assert result.stdout.splitlines() == [str(tmp_path.resolve() / "sub"), "hello"]


def test_secrets_are_filtered_from_the_environment(env: LocalExecutionEnvironment,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak")
    monkeypatch.setenv("db_password", "hunter2")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-leak")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    out = env.exec_command("env").stdout
    assert "sk-leak" not in out and "hunter2" not in out and "ghp-leak" not in out
    assert "HARMLESS_SETTING=visible" in out and "PATH=" in out


def test_core_and_clean_env_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    core = LocalExecutionEnvironment(tmp_path, env_policy="inherit_core").exec_command("env").stdout
    assert "HARMLESS_SETTING" not in core and "PATH=" in core
    clean = LocalExecutionEnvironment(tmp_path, env_policy="inherit_none").exec_command(
        "/usr/bin/env", env_vars={"ONLY": "me"}).stdout
    names = {line.split("=", 1)[0] for line in clean.split()}
    assert names - {"PWD", "SHLVL", "_"} == {"ONLY"}  # bash itself sets PWD, SHLVL and _


def test_timeout_sends_sigterm_then_sigkill_to_the_whole_group(env: LocalExecutionEnvironment,
                                                               tmp_path: Path) -> None:
    # The shell ignores SIGTERM, so only the SIGKILL after the grace period ends it;
    # its background child writes its pid so we can check the whole group died.
    script = f"trap '' TERM; sleep 60 & echo $! > {tmp_path}/child; echo started; wait"
    started = time.monotonic()
    result = env.exec_command(script, timeout_ms=300)
    elapsed = time.monotonic() - started
    assert result.timed_out and result.limit == "timeout"
    assert result.exit_code == 137
    assert "started" in result.stdout  # partial output is kept
    assert 0.3 + 0.5 <= elapsed < 5  # waited for the grace period before SIGKILL
    child = int((tmp_path / "child").read_text())
    time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_output_is_capped_but_fully_drained(tmp_path: Path) -> None:
    env = LocalExecutionEnvironment(tmp_path, max_output_bytes=1000)
    result = env.exec_command("head -c 5000000 /dev/zero | tr '\\0' a; echo; echo END")
    assert result.exit_code == 0
    assert result.stdout.startswith("a" * 500) and result.stdout.rstrip().endswith("END")
    assert "dropped by the output cap" in result.stdout
    assert result.dropped_bytes == 5000000 + 5 - 1000


def test_cleanup_kills_running_commands(env: LocalExecutionEnvironment) -> None:
    finished = run_in_background(env)
    time.sleep(0.3)
    env.cleanup()
    assert finished().exit_code == 137


def test_background_children_do_not_block_the_result(env: LocalExecutionEnvironment, tmp_path: Path) -> None:
    result = env.exec_command(f"sleep 30 & echo $! > {tmp_path}/bg; echo done", timeout_ms=5000)
    try:
        assert result.stdout == "done\n" and result.duration_ms < 3000
    finally:
        os.kill(int((tmp_path / "bg").read_text()), 9)
