"""Draw a pipeline with Graphviz, nodes coloured by their outcome in a run.

Outcomes come from the status-file contract: `{logs_root}/{node_id}/status.json`
(attractor-spec Appendix C, `Outcome.to_dict`). Nodes without one have not run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.pipeline.dot_writer import quote
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.outcome import Outcome
from shopfloor.pipeline.run_dir import write_atomic

#: How long Graphviz may take to lay out one graph.
DEFAULT_RENDER_TIMEOUT_S = 60.0

#: Fill colour per outcome status; "" (not run) stays white.
STATUS_COLORS: dict[str, str] = {
    "success": "#8fd18f", "partial_success": "#d6e685", "retry": "#f5c26b", "fail": "#f08080",
    "skipped": "#d3d3d3", "": "#ffffff",
}
FORMATS = ("svg", "png", "pdf")


def read_outcomes(graph: Graph, logs_root: Path) -> dict[str, str]:
    """node id → outcome status for every node with a readable status.json (others are left out)."""
    outcomes: dict[str, str] = {}
    for node_id in graph.nodes:
        path = logs_root / node_id / "status.json"
        try:
            outcomes[node_id] = Outcome.from_dict(json.loads(path.read_text(encoding="utf-8"))).status.value
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # not run yet, or a status file a crash left half-written: shown as not run
    return outcomes


def to_graphviz(graph: Graph, outcomes: dict[str, str] | None = None) -> str:
    """Graphviz DOT (full language, for `dot`): shapes and labels from the pipeline, colours from outcomes."""
    outcomes = outcomes or {}
    lines = ["digraph pipeline {", "  node [style=filled, fontname=Helvetica];",
             "  edge [fontname=Helvetica, fontsize=10];"]
    if graph.get("label") or graph.goal:
        lines.append(f"  label={quote(str(graph.get('label') or graph.goal))}; labelloc=t;")
    for node in graph.nodes.values():
        status = outcomes.get(node.id, "")
        tooltip = f"{node.id}: {status or 'not run'}"
        lines.append(f"  {node.id} [shape={quote(node.shape)}, label={quote(node.label)}, "
                     f"fillcolor={quote(STATUS_COLORS.get(status, '#ffffff'))}, tooltip={quote(tooltip)}];")
    for edge in graph.edges:
        label = edge.label or edge.condition
        attrs = f" [label={quote(label)}]" if label else ""
        lines.append(f"  {edge.source} -> {edge.target}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_bytes(graph: Graph, fmt: str = "svg", *, outcomes: dict[str, str] | None = None,
                 timeout_s: float = DEFAULT_RENDER_TIMEOUT_S) -> bytes:
    """The drawing as bytes in `fmt` (svg, png or pdf)."""
    if fmt not in FORMATS:
        raise UserError(f"cannot render to .{fmt}", where="render", fix=f"use one of: {', '.join(FORMATS)}")
    dot = shutil.which("dot")
    if dot is None:
        raise UserError("Graphviz 'dot' is not installed", where="render",
                        fix="install graphviz (apt-get install graphviz, or brew install graphviz)")
    try:
        proc = subprocess.run([dot, f"-T{fmt}"], input=to_graphviz(graph, outcomes).encode(),
                              capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"Graphviz took longer than {timeout_s:g}s", where="render",
                        fix="simplify the graph or raise --timeout") from None
    if proc.returncode != 0:
        detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise UserError(f"Graphviz failed: {detail}", where="render", fix="report this with the .dot file")
    return proc.stdout


def render(graph: Graph, output: Path, *, logs_root: Path | None = None,
           timeout_s: float = DEFAULT_RENDER_TIMEOUT_S) -> dict[str, str]:
    """Write the drawing to `output` (format from its suffix); returns the outcomes used."""
    fmt = output.suffix.lstrip(".").lower() or "svg"
    if fmt not in FORMATS:
        raise UserError(f"cannot render to .{fmt}", where=str(output),
                        fix=f"use one of: {', '.join(FORMATS)}")
    if logs_root is not None and not logs_root.is_dir():
        raise UserError("logs root is not a directory", where=str(logs_root), fix="pass a run's --logs-root")
    outcomes = read_outcomes(graph, logs_root) if logs_root else {}
    drawing = render_bytes(graph, fmt, outcomes=outcomes, timeout_s=timeout_s)
    try:  # write-then-rename: an interrupted render never leaves a truncated drawing behind
        write_atomic(output, drawing)
    except OSError as exc:
        raise UserError(f"cannot write the drawing: {exc.strerror}", where=str(output),
                        fix="check that the directory exists and is writable") from None
    return outcomes
