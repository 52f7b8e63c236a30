"""Hostile code in the sandbox: every attack is contained, reported, and leaves the host unchanged.

Limits are set tight (a few processes, tens of MiB, one CPU second) so the bombs
cannot hurt the shared machine even while they run.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from shopfloor.sandbox.bwrap import LIMIT_EXIT_CODES
from shopfloor.sandbox.files import PathOutsideWorkspaceError
from tests.support.sandbox import (
    connect_script,
    processes_with_argument,
    sandbox_in_another_process,
    sleep_marker,
    wait_for_processes,
)


def test_writing_outside_the_workspace_fails_and_the_host_is_unchanged(open_sandbox, workspace: Path,
                                                                        outside_dir: Path) -> None:
    env = open_sandbox()
    result = env.exec_command(
        f"echo pwned > {outside_dir}/canary.txt; echo pwned > {outside_dir}/new.txt; "
        "echo pwned > /etc/shopfloor-pwned; echo pwned > /usr/shopfloor-pwned; "
        f"rm -f {outside_dir}/canary.txt; echo private > /tmp/only-in-sandbox; cat /tmp/only-in-sandbox")
    assert result.stderr.count("Read-only file system") == 5
    assert result.stdout == "private\n"  # the private /tmp is writable
    assert (outside_dir / "canary.txt").read_text() == "untouched\n"
    assert sorted(p.name for p in outside_dir.iterdir()) == ["canary.txt"]
    assert not Path("/etc/shopfloor-pwned").exists() and not Path("/usr/shopfloor-pwned").exists()
    assert not Path("/tmp/only-in-sandbox").exists()
    assert env.exec_command("echo mine > inside.txt").exit_code == 0
    assert (workspace / "inside.txt").read_text() == "mine\n"  # only the workspace is writable


def test_reading_a_secret_in_the_host_home_finds_nothing(open_sandbox, home_secret: Path) -> None:
    env = open_sandbox()
    result = env.exec_command(f"cat {home_secret}; ls -A {home_secret.parent}")
    assert "TOP-SECRET-VALUE" not in result.output
    assert "No such file or directory" in result.stderr
    # The home directory inside is empty, except for the mount point of the Python
    # toolchain re-exposed read-only when the interpreter lives under it.
    toolchain = Path(sys.base_prefix).resolve()
    home = home_secret.parent
    allowed = {toolchain.relative_to(home).parts[0]} if home in toolchain.parents else set()
    assert set(result.stdout.split()) <= allowed
    assert env.exec_command("ls -A /home /run").stdout.split() == ["/home:", "/run:"]


def test_api_keys_in_the_host_environment_are_not_visible(open_sandbox,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-host-secret")
    monkeypatch.setenv("DEPLOY_SIGNING_MATERIAL", "not-a-secret-looking-name")
    env = open_sandbox()
    result = env.exec_command("env; cat /proc/1/environ /proc/self/environ | tr '\\0' '\\n'; "
                              "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'")
    assert "host-secret" not in result.output
    assert "not-a-secret-looking-name" not in result.output  # allow-list, not deny-list
    assert "HOME=/tmp" in result.stdout and "PATH=" in result.stdout


def test_loopback_ports_not_allowed_and_external_addresses_are_unreachable(open_sandbox,
                                                                           loopback_server) -> None:
    env = open_sandbox()
    local = env.exec_command(connect_script(loopback_server.port), timeout_ms=8000)
    assert local.exit_code == 3 and "Connection refused" in local.stdout
    external = env.exec_command(connect_script(53, "1.1.1.1"), timeout_ms=8000)
    assert external.exit_code == 3 and "unreachable" in external.stdout
    assert loopback_server.accepted == 0
    interfaces = env.exec_command("cat /proc/net/dev").stdout
    assert [line.split(":")[0].strip() for line in interfaces.splitlines()[2:]] == ["lo"]


def test_fork_bomb_is_capped_by_the_process_limit_and_cleaned_up(open_sandbox) -> None:
    env = open_sandbox(max_processes=16)
    bomb = "python3 -c \"import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\""
    result = env.exec_command(bomb, timeout_ms=1500)
    assert result.limit == "processes"
    assert result.exit_code == LIMIT_EXIT_CODES["processes"] == 154
    assert env.exec_command("echo still alive").stdout == "still alive\n"  # the sandbox recovered


def test_memory_bomb_is_killed_at_the_memory_limit(open_sandbox) -> None:
    env = open_sandbox(memory_mb=64)
    result = env.exec_command("python3 -c \"b = bytearray(512 * 1024 * 1024)\"", timeout_ms=10_000)
    assert result.limit == "memory"
    assert result.exit_code == LIMIT_EXIT_CODES["memory"] == 137
    assert env.exec_command("echo ok").stdout == "ok\n"


def test_cpu_spin_is_stopped_at_the_cpu_limit(open_sandbox) -> None:
    env = open_sandbox(cpu_seconds=1)
    result = env.exec_command("python3 -c 'while True: pass'", timeout_ms=20_000)
    assert result.limit == "cpu" and result.exit_code == LIMIT_EXIT_CODES["cpu"] == 152
    assert not result.timed_out and result.duration_ms < 15_000


def test_infinite_sleep_is_killed_at_the_wall_clock_timeout_even_if_it_ignores_sigterm(open_sandbox) -> None:
    env = open_sandbox()
    marker = sleep_marker()
    started = time.monotonic()
    result = env.exec_command(f"trap '' TERM; sleep {marker} & sleep {marker}; wait", timeout_ms=300)
    assert result.timed_out and result.limit == "timeout"
    assert result.exit_code == LIMIT_EXIT_CODES["timeout"] == 124
    assert 0.3 <= time.monotonic() - started < 5
    assert processes_with_argument(marker) == []  # the background sleep died with the tree


def test_a_gigabyte_of_output_is_drained_but_only_the_cap_is_kept(open_sandbox) -> None:
    env = open_sandbox(max_output_bytes=64 * 1024)
    flood = "head -c 1000000000 /dev/zero | tr '\\0' x; echo; echo THE-END"
    result = env.exec_command(flood, timeout_ms=60_000)
    assert result.exit_code == 0
    assert len(result.stdout) < 70 * 1024
    assert result.dropped_bytes == 1_000_000_000 + len("\nTHE-END\n") - 64 * 1024
    assert result.stdout.rstrip().endswith("THE-END")  # the tail is kept, so the result is visible


def test_killing_its_parent_only_ends_its_own_sandbox(open_sandbox, workspace: Path) -> None:
    env = open_sandbox()
    result = env.exec_command("kill -9 $PPID; kill -9 1; sleep 5")
    assert result.exit_code == 137 and result.duration_ms < 4000
    assert env.exec_command("echo fresh sandbox").stdout == "fresh sandbox\n"


def test_sandboxed_processes_die_when_the_host_process_is_killed(tmp_path: Path, workspace: Path) -> None:
    env = {**os.environ, "SHOPFLOOR_HOME": str(tmp_path / "home")}
    with sandbox_in_another_process(workspace, env) as (host, marker):
        assert processes_with_argument(marker)
        host.send_signal(signal.SIGKILL)
        host.wait()
        assert wait_for_processes(marker, present=False, timeout_s=5) == []


def test_symlinks_in_the_workspace_do_not_escape(open_sandbox, workspace: Path, outside_dir: Path,
                                                 home_secret: Path) -> None:
    env = open_sandbox()
    (workspace / "secret-link").symlink_to(home_secret)
    (workspace / "dir-link").symlink_to(outside_dir)
    inside = env.exec_command("cat secret-link; echo pwned > dir-link/canary.txt; ln -s /etc etc-link; "
                              "echo pwned > etc-link/passwd")
    assert "TOP-SECRET-VALUE" not in inside.output
    assert (outside_dir / "canary.txt").read_text() == "untouched\n"
    # The host-side file operations refuse to follow them out of the workspace.
    with pytest.raises(PathOutsideWorkspaceError):
        env.read_file("secret-link")
    with pytest.raises(PathOutsideWorkspaceError):
        env.write_file("dir-link/canary.txt", "pwned\n")
    with pytest.raises(PathOutsideWorkspaceError):
        env.write_file("etc-link/shopfloor-pwned", "pwned\n")
    assert not env.file_exists("secret-link")
    assert "TOP-SECRET" not in env.grep("SECRET", ".")
    assert (outside_dir / "canary.txt").read_text() == "untouched\n"
    assert not Path("/etc/shopfloor-pwned").exists()


def test_git_hooks_and_protected_paths_are_read_only(open_sandbox, workspace: Path) -> None:
    (workspace / "scenarios").mkdir()
    (workspace / "scenarios" / "sealed.yaml").write_text("score: 1\n")
    env = open_sandbox(read_only_paths=[".git", "scenarios"])
    result = env.exec_command("echo 'curl evil' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; "
                              "rm -rf .git; mv .git gone; echo cheat > scenarios/sealed.yaml; "
                              "rm scenarios/sealed.yaml")
    assert result.exit_code != 0
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    assert (workspace / "scenarios" / "sealed.yaml").read_text() == "score: 1\n"
    with pytest.raises(PermissionError, match="read-only"):
        env.write_file(".git/hooks/post-checkout", "evil")
    with pytest.raises(PermissionError, match="read-only"):
        env.write_file("scenarios/sealed.yaml", "cheat")
    assert not (workspace / ".git" / "hooks" / "post-checkout").exists()


def test_swapping_a_directory_for_a_symlink_cannot_redirect_host_writes(open_sandbox, workspace: Path,
                                                                        outside_dir: Path) -> None:
    """Hostile code races the host: it keeps replacing `d` with a symlink out of the workspace
    while the host writes `d/canary.txt`. Every host write either lands inside or fails."""
    import threading

    env = open_sandbox()
    (workspace / "d").mkdir()
    swapper = threading.Thread(target=env.exec_command, kwargs={
        "command": f"end=$((SECONDS+2)); while [ $SECONDS -lt $end ]; do mv d d.real; "
                   f"ln -s {outside_dir} d; rm d; mv d.real d; done",
        "timeout_ms": 10_000})
    swapper.start()
    attempts = failures = 0
    while swapper.is_alive():
        attempts += 1
        try:
            env.write_file("d/canary.txt", "pwned\n")
        except OSError:
            failures += 1
    swapper.join()
    assert attempts > 10
    assert (outside_dir / "canary.txt").read_text() == "untouched\n"
    assert sorted(p.name for p in outside_dir.iterdir()) == ["canary.txt"]


def test_processes_escaping_their_session_still_hit_the_cap_and_die_with_the_sandbox(open_sandbox) -> None:
    env = open_sandbox(max_processes=12)
    # setsid gives the hog a session of its own, so it outlives its command; it keeps
    # taking every free slot of the process cap with threads.
    hog = ("setsid python3 -c \"import threading, time\n"
           "while True:\n"
           "    try: threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
           "    except RuntimeError: time.sleep(0.01)\" & sleep 0.5")
    env.exec_command(hog, timeout_ms=5000)
    time.sleep(0.2)
    starved = env.exec_command("echo hello")
    assert starved.exit_code == LIMIT_EXIT_CODES["processes"] and starved.limit == "processes"
    assert starved.stderr == "sandbox: cannot run /bin/bash: Resource temporarily unavailable\n"
    env.cleanup()  # ends the whole sandbox, escaped sessions included
    assert env.exec_command("echo hello").stdout == "hello\n"
