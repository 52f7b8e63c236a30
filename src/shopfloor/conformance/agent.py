"""`shopfloor conformance session-create|process-input|tool-dispatch|steering|events`.

The coding-agent-loop-spec layer of CONFORMANCE.md.

The provider profile follows the configured endpoint (OPENAI_*, ANTHROPIC_*,
GEMINI_* env vars, first configured wins) unless the input names `provider`
(and optionally `model`). Tools run in a LocalExecutionEnvironment — in the
current directory for tool-dispatch, in a fresh temporary workspace for
process-input and events — unless `--workdir` or `working_dir` in the input
says where. session-create also reads an optional input object. JSON goes to stdout;
an error is {"error": {...}} with exit 1.
"""

from __future__ import annotations

import contextlib
import json
import select
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from shopfloor.conformance.stdio import fail, parse_request

#: `events` reads an optional prompt from stdin; it waits this long for one to start arriving.
OPTIONAL_STDIN_WAIT_S = 0.2
DEFAULT_EVENTS_PROMPT = "Say hello."
#: process-input / events stop a runaway script after this many LLM turns.
DEFAULT_CONFORMANCE_MAX_TURNS = 50


def _read_input(*required: str) -> dict[str, Any]:
    return parse_request(sys.stdin.read(), required)


def _optional_input() -> dict[str, Any]:
    """stdin when something arrives promptly; never blocks on an idle terminal or pipe."""
    if sys.stdin is None or sys.stdin.closed or sys.stdin.isatty():
        return {}
    try:
        ready, _, _ = select.select([sys.stdin], [], [], OPTIONAL_STDIN_WAIT_S)
    except (OSError, ValueError):
        return {}
    return parse_request(sys.stdin.read()) if ready else {}


@contextlib.contextmanager
def _session(data: dict[str, Any], workdir: Path | None, *, needs_llm: bool,
             listeners: list[Any] | None = None) -> Iterator[Any]:
    from shopfloor.agent.config import SessionConfig
    from shopfloor.agent.profiles import create_profile, profile_for
    from shopfloor.agent.session import Session
    from shopfloor.llm.client import Client
    from shopfloor.sandbox.environment import LocalExecutionEnvironment

    try:
        client = Client.from_env()
    except Exception as exc:  # configuration errors are one line for the suite
        fail("configuration_error", str(exc))
    try:
        if needs_llm or client.providers or data.get("provider"):
            profile = profile_for(client, data.get("provider"), data.get("model"))
        else:  # nothing configured and no LLM call needed: any profile will do
            profile = create_profile("openai", data.get("model"))
        config = SessionConfig(max_turns=int(data.get("max_turns", DEFAULT_CONFORMANCE_MAX_TURNS)),
                               reasoning_effort=data.get("reasoning_effort"))
    except ValueError as exc:
        fail("configuration_error", str(exc).splitlines()[0])
    if data.get("working_dir"):
        workdir = Path(str(data["working_dir"]))
    with contextlib.ExitStack() as stack:
        stack.callback(client.close)
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shopfloor-agent-")))
        env = LocalExecutionEnvironment(workdir)
        env.initialize()
        stack.callback(env.cleanup)
        session = Session(profile, env, client, config, listeners=listeners or [])
        yield session
        session.close()


WORKDIR_HELP = "directory the tools work in (default: see the module help)"


def register(app: typer.Typer) -> None:
    @app.command("session-create")
    def session_create(workdir: Path = typer.Option(Path("."), help=WORKDIR_HELP),
                       provider: str = typer.Option("", help="openai, anthropic or gemini"),
                       model: str = typer.Option("", help="model id (default: the profile's)")) -> None:
        """Create a session with a provider profile and print its id."""
        data = {**_optional_input(), **{k: v for k, v in (("provider", provider), ("model", model)) if v}}
        with _session(data, workdir, needs_llm=False) as session:
            print(json.dumps({"session_id": session.id, "id": session.id, "provider": session.profile.id,
                              "model": session.profile.model, "state": session.state.value,
                              "working_directory": session.env.working_directory(),
                              "tools": session.profile.tool_registry.names()}))

    @app.command("process-input")
    def process_input(workdir: Path | None = typer.Option(None, help=WORKDIR_HELP)) -> None:
        """stdin {"prompt": ...}: run the agentic loop against the LLM endpoint; print the result."""
        from shopfloor.llm.errors import SDKError

        data = _read_input("prompt")
        with _session(data, workdir, needs_llm=True) as session:
            try:
                result = session.submit(str(data["prompt"]))
            except SDKError as exc:
                fail(type(exc).__name__, str(exc))
            print(json.dumps({**result.to_dict(), "state": session.state.value,
                              "provider": session.profile.id, "model": session.profile.model}))

    @app.command("tool-dispatch")
    def tool_dispatch(workdir: Path = typer.Option(Path("."), help=WORKDIR_HELP)) -> None:
        """stdin {"tool_name", "arguments"}: dispatch one call through the tool registry."""
        from shopfloor.agent.profiles import PROFILE_FACTORIES

        data = _read_input("tool_name")
        name = str(data["tool_name"])
        with _session(data, workdir, needs_llm=False) as session:
            if session.profile.tool_registry.get(name) is None:
                # a tool of another profile (apply_patch vs edit_file): dispatch it through that one
                for factory in PROFILE_FACTORIES.values():
                    other = factory().tool_registry.get(name)
                    if other is not None:
                        session.profile.tool_registry.register(other)
                        break
            result = session.dispatch_tool(name, data.get("arguments", {}))
            content = result.content if isinstance(result.content, str) else json.dumps(result.content)
            if result.is_error and content.startswith(("Unknown tool", "Invalid arguments")):
                fail("unknown_tool" if content.startswith("Unknown") else "invalid_arguments", content)
            print(json.dumps({"tool_name": name, "tool_call_id": result.tool_call_id, "content": content,
                              "output": content, "is_error": result.is_error}))

    @app.command("steering")
    def steering(workdir: Path = typer.Option(Path("."), help=WORKDIR_HELP)) -> None:
        """stdin {"message": ...}: inject a steering message into a session; print the acknowledgement."""
        data = _read_input("message")
        with _session(data, workdir, needs_llm=False) as session:
            session.steer(str(data["message"]))
            print(json.dumps({"acknowledged": True, "session_id": session.id, "message": data["message"],
                              "queued": len(session.steering_queue),
                              "delivery": "after the current tool round"}))

    @app.command("events")
    def events(workdir: Path | None = typer.Option(None, help=WORKDIR_HELP)) -> None:
        """Run a short session (optional stdin {"prompt"}) and print its events as JSON lines."""
        from shopfloor.llm.errors import SDKError

        data = _optional_input()

        def emit(event: Any) -> None:
            print(json.dumps(event.to_dict()), flush=True)

        # an LLM failure still prints its ERROR and SESSION_END events, which tell the story
        with (_session(data, workdir, needs_llm=True, listeners=[emit]) as session,
              contextlib.suppress(SDKError)):
            session.submit(str(data.get("prompt") or DEFAULT_EVENTS_PROMPT))
