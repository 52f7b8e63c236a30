"""The `shopfloor` command: a typer app assembled from the command modules.

Every module listed in COMMAND_MODULES exposes `register(app)`. `main()` turns a
`UserError` into one line on stderr and its exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from shopfloor.errors import UserError

COMMAND_MODULES: list[str] = [
    # module: commands it adds
    "shopfloor.commands.govern",  # brake replay, stop
    "shopfloor.commands.run",  # run, resume
    "shopfloor.commands.inspect",  # parse, validate, render
    "shopfloor.commands.serve",  # serve
    "shopfloor.commands.llm",  # llm ask, llm models
    "shopfloor.commands.release",  # release, approve, reject, deploy, promote, rollback, releases, drift
    "shopfloor.commands.sandbox",  # sandbox exec, sandbox workspace create|list|keep|discard
    "shopfloor.commands.twins",  # twins up, twins list
    "shopfloor.commands.validate",  # scenarios run, contracts check
    "shopfloor.commands.report",  # report
    "shopfloor.commands.init",  # init
]

CONFORMANCE_MODULES: list[str] = [
    "shopfloor.conformance.runner",  # run, list-handlers
    "shopfloor.conformance.pipeline",  # parse, validate
    "shopfloor.conformance.llm",  # client-from-env, list-models, complete, stream, tool-call, generate-object
    "shopfloor.conformance.agent",  # session-create, process-input, tool-dispatch, steering, events
]

app = typer.Typer(name="shopfloor", help="A software factory for AI coding agents.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _assemble() -> None:
    from shopfloor import conformance

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    for name in CONFORMANCE_MODULES:
        importlib.import_module(name).register(conformance.app)
    app.add_typer(conformance.app, name="conformance")


_assemble()


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        print(f"shopfloor: error: {exc.line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("shopfloor: aborted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: typer's own short message
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("shopfloor: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
