"""`shopfloor init [DIR] [--json]`: a new factory project that runs as is.

Writes the scaffold of `init_scaffold.FILES` (shopfloor.toml, factory.dot, a spec
template, a sample service with one visible test, sealed scenarios, twins), then
makes DIR a git repository (unless it is one) and commits the scaffold, because the
factory's `shopfloor.workspace` node copies the repository at HEAD.

It never overwrites: a file that exists with other content stops it before anything
is written (one line, exit 2). A file that already holds exactly the scaffold's text
is left alone, so an interrupted `init` can simply be run again.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import typer

from shopfloor.errors import UserError

#: Seconds each git command may take.
DEFAULT_GIT_TIMEOUT_S = 30.0
#: Commit identity used only when git has none configured (user.name / user.email).
FALLBACK_GIT_IDENTITY = ("shopfloor", "shopfloor@localhost")
COMMIT_MESSAGE = "shopfloor init: factory scaffold"


@dataclass
class InitResult:
    directory: str
    created: list[str] = field(default_factory=list)
    #: Scaffold files that were already there with the same content.
    unchanged: list[str] = field(default_factory=list)
    #: The commit holding the scaffold; "" when it was committed before.
    commit: str = ""


def _git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=DEFAULT_GIT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UserError("git is not installed; the factory's workspace node needs a git repository",
                        fix="apt-get install git") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"git {args[0]} took over {DEFAULT_GIT_TIMEOUT_S:g}s", where=str(cwd),
                        fix="check the repository, then run `shopfloor init` again") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {proc.returncode}'}",
                        where=str(cwd), fix="fix the repository, then run `shopfloor init` again")
    return proc


def _plan(directory: Path, files: dict[str, str]) -> tuple[list[str], list[str]]:
    """(to write, already identical); raises before anything is written if a file is in the way."""
    if directory.exists() and not directory.is_dir():
        raise UserError("not a directory", where=str(directory), fix="pass a new or existing directory")
    to_write, unchanged = [], []
    for rel, text in files.items():
        path = directory / rel
        if not path.exists() and not path.is_symlink():
            to_write.append(rel)
        elif path.is_file() and not path.is_symlink() and path.read_bytes() == text.encode():
            unchanged.append(rel)
        else:
            raise UserError("refusing to overwrite an existing file", where=str(path),
                            fix="run `shopfloor init` in a new directory, or move the file away")
    return to_write, unchanged


def _write(path: Path, text: str) -> None:
    """Write whole or not at all: a kill leaves no half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.shopfloor-init")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _commit(directory: Path, paths: list[str]) -> str:
    if not (directory / ".git").exists():
        _git(["init", "--quiet"], directory)
    _git(["add", "--", *paths], directory)
    if _git(["diff", "--cached", "--quiet", "--", *paths], directory, check=False).returncode == 0:
        return ""  # committed by an earlier run of init
    identity: list[str] = []
    if not _git(["config", "user.email"], directory, check=False).stdout.strip():
        name, email = FALLBACK_GIT_IDENTITY
        identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    _git([*identity, "commit", "--quiet", "--no-verify", "-m", COMMIT_MESSAGE, "--", *paths], directory)
    return _git(["rev-parse", "HEAD"], directory).stdout.strip()


def create_project(directory: Path | str) -> InitResult:
    """Write the scaffold into `directory` (created if missing) and commit it."""
    from shopfloor.commands.init_scaffold import FILES

    root = Path(directory).absolute()
    to_write, unchanged = _plan(root, FILES)
    root.mkdir(parents=True, exist_ok=True)
    for rel in to_write:
        _write(root / rel, FILES[rel])
    return InitResult(str(root), to_write, unchanged, _commit(root, list(FILES)))


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Path = typer.Argument(Path("."), help="The project directory (created if missing)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Create a factory project: shopfloor.toml, factory.dot, spec, service, scenarios, twins."""
        result = create_project(directory)
        if as_json:
            print(json.dumps(asdict(result)))
            return
        for rel in result.created:
            typer.echo(f"  created {rel}")
        commit = f", committed as {result.commit[:12]}" if result.commit else ""
        typer.echo(f"factory project ready in {result.directory}{commit}\n"
                   f"next: cd {directory} && shopfloor run factory.dot --backend repair")
