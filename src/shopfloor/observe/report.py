"""The run report: one self-contained HTML file per run directory.

It holds what someone answering for a run needs on one page: the outcome, the
pipeline graph coloured by each node's outcome, the key events (every
scenario verdict, accepted repair, gate decision, deployment step, injected
fault and brake), the final validation and release figures (visible tests,
satisfaction, gate, deployment, rollback), the money
and tokens spent, and the timeline of every stage. Everything is read back from
the run directory (manifest, checkpoint, status files, events.jsonl,
budget.json), so a report can be made for any run, finished or not.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.observe.eventlog import read_events
from shopfloor.pipeline.prepare import prepare_pipeline
from shopfloor.pipeline.render import read_outcomes, render_bytes

REPORT_FILE = "report.html"
#: Context key prefixes shown as the run's validation and release figures.
FIGURE_PREFIXES = ("tests.", "repair.", "scenarios.", "contracts.", "release.", "deploy.", "twins.")
#: Longest context value shown in the figures table.
MAX_VALUE_CHARS = 300
_STAGE_KINDS = ("StageStarted", "StageCompleted", "StageFailed", "StageRetrying")
#: Event kinds (prefixes) that tell a run's story: validation verdicts, repairs, gates, deploys, brakes.
KEY_EVENT_PREFIXES = ("scenarios.evaluated", "repair.edit_accepted", "repair.restarted", "release.gate",
                      "release.deployment", "release.fault", "brake.", "govern.", "auto.escalated")
_COLOURS = {"success": "#2e7d32", "partial_success": "#9e9d24", "fail": "#c62828", "retry": "#ef6c00",
            "skipped": "#757575"}


@dataclass
class RunSummary:
    name: str
    run_id: str
    goal: str
    status: str
    completed_nodes: list[str]
    outcomes: dict[str, str]
    figures: dict[str, Any]
    cost_usd: float
    tokens: int
    timeline: list[dict[str, Any]] = field(default_factory=list)
    key_events: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _spend(events: list[Any], budget: dict[str, Any]) -> tuple[float, int]:
    """USD and tokens: the budget ledger when the run had one, else the LLM usage in the events."""
    run = budget.get("spent", {}).get("run") if isinstance(budget.get("spent"), dict) else None
    if isinstance(run, dict):
        return float(run.get("usd", 0.0)), int(run.get("tokens", 0))
    usd, tokens = 0.0, 0
    for event in events:
        usage = event.data.get("usage") if isinstance(event.data, dict) else None
        if isinstance(usage, dict):
            usd += float(usage.get("cost_usd") or 0.0)
            tokens += int(usage.get("total_tokens") or 0)
    return usd, tokens


def summarize(logs_root: Path) -> RunSummary:
    logs_root = Path(logs_root)
    manifest = _json(logs_root / "manifest.json")
    if not manifest:
        raise UserError("not a run directory (no readable manifest.json)", where=str(logs_root),
                        fix="pass the --logs-root of a `shopfloor run`")
    checkpoint = _json(logs_root / "checkpoint.json")
    context = checkpoint.get("context", {})
    events = list(read_events(logs_root / "events.jsonl"))
    timeline = [{"ts": e.ts, "kind": e.kind, **e.data} for e in events if e.kind in _STAGE_KINDS]
    key_events = [{"ts": e.ts, "kind": e.kind, "data": e.data} for e in events
                  if e.kind.startswith(KEY_EVENT_PREFIXES)]
    ends = [e for e in events if e.kind in ("PipelineCompleted", "PipelineFailed")]
    status = ("success" if ends[-1].kind == "PipelineCompleted" else "fail") if ends else "running"
    outcomes = {p.parent.name: str(_json(p).get("outcome", ""))
                for p in sorted(logs_root.glob("*/status.json"))}
    usd, tokens = _spend(events, _json(logs_root / "budget.json"))
    figures = {k: v for k, v in sorted(context.items()) if k.startswith(FIGURE_PREFIXES)}
    duration = (events[-1].ts - events[0].ts) if len(events) > 1 else 0.0
    return RunSummary(name=manifest.get("name", ""), run_id=manifest.get("run_id", ""),
                      goal=manifest.get("goal", ""), status=status,
                      completed_nodes=list(checkpoint.get("completed_nodes", [])), outcomes=outcomes,
                      figures=figures, cost_usd=usd, tokens=tokens, timeline=timeline,
                      key_events=key_events, duration_s=duration)


def _graph_svg(logs_root: Path) -> str:
    """The run's own copy of its pipeline, coloured by outcome; a note when Graphviz is missing."""
    dot = logs_root / "pipeline.dot"
    if not dot.exists():
        return "<p>(the run directory has no pipeline.dot)</p>"
    graph = prepare_pipeline(dot)
    try:
        svg = render_bytes(graph, "svg", outcomes=read_outcomes(graph, logs_root)).decode()
    except UserError as exc:
        return f"<p>(graph not rendered: {html.escape(exc.line())})</p>"
    return svg[svg.find("<svg"):]


def _row(*cells: Any) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def render_html(summary: RunSummary, graph_svg: str) -> str:
    colour = _COLOURS.get(summary.status, "#455a64")
    figures = "".join(_row(k, json.dumps(v, default=str)[:MAX_VALUE_CHARS])
                      for k, v in summary.figures.items())
    start = summary.timeline[0]["ts"] if summary.timeline else 0.0
    timeline = "".join(
        _row(f"+{t['ts'] - start:8.2f}s", t["kind"].removeprefix("Stage").lower(), t.get("name", ""),
             t.get("status") or t.get("error") or (f"attempt {t['attempt']}" if "attempt" in t else ""))
        for t in summary.timeline)
    key_events = "".join(
        _row(f"+{e['ts'] - start:8.2f}s", e["kind"], json.dumps(e["data"], default=str)[:MAX_VALUE_CHARS])
        for e in summary.key_events)
    outcomes = "".join(
        f"<tr><td>{html.escape(n)}</td><td style='color:{_COLOURS.get(s, '#000')}'>{html.escape(s)}</td></tr>"
        for n, s in summary.outcomes.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(summary.name)} — {html.escape(summary.run_id)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ddd;padding:3px 8px;
font-size:13px;text-align:left;vertical-align:top}}h1 span{{color:{colour}}}
svg{{max-width:100%;height:auto}}</style>
</head><body>
<h1>{html.escape(summary.name)}: <span>{html.escape(summary.status)}</span></h1>
<p><b>Run</b> {html.escape(summary.run_id)} · <b>goal</b> {html.escape(summary.goal)} ·
<b>duration</b> {summary.duration_s:.1f}s · <b>cost</b> ${summary.cost_usd:.4f} ·
<b>tokens</b> {summary.tokens}</p>
<h2>Pipeline</h2>{graph_svg}
<h2>Key events</h2><table><tr><th>at</th><th>event</th><th>data</th></tr>{key_events}</table>
<h2>Validation and release figures</h2><table><tr><th>key</th><th>value</th></tr>{figures}</table>
<h2>Node outcomes</h2><table><tr><th>node</th><th>outcome</th></tr>{outcomes}</table>
<h2>Timeline</h2><table><tr><th>at</th><th>event</th><th>node</th><th>detail</th></tr>{timeline}</table>
</body></html>
"""


def write_report(logs_root: Path, output: Path | None = None) -> tuple[Path, RunSummary]:
    """Write the HTML report (default `{logs_root}/report.html`) and return it with its summary."""
    logs_root = Path(logs_root)
    summary = summarize(logs_root)
    output = output or logs_root / REPORT_FILE
    tmp = output.with_suffix(".tmp")
    tmp.write_text(render_html(summary, _graph_svg(logs_root)))
    tmp.replace(output)
    return output, summary
