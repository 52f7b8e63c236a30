"""A tiny twin written the way the docs teach, used to test the framework itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from shopfloor.twins.framework import Twin, TwinReply, TwinRequest, json_response, route

TOKEN = "notes-token"


class NotesTwin(Twin):
    name = "notes"
    fixture_keys = frozenset({"notes"})

    def load_fixture(self, fixture: Mapping[str, Any]) -> None:
        self.state.setdefault("notes", {})
        for text in fixture.get("notes", []):
            self._add(text)

    def _add(self, text: str) -> dict[str, Any]:
        note = {"id": self.ids.next("N", 8), "text": text, "at": self.clock.now()}
        self.state["notes"][note["id"]] = note
        return note

    def authenticate(self, request: TwinRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return json_response({"error": "bad token"}, 401)
        return None

    @route("POST", "/notes")
    def create(self, request: TwinRequest) -> Any:
        text = (request.json() or {}).get("text")
        if not text:
            raise TwinReply(json_response({"error": "text is required"}, 422))
        return json_response(self._add(text), 201)

    @route("GET", "/notes")
    def list(self, request: TwinRequest) -> Any:
        return {"notes": list(self.state["notes"].values()), "padding": "x" * 1000}

    @route("GET", "/notes/{note_id}")
    def get(self, request: TwinRequest) -> Any:
        note = self.state["notes"].get(request.path_params["note_id"])
        return note if note else json_response({"error": "no such note"}, 404)

    @route("GET", "/health", auth=False)
    def health(self, request: TwinRequest) -> Any:
        return {"ok": True}

    @route("GET", "/crash", auth=False)
    def crash(self, request: TwinRequest) -> Any:
        raise RuntimeError("bug in the twin")
