"""The codergen handler (attractor-spec 4.5): build the prompt, call the backend, log both.

The prompt is the node's `prompt` (else its label) with `$goal` expanded. For
every fidelity but `full`, the preamble the engine prepared (what the run has
done so far) opens the text sent, since the backend starts a fresh session.
`prompt.md` holds exactly what was sent and `response.md` what came back. A
backend may also report through the status-file contract by writing
`status.json` in the stage directory. Backend exceptions propagate to the
engine, which decides from the error whether the attempt is worth retrying.
"""

from __future__ import annotations

from pathlib import Path

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.executor import read_status_file
from shopfloor.pipeline.fidelity import PREAMBLE_KEY
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import CodergenBackend
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.run_dir import PROMPT_FILE, RESPONSE_FILE, write_file

#: `last_response` in the context keeps this many characters of the response (spec 4.5).
DEFAULT_LAST_RESPONSE_CHARS = 200


def expand_variables(text: str, graph: Graph) -> str:
    """The one built-in template variable: `$goal` (plain replacement, not a template engine)."""
    return text.replace("$goal", graph.goal)


class CodergenHandler:
    def __init__(self, backend: CodergenBackend | None = None,
                 last_response_chars: int = DEFAULT_LAST_RESPONSE_CHARS) -> None:
        self.backend = backend
        self.last_response_chars = last_response_chars

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        prompt = expand_variables(node.prompt or node.label, graph)
        preamble = context.get_string(PREAMBLE_KEY)
        sent = f"{preamble}\n\n---\n\n{prompt}" if preamble else prompt
        stage_dir = logs_root / node.id
        try:  # the executor has made the stage directory; make it only when called on its own
            write_file(stage_dir / PROMPT_FILE, sent.encode())
        except FileNotFoundError:
            stage_dir.mkdir(parents=True, exist_ok=True)
            write_file(stage_dir / PROMPT_FILE, sent.encode())
        if self.backend is None:
            response = f"[Simulated] Response for stage: {node.id}"
        else:
            result = self.backend.run(node, sent, context)
            if isinstance(result, Outcome):
                return result
            response = str(result)
        write_file(stage_dir / RESPONSE_FILE, response.encode())
        reported = read_status_file(stage_dir)
        if reported is not None:
            return Outcome.from_dict(reported)
        return Outcome(StageStatus.SUCCESS, notes=f"Stage completed: {node.id}",
                       context_updates={"last_stage": node.id,
                                        "last_response": response[:self.last_response_chars]})
