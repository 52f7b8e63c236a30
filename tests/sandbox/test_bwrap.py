"""SandboxedExecutionEnvironment: isolation basics, allowed ports, the emergency stop, config."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.sandbox import kill_all, registry
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import ExecutionEnvironment
from shopfloor.sandbox.policy import DEFAULT_MEMORY_MB, SandboxPolicy
from tests.support.sandbox import (
    connect_script,
    run_in_background,
    sandbox_in_another_process,
    wait_for_processes,
)


def test_is_an_execution_environment_that_runs_in_the_workspace(open_sandbox, workspace: Path) -> None:
    env = open_sandbox()
    assert isinstance(env, ExecutionEnvironment)
    assert env.working_directory() == str(workspace.resolve()) and env.platform() == "linux"
    result = env.exec_command("pwd; id -u; hostname; echo $HOME; ls /proc | grep -c '^[0-9]'")
    pwd, uid, hostname, home, nprocs = result.stdout.split()
    assert (pwd, uid, hostname, home) == (str(workspace.resolve()), "1000", "shopfloor-sandbox", "/tmp")
    assert int(nprocs) < 10  # its own PID namespace: only the sandbox's processes are visible
    assert env.exec_command("cat README.md; exit 4").exit_code == 4


def test_file_operations_are_confined_to_the_workspace(open_sandbox, workspace: Path) -> None:
    env = open_sandbox()
    env.write_file("src/app.py", "print('hi')\n")
    assert env.exec_command("python3 src/app.py").stdout == "hi\n"
    assert env.read_file(str(workspace / "src" / "app.py")) == "print('hi')\n"
    assert [e.name for e in env.list_directory("src")] == ["app.py"]
    assert env.glob("**/*.py") == [str(workspace.resolve() / "src" / "app.py")]
    with pytest.raises(PermissionError):
        env.read_file("/etc/hostname")
    with pytest.raises(PermissionError):
        env.write_file("../escape.txt", "x")
    assert not (workspace.parent / "escape.txt").exists()


def test_background_processes_end_with_their_command(open_sandbox, workspace: Path) -> None:
    env = open_sandbox()
    assert env.exec_command("sleep 30 & echo started").stdout == "started\n"
    listing = env.exec_command("ps -eo comm").stdout.split()
    assert "sleep" not in listing


def test_allowed_loopback_port_is_reachable_and_others_are_not(open_sandbox, loopback_server) -> None:
    other = socket_server()
    try:
        env = open_sandbox(allowed_ports=[loopback_server.port])
        ok = env.exec_command(connect_script(loopback_server.port), timeout_ms=8000)
        assert ok.exit_code == 0 and ok.stdout == "b'host says: ping'\n"
        assert loopback_server.accepted == 1
        refused = env.exec_command(connect_script(other.getsockname()[1]), timeout_ms=8000)
        assert refused.exit_code == 3 and "Connection refused" in refused.stdout
    finally:
        other.close()


def socket_server():  # type: ignore[no-untyped-def]
    import socket

    return socket.create_server(("127.0.0.1", 0))


def test_kill_all_stops_every_live_sandbox(open_sandbox) -> None:
    env = open_sandbox()
    finished = run_in_background(env)
    deadline = time.monotonic() + 5
    while "sleep" not in env.exec_command("ps -eo comm").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(registry.entries()) == 1
    assert kill_all() == 1
    assert finished().exit_code == 137
    assert registry.entries() == []
    assert env.exec_command("echo back").stdout == "back\n"  # a later command gets a fresh sandbox


def test_cleanup_kills_running_commands(open_sandbox) -> None:
    env = open_sandbox()
    finished = run_in_background(env)
    time.sleep(0.3)
    env.cleanup()
    assert finished().exit_code == 137


def test_file_size_limit_is_reported(open_sandbox) -> None:
    env = open_sandbox(max_file_size_mb=1)
    result = env.exec_command("head -c 5000000 /dev/zero > big.bin")
    assert result.limit == "file_size" and result.exit_code == 153
    assert env.limit_reason("file_size") == "file size limit of 1 MiB exceeded"


def test_missing_bubblewrap_is_one_line_saying_how_to_install_it(workspace: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError) as err:
        SandboxedExecutionEnvironment(workspace).initialize()
    assert "apt-get install bubblewrap" in err.value.line() and "\n" not in err.value.line()


def test_policy_comes_from_the_sandbox_section_with_documented_defaults(tmp_path: Path) -> None:
    config = tmp_path / "shopfloor.toml"
    config.write_text("[sandbox]\nallowed_ports = [8080]\nmemory_mb = 512\n")
    policy = SandboxPolicy.from_config(ProjectFile.load(config))
    assert policy.allowed_ports == [8080] and policy.memory_mb == 512
    assert SandboxPolicy().memory_mb == DEFAULT_MEMORY_MB
    assert ".git" in SandboxPolicy().read_only_paths
    config.write_text("[sandbox]\nmemroy_mb = 512\n")
    with pytest.raises(UserError, match=r"\[sandbox\]\.memroy_mb"):
        SandboxPolicy.from_config(ProjectFile.load(config))


def test_parallel_commands_in_one_sandbox_keep_their_own_output(open_sandbox) -> None:
    env = open_sandbox()
    results: dict[int, object] = {}

    def work(i: int) -> None:
        results[i] = env.exec_command(f"sleep 0.2; echo out-{i}; echo err-{i} >&2; exit {i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    for i in range(4):
        result = results[i]
        assert (result.stdout, result.stderr, result.exit_code) == (f"out-{i}\n", f"err-{i}\n", i)  # type: ignore[attr-defined]


def test_kill_all_from_another_process_stops_the_sandbox(workspace: Path) -> None:
    with sandbox_in_another_process(workspace, os.environ) as (host, marker):
        assert kill_all() == 1  # same SHOPFLOOR_HOME, different process: the emergency stop
        assert host.stdout is not None and host.stdout.readline() == "137\n"
        assert wait_for_processes(marker, present=False, timeout_s=5) == []


def test_read_only_globs_collapse_to_their_top_directories(workspace: Path) -> None:
    from shopfloor.sandbox.bwrap import read_only_paths

    for i in range(50):
        (workspace / "scenarios" / f"s{i}").mkdir(parents=True)
        (workspace / "scenarios" / f"s{i}" / "case.yaml").write_text("x\n")
    (workspace / "ci.yml").write_text("x\n")
    policy = SandboxPolicy(read_only_paths=[".git", "scenarios/**", "*.yml", "../outside"])
    root = workspace.resolve()
    assert read_only_paths(root, policy) == [root / ".git", root / "ci.yml", root / "scenarios"]
