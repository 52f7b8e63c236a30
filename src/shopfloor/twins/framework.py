"""The twin framework: a small base class and route decorators.

A twin is a stateful fake of a vendor API. Subclass `Twin`, give it a `name`,
keep *all* mutable data in `self.state` (a JSON-able dict, so reset and
snapshot/restore come for free), and declare routes:

    class EchoTwin(Twin):
        name = "echo"

        def load_fixture(self, fixture):
            self.state.setdefault("said", []).extend(fixture.get("said", []))

        @route("POST", "/say")
        def say(self, request: TwinRequest):
            self.state["said"].append(request.json()["text"])
            return {"id": self.ids.next("M"), "at": self.clock.now()}

Handlers are plain synchronous methods. They run one at a time under the twin's
lock, so they may mutate state freely. They return a dict/list (sent as JSON,
status 200) or a starlette `Response`; helpers deep in a handler can stop it
with `raise TwinReply(response)`. Before each route the framework calls
`authenticate(request)`: return a vendor-shaped error response to refuse.

`asgi_app()` serves the routes plus the control API under CONTROL_PREFIX
(reset, seed, snapshot/restore, journal, clock, outage), with the request
journal and chaos applied to every vendor request (see `twins.asgi`).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse, Response

from shopfloor.twins.clock import TwinClock
from shopfloor.twins.ids import IdFactory
from shopfloor.twins.journal import Journal

CONTROL_PREFIX = "/_twin"

Handler = Callable[[Any, "TwinRequest"], Any]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    auth: bool = True


def route(method: str, path: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
    """Declare a vendor route; `path` uses starlette syntax (`/issue/{key}`). Stackable."""

    def mark(fn: Handler) -> Handler:
        specs: list[RouteSpec] = list(getattr(fn, "__twin_routes__", []))
        specs.append(RouteSpec(method.upper(), path, auth))
        fn.__twin_routes__ = specs  # type: ignore[attr-defined]
        return fn

    return mark


class TwinReply(Exception):
    """Raised inside a handler to answer immediately with `response`."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class TwinRequest:
    """One vendor request, with its body already read."""

    def __init__(
        self,
        method: str,
        path: str,
        path_params: Mapping[str, Any],
        query: QueryParams,
        headers: Headers,
        body: bytes,
        base_url: str,
    ) -> None:
        self.method = method
        self.path = path
        self.path_params = dict(path_params)
        self.query = query
        self.headers = headers
        self.body = body
        #: scheme://host:port the client used; twins build `self` links from it.
        self.base_url = base_url
        #: what `Twin.authenticate` learned about the caller (user id, scopes, ...).
        self.auth: dict[str, Any] = {}
        self._json: Any = None

    def json(self) -> Any:
        """The body as JSON; an empty body is None. Invalid JSON raises ValueError."""
        if self._json is None and self.body.strip():
            self._json = json.loads(self.body)
        return self._json

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))

    def params(self) -> dict[str, Any]:
        """Query, then form or JSON body fields, merged (the way Slack reads arguments)."""
        merged: dict[str, Any] = dict(self.query)
        content_type = self.headers.get("content-type", "")
        if "application/json" in content_type:
            body = self.json()
            if isinstance(body, dict):
                merged.update(body)
        elif self.body:
            merged.update(self.form())
        return merged


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=dict(headers or {}))


class Twin:
    """Base class of every twin; see the module docstring for how to write one."""

    name: ClassVar[str] = "twin"
    description: ClassVar[str] = ""
    #: The keys a fixture may have; a typo (`user:` for `users:`) is an error, not a silent no-op.
    fixture_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, fixture: Mapping[str, Any] | None = None, *, seed: int | str = 0, clock: TwinClock | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or TwinClock()
        self.ids = IdFactory(seed)
        self.journal = Journal()
        self.fixture: dict[str, Any] = copy.deepcopy(self.check_fixture(fixture or {}))
        self.state: dict[str, Any] = {}
        #: set by TwinServer: the URL clients reach this twin at.
        self.url = ""
        self.reset()

    # --- hooks for subclasses -------------------------------------------------------------
    def load_fixture(self, fixture: Mapping[str, Any]) -> None:
        """Add the fixture's records to `self.state` (called on reset and on seed)."""

    def authenticate(self, request: TwinRequest) -> Response | None:
        """Return the vendor's auth error to refuse the request, None to let it through."""
        return None

    def credentials(self) -> dict[str, Any]:
        """What a client needs to authenticate (tokens, users, keys), for printing."""
        return {}

    def base_url(self) -> str:
        """The URL to give the vendor's SDK (some want a path, e.g. Slack's `/api/`)."""
        return self.url

    def environment(self) -> dict[str, str]:
        """Environment variables that point a service (and the vendor SDK, where it reads any) here."""
        return {}

    def error_response(self, status: int, message: str) -> Response:
        """A vendor-shaped error for `status` (used by chaos and for handler crashes)."""
        return json_response({"error": message}, status)

    def rate_limited_response(self, retry_after_s: int) -> Response:
        return json_response({"error": "rate limited"}, 429, {"Retry-After": str(retry_after_s)})

    def not_found_response(self, request: TwinRequest) -> Response:
        return self.error_response(404, f"no route for {request.method} {request.path}")

    # --- lifecycle ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial fixture: state, ids and clock; the journal is cleared."""
        with self.lock:
            self.state = {}
            self.ids.reset()
            self.clock.reset()
            self.journal.clear()
            self.load_fixture(self.fixture)

    def seed(self, fixture: Mapping[str, Any]) -> None:
        """Add records on top of the current state."""
        with self.lock:
            self.load_fixture(self.check_fixture(fixture))

    def check_fixture(self, fixture: Any) -> dict[str, Any]:
        """The fixture as a dict; ValueError when it is not a mapping or has keys this twin does not know."""
        if not isinstance(fixture, Mapping):
            raise ValueError(f"the {self.name} section must be a mapping, not {type(fixture).__name__}")
        unknown = sorted(set(fixture) - self.fixture_keys)
        if unknown:
            known = ", ".join(sorted(self.fixture_keys)) or "none"
            raise ValueError(f"unknown key {unknown[0]!r} (known: {known})")
        return dict(fixture)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "twin": self.name,
                "state": copy.deepcopy(self.state),
                "ids": self.ids.dump(),
                "clock": self.clock.dump(),
            }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        if snapshot.get("twin") != self.name:
            raise ValueError(f"snapshot is of twin {snapshot.get('twin')!r}, not {self.name!r}")
        with self.lock:
            self.state = copy.deepcopy(dict(snapshot["state"]))
            self.ids.load(snapshot["ids"])
            self.clock.load(snapshot["clock"])

    @classmethod
    def routes(cls) -> list[tuple[RouteSpec, str]]:
        """(route, method name) for every decorated method, subclasses included."""
        found: list[tuple[RouteSpec, str]] = []
        seen: set[str] = set()
        for klass in cls.__mro__:
            for attr, value in vars(klass).items():
                if attr in seen:
                    continue
                seen.add(attr)
                for spec in getattr(value, "__twin_routes__", []):
                    found.append((spec, attr))
        return found

    def asgi_app(self) -> Any:
        from shopfloor.twins.asgi import TwinApp

        return TwinApp(self)
