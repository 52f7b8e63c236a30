"""Reading `shopfloor.toml`: one file, one section per concern.

Each package declares a pydantic model for its own section (`[policy]`,
`[budgets]`, `[[targets]]`, ...) and reads it with `ProjectFile.section`. This
module knows only TOML and how to turn validation errors into one line that
says what is wrong, where, and how to fix it.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shopfloor.errors import UserError

CONFIG_FILE_NAME = "shopfloor.toml"
CONFIG_ENV = "SHOPFLOOR_CONFIG"

M = TypeVar("M", bound=BaseModel)


def _format_loc(section: str, loc: tuple[Any, ...]) -> str:
    out = f"[{section}]"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class ProjectFile:
    """A parsed shopfloor.toml (or an empty one when the project has none)."""

    def __init__(self, path: Path | None, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path | str | None = None) -> ProjectFile:
        """Load `path`, else $SHOPFLOOR_CONFIG, else ./shopfloor.toml; absent means empty."""
        explicit = path is not None or CONFIG_ENV in os.environ
        resolved = Path(path or os.environ.get(CONFIG_ENV) or CONFIG_FILE_NAME)
        if not resolved.exists():
            if explicit:
                raise UserError("config file not found", where=str(resolved),
                                fix=f"create it with `shopfloor init` or pass an existing {CONFIG_FILE_NAME}")
            return cls(None, {})
        try:
            data = tomllib.loads(resolved.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"invalid TOML: {exc}", where=str(resolved),
                            fix="correct the TOML syntax at that line") from None
        return cls(resolved, data)

    @property
    def name(self) -> str:
        return str(self.path) if self.path else CONFIG_FILE_NAME

    def digest(self) -> str:
        """sha256 of the file's bytes (empty when there is no file); used by drift checks."""
        return hashlib.sha256(self.path.read_bytes() if self.path else b"").hexdigest()

    def section(self, name: str, model: type[M]) -> M:
        """Validate `[name]` against `model`; an absent section gives the model's defaults."""
        raw = self.data.get(name, {})
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise UserError(err["msg"], where=f"{self.name} {_format_loc(name, err['loc'])}",
                            fix=f"see the [{name}] section in README.md") from None

    def table_list(self, name: str, model: type[M]) -> list[M]:
        """Validate an array of tables `[[name]]`, each entry against `model`."""
        raw = self.data.get(name, [])
        if not isinstance(raw, list):
            raise UserError(f"expected [[{name}]] tables", where=self.name,
                            fix=f"write each entry as [[{name}]]")
        out: list[M] = []
        for i, entry in enumerate(raw):
            try:
                out.append(model.model_validate(entry))
            except ValidationError as exc:
                err = exc.errors()[0]
                raise UserError(err["msg"], where=f"{self.name} {_format_loc(f'{name}][{i}', err['loc'])}",
                                fix=f"see the [[{name}]] section in README.md") from None
        return out
