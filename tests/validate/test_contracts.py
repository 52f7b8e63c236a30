"""Each contract kind on a small real project (git repository), catching a real violation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shopfloor.errors import UserError
from shopfloor.validate.contracts.check import check_contracts
from shopfloor.validate.contracts.config import (
    AgentTestsContract,
    ApiContract,
    ContractsConfig,
    ForbiddenPattern,
    LayersContract,
    ResourcesContract,
)

CORE = """
def add(a, b):
    return a + b


def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value
"""

CONFTEST = "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parent / 'src'))\n"

PYPROJECT = """
[tool.importlinter]
root_package = "calc"

[[tool.importlinter.contracts]]
name = "the core knows nothing of the web layer"
type = "forbidden"
source_modules = ["calc.core"]
forbidden_modules = ["calc.web"]
"""

OPENAPI = {
    "openapi": "3.0.0",
    "info": {"title": "calc", "version": "1"},
    "paths": {
        "/sum": {
            "get": {
                "parameters": [{"name": "a", "in": "query"}],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {"responses": {"201": {"description": "made"}}},
        },
        "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
    },
}


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)


def _write(project: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A committed project: src/calc/{core,web}.py, an import-linter contract, an OpenAPI document."""
    repo = tmp_path / "repo"
    root = repo / "calc-project"  # a project below the repository root, as a workspace subdirectory is
    _write(
        root,
        {
            "pyproject.toml": PYPROJECT,
            "src/calc/__init__.py": "",
            "src/calc/core.py": CORE,
            "src/calc/web.py": "from calc.core import add\n\n\ndef handle(a, b):\n    return add(a, b)\n",
            "openapi.yaml": json.dumps(OPENAPI),
            "tests/__init__.py": "",
            "conftest.py": CONFTEST,
        },
    )
    (repo / "README.md").write_text("the repository holds more than the project\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "base")
    return root


def test_layers_catch_an_import_that_breaks_a_declared_contract(project: Path) -> None:
    config = ContractsConfig(layers=LayersContract())
    assert check_contracts(project, config).passed

    (project / "src/calc/core.py").write_text(CORE + "\nfrom calc import web  # the core reaching up\n")
    result = check_contracts(project, config).results[0]

    assert not result.passed
    assert "1 of 1 contract(s) broken" in result.summary
    assert any("calc.core -> calc.web" in v.message for v in result.violations)


def test_forbidden_patterns_are_reported_with_file_and_line(project: Path) -> None:
    config = ContractsConfig(
        forbidden=[ForbiddenPattern(pattern=r"\beval\(", paths=["src/**/*.py"], message="no eval")]
    )
    assert check_contracts(project, config).passed

    (project / "src/calc/web.py").write_text("def handle(expr):\n    return eval(expr)\n")
    result = check_contracts(project, config).results[0]

    assert not result.passed
    assert [(v.where, v.message) for v in result.violations] == [
        ("src/calc/web.py:2", "no eval: return eval(expr)")
    ]


def test_api_compatibility_catches_changed_signatures_and_openapi_breaks(project: Path) -> None:
    config = ContractsConfig(api=ApiContract(packages=["src/calc"], openapi=["openapi.yaml"]))
    unchanged = check_contracts(project, config, base="main").results[0]
    assert unchanged.passed and unchanged.summary.startswith("3 module(s) in 1 package(s)")

    core = CORE.replace("def add(a, b):", "def add(a, b, c):").replace(
        "def clamp(value, low, high)", "def _clamp(v)"
    )
    (project / "src/calc/core.py").write_text(core + "\n\ndef mul(a, b=2):\n    return a * b\n")
    changed = json.loads(json.dumps(OPENAPI))
    del changed["paths"]["/sum"]["post"]
    changed["paths"]["/sum"]["get"]["parameters"][0]["required"] = True
    del changed["paths"]["/health"]
    (project / "openapi.yaml").write_text(json.dumps(changed))

    result = check_contracts(project, config, base="main").results[0]

    messages = {(v.where, v.message) for v in result.violations}
    assert ("src/calc/core.py", "add: new required parameter 'c'") in messages
    assert ("src/calc/core.py:clamp", "public name removed") in messages
    assert ("openapi.yaml POST /sum", "operation removed") in messages
    assert ("openapi.yaml GET /sum", "query parameter 'a' became required") in messages
    assert ("openapi.yaml GET /health", "path removed") in messages
    assert not any("mul" in v.message for v in result.violations)  # an addition breaks nothing
    assert not result.passed


def test_api_needs_a_known_base_revision(project: Path) -> None:
    with pytest.raises(UserError, match="unknown base revision 'nope'"):
        check_contracts(project, ContractsConfig(api=ApiContract(packages=["src/calc"])), base="nope")


SERVICE = """
import os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BALLAST = bytearray({ballast_mb} * 1024 * 1024)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep({delay_s})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def test_resource_budgets_catch_memory_and_latency_over_budget(project: Path) -> None:
    contract = ResourcesContract(
        command=f"{sys.executable} svc.py", requests=40, concurrency=4, max_rss_mb=60, max_p95_ms=40
    )
    (project / "svc.py").write_text(SERVICE.format(ballast_mb=1, delay_s=0))
    lean = check_contracts(project, ContractsConfig(resources=contract)).results[0]
    assert lean.passed, lean.summary
    assert 5 < lean.measurements["peak_rss_mb"] < 60

    (project / "svc.py").write_text(SERVICE.format(ballast_mb=120, delay_s=0.06))
    heavy = check_contracts(project, ContractsConfig(resources=contract)).results[0]

    assert not heavy.passed
    wheres = [v.where for v in heavy.violations]
    assert wheres == ["peak RSS", "p95 latency"]
    assert heavy.measurements["peak_rss_mb"] > 120 and heavy.measurements["p95_ms"] >= 60


WEAK_TESTS = """
from calc.core import add, clamp

def test_add_returns_something():
    assert add(2, 2) is not None

def test_clamp_runs():
    clamp(5, 0, 10)
"""

STRONG_TESTS = """
from calc.core import add, clamp

def test_add():
    assert add(2, 3) == 5

def test_clamp():
    assert clamp(5, 0, 10) == 5
    assert clamp(-1, 0, 10) == 0
    assert clamp(11, 0, 10) == 10
    assert clamp(0, 0, 10) == 0
    assert clamp(10, 0, 10) == 10
"""


def test_test_quality_flags_assert_free_tests_and_surviving_mutants(project: Path) -> None:
    contract = AgentTestsContract(
        max_mutants=5, min_mutation_score=0.8, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    config = ContractsConfig(tests=contract)
    (project / "tests/test_core.py").write_text(WEAK_TESTS)

    weak = check_contracts(project, config, base="main").results[0]

    assert not weak.passed
    assert weak.measurements["tests"] == ["tests/test_core.py"]  # the tests written since the base
    assert ("tests/test_core.py:7", "test_clamp_runs asserts nothing") in [
        (v.where, v.message) for v in weak.violations
    ]
    assert any(v.message.startswith("mutant survived") for v in weak.violations)
    assert weak.measurements["mutation_score"] < 0.8

    (project / "tests/test_core.py").write_text(STRONG_TESTS)
    strong = check_contracts(project, config, base="main").results[0]
    assert strong.passed, strong.violations
    assert strong.measurements["mutants"] == 5 and strong.measurements["killed"] >= 4


def test_cli_reports_each_contract_and_exits_1_on_a_violation(
    project: Path, shopfloor_cmd: list[str]
) -> None:
    (project / "shopfloor.toml").write_text(
        textwrap.dedent("""
        [[contracts.forbidden]]
        pattern = "print\\\\("
        paths = ["src/**/*.py"]
    """)
    )
    ok = subprocess.run(
        [*shopfloor_cmd, "contracts", "check", "--project", str(project), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["contracts"][0]["kind"] == "forbidden"

    (project / "src/calc/web.py").write_text("print('debug')\n")
    bad = subprocess.run(
        [*shopfloor_cmd, "contracts", "check", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "## forbidden: FAIL" in bad.stdout and "src/calc/web.py:1" in bad.stdout

    (project / "shopfloor.toml").write_text("[contracts]\nbase = 3\n")
    wrong = subprocess.run(
        [*shopfloor_cmd, "contracts", "check", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 2 and "[contracts].base" in wrong.stderr
