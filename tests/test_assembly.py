"""The composition root's one preparer: run, validate and serve diagnose a pipeline the same way."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from shopfloor import assembly
from tests.support.server import ServedShopfloor, served  # noqa: F401  (fixture)

#: A plugin handler type (known), a built-in handler attribute typo and a plugin rule violation.
PIPELINE = """digraph checks {
    start [shape=Mdiamond]
    done [shape=Msquare]
    workspace [type="shopfloor.workspace"]
    flaky [prompt="try", retry_policy="sometimes"]
    tests [shape=parallelogram, tool_command="true", sandbox="maybe"]
    start -> workspace -> flaky -> tests -> done
}
"""
FIRST_ERROR = "retry_policy 'sometimes' is not one of"


def test_the_preparer_has_every_plugin_type_and_rule() -> None:
    preparer = assembly.pipeline_preparer()
    assert {"tool", "shopfloor.workspace", "shopfloor.gate"} <= set(preparer.handler_types)
    diagnostics = preparer.diagnose(PIPELINE)
    errors = sorted(d.rule for d in diagnostics if d.severity.value == "error")
    assert errors == ["handler_policy", "tool_sandbox"]
    assert not [d for d in diagnostics if d.rule == "type_known"]


def test_validate_run_and_serve_report_the_same_problems(
        shopfloor_cmd: list[str], tmp_path: Path, served: ServedShopfloor) -> None:  # noqa: F811
    dotfile = tmp_path / "checks.dot"
    dotfile.write_text(PIPELINE)

    validated = subprocess.run([*shopfloor_cmd, "validate", str(dotfile), "--json"], capture_output=True,
                               text=True, timeout=60)
    report = json.loads(validated.stdout)
    assert validated.returncode == 1
    assert sorted(d["rule"] for d in report["diagnostics"]) == ["handler_policy", "tool_sandbox"]

    ran = subprocess.run([*shopfloor_cmd, "run", str(dotfile), "--logs-root", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert FIRST_ERROR in ran.stderr and "[handler_policy] (and 1 more error" in ran.stderr
    assert "type_known" not in ran.stderr
    assert not (tmp_path / "run").exists()

    with httpx.Client(base_url=served.url, timeout=30) as client:
        response = client.post("/run", content=PIPELINE, headers={"content-type": "text/plain"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert FIRST_ERROR in error and "[handler_policy] (and 1 more error" in error
