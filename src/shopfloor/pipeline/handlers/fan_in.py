"""Fan-in (attractor-spec 4.9): pick the best of the parallel branches' results.

With a `prompt` and a backend, the backend ranks the candidates and the first
candidate id its response names wins; otherwise (or if it names none) the
heuristic ranks by status (success, partial, retry, fail), then by `score`,
then by id. The node fails only when no branch produced a usable result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.engine import PARALLEL_RESULTS_KEY
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import CodergenBackend
from shopfloor.pipeline.handlers.codergen import expand_variables
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.run_dir import PROMPT_FILE, RESPONSE_FILE

OUTCOME_RANK = {"success": 0, "partial_success": 1, "retry": 2, "fail": 3}


def heuristic_select(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    return min(candidates, key=lambda c: (OUTCOME_RANK.get(c.get("status", "fail"), 3),
                                          -float(c.get("score", 0) or 0), str(c.get("id", ""))))


class FanInHandler:
    def __init__(self, backend: CodergenBackend | None = None) -> None:
        self.backend = backend

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        results = context.get(PARALLEL_RESULTS_KEY) or []
        candidates = [r for r in results if r.get("status") in OUTCOME_RANK]
        if not candidates:
            return Outcome(StageStatus.FAIL, failure_reason="No parallel results to evaluate")
        if all(c.get("status") == "fail" for c in candidates):
            return Outcome(StageStatus.FAIL, failure_reason="all parallel branches failed")
        best = None
        if node.prompt and self.backend is not None:
            best = self._ask_backend(node, context, graph, logs_root, candidates)
        method = "backend" if best is not None else "heuristic"
        best = best or heuristic_select(candidates)
        return Outcome(StageStatus.SUCCESS, notes=f"Selected best candidate: {best['id']} ({method})",
                       context_updates={"parallel.fan_in.best_id": best["id"],
                                        "parallel.fan_in.best_outcome": best["status"]})

    def _ask_backend(self, node: Node, context: Context, graph: Graph, logs_root: Path,
                     candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
        assert self.backend is not None
        listing = json.dumps([{k: c.get(k) for k in ("id", "status", "notes", "score", "updates")}
                              for c in candidates], indent=2, default=str)
        prompt = (f"{expand_variables(node.prompt, graph)}\n\nCandidates:\n{listing}\n\n"
                  "Answer with the id of the best candidate.")
        stage_dir = logs_root / node.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / PROMPT_FILE).write_text(prompt)
        result = self.backend.run(node, prompt, context)
        response = result.notes if isinstance(result, Outcome) else str(result)
        (stage_dir / RESPONSE_FILE).write_text(response)
        mentioned = [(response.find(c["id"]), c) for c in candidates if c["id"] in response]
        return min(mentioned, key=lambda pair: pair[0])[1] if mentioned else None
