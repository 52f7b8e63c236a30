"""Provider-specific base instructions (spec 6.2), one markdown file per profile."""

from __future__ import annotations

from importlib.resources import files


def base_instructions(profile_id: str) -> str:
    return (files(__package__) / f"{profile_id}.md").read_text(encoding="utf-8").strip()
