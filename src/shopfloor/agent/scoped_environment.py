"""An environment seen from one of its subdirectories (subagents scoped with `working_dir`)."""

from __future__ import annotations

from typing import Any

from shopfloor.sandbox.environment import ExecutionEnvironment


class ScopedEnvironment:
    """The parent's environment seen from a subdirectory: relative paths and commands start there."""

    def __init__(self, inner: ExecutionEnvironment, subdir: str) -> None:
        self.inner = inner
        base = inner.working_directory()
        self._cwd = subdir if subdir.startswith("/") else f"{base.rstrip('/')}/{subdir}"

    def _abs(self, path: str | None) -> str:
        if not path:
            return self._cwd
        return path if path.startswith("/") else f"{self._cwd}/{path}"

    def working_directory(self) -> str:
        return self._cwd

    def read_file(self, path: str, offset: int | None = None, limit: int | None = None) -> str:
        return self.inner.read_file(self._abs(path), offset, limit)

    def write_file(self, path: str, content: str) -> None:
        self.inner.write_file(self._abs(path), content)

    def file_exists(self, path: str) -> bool:
        return self.inner.file_exists(self._abs(path))

    def list_directory(self, path: str, depth: int = 1) -> Any:
        return self.inner.list_directory(self._abs(path), depth)

    def exec_command(
        self,
        command: str,
        timeout_ms: int,
        working_dir: str | None = None,
        env_vars: dict[str, str] | None = None,
    ) -> Any:
        return self.inner.exec_command(command, timeout_ms, self._abs(working_dir), env_vars)

    def grep(self, pattern: str, path: str | None, options: Any = None) -> str:
        return self.inner.grep(pattern, self._abs(path), options)

    def glob(self, pattern: str, path: str | None = None) -> list[str]:
        return self.inner.glob(pattern, self._abs(path))

    def initialize(self) -> None:
        """The parent owns the inner environment's lifecycle."""

    def cleanup(self) -> None:
        """The parent owns the inner environment's lifecycle."""

    def platform(self) -> str:
        return self.inner.platform()

    def os_version(self) -> str:
        return self.inner.os_version()
