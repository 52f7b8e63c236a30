"""The one exception type that the CLI turns into a single clear line.

Anything a user can get wrong (a malformed file, a bad flag value, a missing
dependency) is raised as a `UserError`: what went wrong, where, and how to fix
it. The CLI prints it on one line to stderr and exits with `exit_code`, never a
traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment, reported to the user in one line."""

    exit_code: int = 2

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None,
                 exit_code: int | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__(self.line())

    def line(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return " — ".join(parts)
