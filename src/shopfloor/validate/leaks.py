"""Leak check: has scenario text reached the candidate's code or the agent's transcript?

Text is lowered and cut into words; a *shingle* is a run of `shingle_words`
consecutive words. A scenario leaks into a file when at least
`min_shingles` of its distinct shingles appear in that file. YAML scenarios
contribute their string values only (keys such as `method:` are boilerplate
every scenario shares); Python scenarios contribute their whole text.
Shingles that also appear in *public* texts (the spec, the prompts the agent
was given) are not evidence of a leak: the agent was allowed to read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from shopfloor.validate.suite import Scenario

#: Words per shingle.
DEFAULT_SHINGLE_WORDS = 6
#: Distinct shingles of one scenario that must appear in one file to call it a leak.
DEFAULT_LEAK_MIN_SHINGLES = 3
#: Files larger than this are not scanned (build outputs, data).
DEFAULT_LEAK_MAX_FILE_BYTES = 1024 * 1024
#: Directories never scanned in a candidate tree.
SKIPPED_DIRS = frozenset(
    {".git", "__pycache__", ".venv", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)

_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Leak:
    scenario: str
    file: str
    shingles: int
    sample: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, size: int) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + size]) for i in range(len(w) - size + 1)}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def scenario_text(scenario: Scenario) -> str:
    """The text of a scenario that must not leak."""
    raw = scenario.path.read_text(errors="replace")
    if scenario.kind == "python":
        return raw
    return "\n".join(_strings(yaml.safe_load(raw)))


def candidate_files(root: Path, max_bytes: int = DEFAULT_LEAK_MAX_FILE_BYTES) -> Iterator[Path]:
    """Text files under a candidate's directory (skipping VCS, caches and large or binary files)."""
    for path in sorted(root.rglob("*")):
        if any(part in SKIPPED_DIRS for part in path.relative_to(root).parts) or not path.is_file():
            continue
        if path.stat().st_size > max_bytes:
            continue
        yield path


def find_leaks(
    scenarios: Iterable[Scenario],
    files: Iterable[Path],
    *,
    shingle_words: int = DEFAULT_SHINGLE_WORDS,
    min_shingles: int = DEFAULT_LEAK_MIN_SHINGLES,
    max_file_bytes: int = DEFAULT_LEAK_MAX_FILE_BYTES,
    public: Iterable[Path] = (),
) -> list[Leak]:
    """Every (scenario, file) pair where the scenario's shingles appear often enough."""
    allowed: set[tuple[str, ...]] = set()
    for path in public:
        allowed |= shingles(path.read_text(errors="replace"), shingle_words)
    fingerprints = {s.id: shingles(scenario_text(s), shingle_words) - allowed for s in scenarios}
    leaks: list[Leak] = []
    for path in files:
        try:
            if path.stat().st_size > max_file_bytes:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:4096]:  # binary
            continue
        found = shingles(data.decode(errors="replace"), shingle_words)
        for scenario_id, prints in fingerprints.items():
            common = prints & found
            if len(common) >= min_shingles:
                leaks.append(Leak(scenario_id, str(path), len(common), " ".join(sorted(common)[0])))
    return leaks
