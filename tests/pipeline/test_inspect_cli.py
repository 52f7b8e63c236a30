"""`shopfloor parse | validate | render` and `conformance parse | validate`, as real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shopfloor.pipeline.lint_rules import BUILT_IN_HANDLER_TYPES
from shopfloor.pipeline.outcome import Outcome, StageStatus
from tests.support.dotfiles import dot_path


def _run(cmd: list[str], *args: str | Path,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, check=False)


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("shopfloor: error: ")
    return lines[0]


def test_parse_prints_the_json_ast(shopfloor_cmd: list[str]) -> None:
    proc = _run(shopfloor_cmd, "parse", dot_path("branch"))
    assert proc.returncode == 0, proc.stderr
    ast = json.loads(proc.stdout)
    assert ast["name"] == "Branch"
    assert ast["attrs"]["goal"] == "Implement and validate a feature"
    nodes = {n["id"]: n["attrs"] for n in ast["nodes"]}
    assert nodes["plan"] == {"shape": "box", "timeout": "900s", "label": "Plan",
                             "prompt": "Plan the implementation"}
    yes = {"from": "gate", "to": "exit", "attrs": {"label": "Yes", "condition": "outcome=success"}}
    assert yes in ast["edges"]
    assert len(ast["edges"]) == 6


def test_parse_malformed_dot_is_one_line_with_location(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.dot"
    bad.write_text('digraph G {\n  a [label="x" prompt="y"]\n}\n')
    proc = _run(shopfloor_cmd, "parse", bad)
    assert proc.returncode == 2
    line = _one_line_error(proc)
    assert f"{bad}:2:16: missing ','" in line and "fix:" in line
    assert proc.stdout == ""


def test_missing_file_is_one_line(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    for command in ("parse", "validate"):
        proc = _run(shopfloor_cmd, command, tmp_path / "nope.dot")
        assert proc.returncode == 2
        assert "pipeline file not found" in _one_line_error(proc)


def test_validate_clean_pipeline_exits_zero(shopfloor_cmd: list[str]) -> None:
    proc = _run(shopfloor_cmd, "validate", dot_path("spec_smoke"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no problems" in proc.stdout


def test_validate_errors_exit_one_with_a_table(shopfloor_cmd: list[str]) -> None:
    proc = _run(shopfloor_cmd, "validate", dot_path("broken"), env={"COLUMNS": "200"})
    assert proc.returncode == 1
    out = proc.stdout
    for needle in ("edge_target_exists", "a -> ghost", "attribute_type", "5:32", "island", "7 error(s)",
                   'declare it (ghost [label="..."])'):
        assert needle in out, needle


def test_validate_warnings_only_exit_zero(shopfloor_cmd: list[str]) -> None:
    proc = _run(shopfloor_cmd, "validate", dot_path("orphan"), "--json")
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert report["valid"] and report["warnings"] == 1 and report["errors"] == 0
    (diag,) = report["diagnostics"]
    assert (diag["rule"], diag["severity"], diag["node_id"]) == ("reachability", "warning", "lonely")


def test_validate_json_lists_rule_severity_subject_message(shopfloor_cmd: list[str]) -> None:
    proc = _run(shopfloor_cmd, "validate", dot_path("missing_start"), "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert not report["valid"]
    rules = {d["rule"]: d for d in report["diagnostics"]}
    assert rules["start_node"]["severity"] == "error" and rules["start_node"]["message"]
    assert all({"rule", "severity", "node_id", "edge", "message"} <= set(d) for d in report["diagnostics"])


def test_validate_syntax_error_exits_two_and_still_reports_json(shopfloor_cmd: list[str],
                                                               tmp_path: Path) -> None:
    bad = tmp_path / "bad.dot"
    bad.write_text("digraph G {\n  a -- b\n}\n")
    proc = _run(shopfloor_cmd, "validate", bad, "--json")
    assert proc.returncode == 2
    assert f"{bad}:2:5: undirected edge" in _one_line_error(proc)
    report = json.loads(proc.stdout)
    assert report["diagnostics"][0]["rule"] == "syntax"


def test_conformance_parse_and_validate(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    proc = _run(shopfloor_cmd, "conformance", "parse", dot_path("linear"))
    assert proc.returncode == 0
    ast = json.loads(proc.stdout)
    assert [n["id"] for n in ast["nodes"]] == ["start", "A", "B", "done"]
    assert [(e["from"], e["to"]) for e in ast["edges"]] == [("start", "A"), ("A", "B"), ("B", "done")]

    ok = _run(shopfloor_cmd, "conformance", "validate", dot_path("linear"))
    assert ok.returncode == 0 and json.loads(ok.stdout)["diagnostics"] == []
    bad = _run(shopfloor_cmd, "conformance", "validate", dot_path("missing_exit"))
    assert bad.returncode == 1
    assert "terminal_node" in {d["rule"] for d in json.loads(bad.stdout)["diagnostics"]}
    assert "terminal_node" in bad.stderr  # diagnostics on stderr too
    broken = tmp_path / "broken.dot"
    broken.write_text("digraph G { a [ }")
    syntax = _run(shopfloor_cmd, "conformance", "validate", broken)
    assert syntax.returncode == 1 and json.loads(syntax.stdout)["diagnostics"][0]["rule"] == "syntax"


def _write_status(logs_root: Path, node_id: str, status: StageStatus) -> None:
    (logs_root / node_id).mkdir(parents=True)
    (logs_root / node_id / "status.json").write_text(json.dumps(Outcome(status).to_dict()))


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_render_colours_nodes_by_outcome(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    logs = tmp_path / "run"
    _write_status(logs, "plan", StageStatus.SUCCESS)
    _write_status(logs, "implement", StageStatus.FAIL)
    (logs / "validate").mkdir()
    (logs / "validate" / "status.json").write_text("{half-written")  # a crash mid-write: shown as not run
    out = tmp_path / "graph.svg"
    proc = _run(shopfloor_cmd, "render", dot_path("branch"), "-o", out, "--logs-root", logs)
    assert proc.returncode == 0, proc.stderr
    assert "2 node outcome(s)" in proc.stdout
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "#8fd18f" in svg and "#f08080" in svg  # success green, fail red
    assert "plan: success" in svg and "implement: fail" in svg and "validate: not run" in svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_render_bad_output_suffix_and_missing_logs_root(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    proc = _run(shopfloor_cmd, "render", dot_path("linear"), "-o", tmp_path / "g.gif")
    assert proc.returncode == 2 and "cannot render to .gif" in _one_line_error(proc)
    proc = _run(shopfloor_cmd, "render", dot_path("linear"), "-o", tmp_path / "g.svg",
                "--logs-root", tmp_path / "missing")
    assert proc.returncode == 2 and "logs root is not a directory" in _one_line_error(proc)


def test_render_without_graphviz_gives_an_install_hint(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    proc = _run(shopfloor_cmd, "render", dot_path("linear"), "-o", tmp_path / "g.svg",
                env={"PATH": str(empty_path)})
    assert proc.returncode == 2
    line = _one_line_error(proc)
    assert "Graphviz 'dot' is not installed" in line and "apt-get install graphviz" in line
    assert not (tmp_path / "g.svg").exists()


def test_validate_knows_plugin_handler_types(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    listed = _run(shopfloor_cmd, "conformance", "list-handlers")
    plugin_types = [t for t in json.loads(listed.stdout) if t not in BUILT_IN_HANDLER_TYPES]
    assert plugin_types, "no plugin handler types registered"
    pipeline = tmp_path / "p.dot"
    extra = "".join(f' n{i} [type="{t}", prompt="x"]' for i, t in enumerate(plugin_types))
    chain = " -> ".join(["start", *(f"n{i}" for i in range(len(plugin_types))), "exit"])
    pipeline.write_text(f'digraph G {{ start [shape=Mdiamond] exit [shape=Msquare] unknown_t [type="no.such"]'
                        f'{extra} {chain} start -> unknown_t -> exit }}')
    report = json.loads(_run(shopfloor_cmd, "validate", pipeline, "--json").stdout)
    flagged = [d["node_id"] for d in report["diagnostics"] if d["rule"] == "type_known"]
    assert flagged == ["unknown_t"]
