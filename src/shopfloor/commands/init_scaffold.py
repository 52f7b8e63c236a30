"""The files `shopfloor init` writes: a factory project that runs as is.

Kept as text here (not package data) so that the sample service's Python files
are never collected as shopfloor's own modules or tests. Paths are relative to
the project directory; `tests/test_init.py` checks that the commented defaults
in SHOPFLOOR_TOML are the real defaults of each section's model.
"""

from __future__ import annotations

SHOPFLOOR_TOML = """\
# A shopfloor factory project (created by `shopfloor init`).
# Run the factory from this directory, offline:
#   shopfloor run factory.dot --backend repair
# Every relative path below is relative to this directory. A commented line shows
# the default; uncomment it to change it. Details: docs/governance.md (policy, budgets),
# docs/sandbox.md, docs/repair.md, docs/validation.md.

[policy]
# Paths agents may not edit, on top of the built-in list (scenarios/**, .shopfloor/**, ...).
protected_paths = ["shopfloor.toml", "factory.dot", "spec/**", "twins/**", "service/tests/**"]
# Paths whose change needs a human at the release gate (shopfloor.gate nodes).
critical_paths = []
# default_protected_paths = true
# default_command_rules = true
# [[policy.command_rules]]
# pattern = "\\\\bterraform\\\\s+destroy\\\\b"
# reason = "no infrastructure teardown from an agent"

[budgets]
# Ceilings for one run: a runaway loop costs at most this.
# usd = 10.0
# tokens = 5000000
# tool_calls = 2000
# wall_clock_s = 14400.0

[sandbox]
# Every agent command, tool node and test run happens in a bubblewrap sandbox.
# The default hidden paths, plus the sealed scenarios: no sandbox can read them.
hidden_paths = ["~", "/root", "/home", "/run", "scenarios"]
# allowed_ports = []
# timeout_s = 10.0
# cpu_seconds = 300
# memory_mb = 2048
# max_processes = 256
# max_file_size_mb = 1024
# max_open_files = 1024
# max_output_bytes = 4194304
# kill_grace_s = 2.0
# read_only_paths = [".git"]
# readable_paths = []

[repair]
# The offline `repair` backend: search-based repair until the visible tests pass.
# Its workspace is the run's (the factory's workspace node gives each run its own copy).
tests = ["tests"]
# budget = 400
# seed = 0
# test_timeout_s = 30.0

[validate]
# The sealed scenarios: `shopfloor scenarios run scenarios --target-dir service`.
scenarios = "scenarios"
# threshold = 0.9
# lower_bound = 0.5
"""

FACTORY_DOT = """\
// The factory: a spec goes in; tested, validated, packaged software comes out.
// Run from this directory:  shopfloor run factory.dot --backend repair
// (--backend simulate walks the graph without editing code; --backend agent needs an LLM provider.)
digraph factory {
    graph [goal="The greeter service meets spec/service-spec.md",
           label="factory"]

    start [shape=Mdiamond]
    exit  [shape=Msquare]

    // A copy-on-write workspace of this repository at HEAD: the run never edits your checkout.
    workspace [type="shopfloor.workspace", label="Workspace at HEAD", project=".", subdir="service"]

    implement [label="Implement the spec",
        prompt="Make the service meet the spec ($goal). Keep the visible tests passing; do not edit them."]
    visible_tests [type="shopfloor.tests", label="Visible tests", tests="tests"]
    // The sealed scenarios ([validate] scenarios) judge the workspace's service from outside.
    scenarios [type="shopfloor.scenarios", label="Sealed scenarios"]

    // Tool nodes run in the sandbox, in the workspace; what a command writes to
    // $SHOPFLOOR_STAGE_DIR lands in the run directory.
    package [shape=parallelogram, label="Package", timeout="60s",
        tool_command="tar -cvzf \\"$SHOPFLOOR_STAGE_DIR/service.tar.gz\\" --exclude=__pycache__ ."]
    halted  [shape=parallelogram, label="Halted",
        tool_command="echo the factory stopped: see the run directory >&2; exit 1"]

    start -> workspace -> implement
    implement -> visible_tests [condition="outcome=success"]
    implement -> halted        [condition="outcome!=success", label="cannot repair"]
    visible_tests -> scenarios [condition="outcome=success"]
    visible_tests -> halted    [condition="context.tests.visible.plateau=true", weight=10,
                                label="brake: plateau"]
    visible_tests -> implement [condition="outcome=fail", label="visible tests fail"]
    // With an agent backend, route a rejection back to implement: it reads scenarios.feedback.
    scenarios -> package       [condition="outcome=success"]
    scenarios -> halted        [condition="outcome!=success", label="rejected by sealed scenarios"]
    package -> exit
    halted -> exit
}
"""

README_MD = """\
# A shopfloor factory

Created by `shopfloor init`. Layout:

| path | what it is |
|---|---|
| `shopfloor.toml` | policy, budgets, sandbox limits, repair and validation settings |
| `factory.dot` | the pipeline: workspace, implement, visible tests, package |
| `spec/` | what to build, as a natural-language spec with a Definition of Done |
| `service/` | the code the agents work on, with its visible tests |
| `scenarios/` | sealed scenarios: how the service is judged, out of the agents' sight |
| `twins/` | digital twins of the third-party services the code talks to |

Run the factory offline (the `repair` backend edits code until the visible tests pass):

    shopfloor run factory.dot --backend repair

Then judge the service against the sealed scenarios:

    shopfloor scenarios run scenarios --target-dir service

Commit your changes before a run: the workspace node copies the repository at HEAD.
"""

GITIGNORE = """\
runs/
.shopfloor/
__pycache__/
.pytest_cache/
"""

SPEC_MD = """\
# Greeter service: specification

<!-- An NLSpec: the agents build from this text alone. Say what, not how; number each
requirement so reviews, tests and scenarios can point at it. Replace the example. -->

## 1. Purpose
A small HTTP service that greets people by name.

## 2. Behaviour
2.1 `GET /greet?name=NAME` MUST answer 200 with the JSON object `{"greeting": "Hello, NAME!"}`.
2.2 Without `name`, the greeting MUST be `Hello, world!`.
2.3 `GET /healthz` MUST answer 200 once the service accepts requests.
2.4 Any other path MUST answer 404.

## 3. Interfaces
- The service listens on 127.0.0.1, on the port given by the `PORT` environment variable.
- Python: `greeter.greet(name: str) -> str` returns the greeting text.

## 4. Constraints
- Standard library only; starts in under one second.

## 5. Out of scope
- Authentication, persistence, localisation.

## 6. Definition of Done
- [ ] Every requirement of section 2 holds.
- [ ] The visible tests (`service/tests/`) pass, unedited.
- [ ] The sealed scenarios (`scenarios/`) reach the satisfaction threshold (`[validate] threshold`).
- [ ] No protected path (`[policy] protected_paths`) was changed.
"""

GREETER_INIT = '''\
"""The greeter service: greets people by name (spec/service-spec.md)."""

DEFAULT_NAME = "world"


def greet(name: str) -> str:
    """The greeting for `name` (spec 2.1, 2.2)."""
    return f"Hello, {name or DEFAULT_NAME}!"
'''

GREETER_MAIN = '''\
"""`python -m greeter`: serve the greeter over HTTP on 127.0.0.1:$PORT (spec 2, 3)."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from greeter import DEFAULT_NAME, greet

DEFAULT_PORT = 8080


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, {"status": "ok"})
        elif url.path == "/greet":
            name = parse_qs(url.query).get("name", [DEFAULT_NAME])[0]
            self._send(200, {"greeting": greet(name)})
        else:
            self._send(404, {"error": f"no route {url.path}"})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", DEFAULT_PORT))), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
'''

GREETER_TEST = '''\
"""Visible tests: the agents see and run these (the sealed scenarios they never see)."""

from greeter import greet


def test_greets_by_name() -> None:
    assert greet("Ada") == "Hello, Ada!"
'''

SCENARIOS_README = """\
# Sealed scenarios

End-to-end user stories that judge the service from the outside, in the format of
shopfloor's docs/validation.md: `suite.yaml` says how to start the candidate (and
which twins it talks to); each `<id>.yaml` is one scenario (steps, then expectations).

They are *sealed*: `[sandbox] hidden_paths` hides this directory from every sandbox
and `[policy]` protects it, so no agent can read or edit them. Write scenarios for
behaviour the spec promises, not for the visible tests.

    shopfloor scenarios run scenarios --target-dir service
"""

SCENARIOS_SUITE = """\
# How each trajectory starts the candidate (docs/validation.md, "suite.yaml").
twins: []                        # e.g. [slack, jira]; see ../twins/README.md
trajectories: 2
timeout_s: 30
candidate:
  command: "python -m greeter"   # run by a shell inside the sandbox, in --target-dir
  cwd: "."
  port_env: PORT
  health_path: /healthz
  ready_timeout_s: 20
"""

SCENARIO_GREETS_BY_NAME = """\
id: greets-by-name
title: A visitor who gives their name is greeted by it (spec 2.1)
steps:
  - name: greet
    http: {method: GET, path: /greet, query: {name: Grace}}
    expect: {status: 200}
expect:
  - response: {step: greet, status: 200, json: {greeting: "Hello, Grace!"}}
"""

TWINS_README = """\
# Digital twins

Stateful stand-ins for the third-party services the code talks to, served on
loopback so that the service, its tests and the sealed scenarios never touch the
real thing (shopfloor's docs/twins.md):

- built in: `slack`, `jira`, `okta`, and AWS through moto;
- your own: a `Twin` subclass, named as `module:Class`.

Put seed files (fixtures loaded into a twin before each trajectory) and chaos
profiles here, then name the twins in `scenarios/suite.yaml` (`twins:`, `seed:`,
`chaos:`) or start them in the pipeline with a node like

    production [type="shopfloor.twins", twins="slack", twins_seed="twins/seed.yaml"]

`shopfloor twins up slack` serves one by hand.
"""

#: Every file `shopfloor init` writes, relative to the project directory, in writing order.
FILES: dict[str, str] = {
    "shopfloor.toml": SHOPFLOOR_TOML,
    "factory.dot": FACTORY_DOT,
    "README.md": README_MD,
    ".gitignore": GITIGNORE,
    "spec/service-spec.md": SPEC_MD,
    "service/greeter/__init__.py": GREETER_INIT,
    "service/greeter/__main__.py": GREETER_MAIN,
    "service/tests/test_greeter.py": GREETER_TEST,
    "scenarios/README.md": SCENARIOS_README,
    "scenarios/suite.yaml": SCENARIOS_SUITE,
    "scenarios/greets-by-name.yaml": SCENARIO_GREETS_BY_NAME,
    "twins/README.md": TWINS_README,
}
