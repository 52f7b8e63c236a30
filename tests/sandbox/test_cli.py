"""`shopfloor sandbox exec` and `shopfloor sandbox workspace` as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def run(cmd: list[str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_exec_passes_the_exit_code_and_output_through(shopfloor_cmd, workspace: Path) -> None:
    proc = run(shopfloor_cmd, "sandbox", "exec", "--workspace", str(workspace), "--",
               "sh", "-c", "cat README.md; echo oops >&2; exit 7")
    assert proc.returncode == 7
    assert proc.stdout == "hello\n" and proc.stderr == "oops\n"


def test_exec_limits_give_distinct_codes_and_one_line_reasons(shopfloor_cmd, workspace: Path) -> None:
    timeout = run(shopfloor_cmd, "sandbox", "exec", "--workspace", str(workspace), "--timeout", "0.5",
                  "--", "sleep", "30")
    assert timeout.returncode == 124
    assert timeout.stderr == ("shopfloor: sandbox: wall-clock timeout of 0.5s reached; "
                              "the whole process tree was killed (exit 124)\n")
    memory = run(shopfloor_cmd, "sandbox", "exec", "--workspace", str(workspace), "--memory", "32",
                 "--", "python3", "-c", "b = bytearray(512 * 1024 * 1024)")
    assert memory.returncode == 137
    assert memory.stderr.splitlines()[-1] == ("shopfloor: sandbox: memory limit of 32 MiB exceeded; "
                                              "the kernel killed the process (exit 137)")


def test_exec_json_and_allowed_port(shopfloor_cmd, workspace: Path, loopback_server) -> None:
    script = (f"import socket; s = socket.create_connection(('127.0.0.1', {loopback_server.port})); "
              "s.sendall(b'cli'); print(s.recv(100).decode())")
    proc = run(shopfloor_cmd, "sandbox", "exec", "--json", "--workspace", str(workspace),
               "--allow-port", str(loopback_server.port), "--", "python3", "-c", script)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["exit_code"] == 0 and report["limit"] is None
    assert report["stdout"] == "host says: cli\n"


def test_exec_bad_input_is_one_line(shopfloor_cmd, tmp_path: Path) -> None:
    proc = run(shopfloor_cmd, "sandbox", "exec", "--workspace", str(tmp_path / "missing"), "--", "true")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "workspace directory does not exist" in proc.stderr
    proc = run(shopfloor_cmd, "sandbox", "exec", "--workspace", str(tmp_path), "--memory", "1", "--", "true")
    assert proc.returncode == 2 and "memory_mb" in proc.stderr and "Traceback" not in proc.stderr


def test_workspace_commands(shopfloor_cmd, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for args in (["init", "-q"], ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
                                  "--allow-empty", "-m", "start"]):
        subprocess.run(["git", *args], cwd=project, check=True)
    created = run(shopfloor_cmd, "sandbox", "workspace", "create", "--project", str(project),
                  "--name", "cand", "--json")
    assert created.returncode == 0, created.stderr
    path = Path(json.loads(created.stdout)["path"])
    try:
        assert (path / ".git").exists()
        assert run(shopfloor_cmd, "sandbox", "workspace", "keep", "cand").returncode == 0
        listed = json.loads(run(shopfloor_cmd, "sandbox", "workspace", "list", "--json").stdout)
        assert [(w["name"], w["status"]) for w in listed["workspaces"]] == [("cand", "kept")]
    finally:
        discarded = run(shopfloor_cmd, "sandbox", "workspace", "discard", "cand")
    assert discarded.returncode == 0 and not path.exists()
    missing = run(shopfloor_cmd, "sandbox", "workspace", "discard", "cand")
    assert missing.returncode == 2 and "no workspace named 'cand'" in missing.stderr


def test_exec_reports_missing_and_non_executable_commands_like_a_shell(shopfloor_cmd,
                                                                       workspace: Path) -> None:
    missing = run(shopfloor_cmd, "sandbox", "exec", "--workspace", str(workspace), "--", "no-such-tool")
    assert missing.returncode == 127
    assert missing.stderr == "sandbox: cannot run no-such-tool: command not found\n"
    not_executable = run(shopfloor_cmd, "sandbox", "exec", "--workspace", str(workspace), "--", "./README.md")
    assert not_executable.returncode == 126 and "Permission denied" in not_executable.stderr
