"""The rubric judge: an LLM, through `shopfloor.llm`, rules on what no assertion can check."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

#: Characters of evidence shown to the judge (the rest is cut, and the judge is told so).
DEFAULT_EVIDENCE_CHARS = 12_000
#: Output tokens the judge may use.
DEFAULT_JUDGE_MAX_TOKENS = 600

SKIPPED_NO_PROVIDER = "rubric skipped: no LLM provider configured"

_SCHEMA = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "reason": {"type": "string"},
        "confidence": {"type": "number"},
    },
    "required": ["verdict", "reason", "confidence"],
    "additionalProperties": False,
}

_SYSTEM = (
    "You judge whether a service behaved as a user story requires. You see the question and the "
    "evidence (requests the service made to third-party APIs, and its responses). Answer only from the "
    "evidence. verdict is pass or fail; reason is one or two sentences; confidence is between 0 and 1."
)


@dataclass
class Verdict:
    verdict: str  # "pass" | "fail" | "skipped" | "error"
    reason: str
    confidence: float | None = None
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(question: str, evidence: list[Any], *, model: str | None = None) -> Verdict:
    """Ask the configured LLM; `skipped` without a provider, `error` when the call fails."""
    from shopfloor.llm.client import Client
    from shopfloor.llm.errors import SDKError
    from shopfloor.llm.structured import generate_object

    client = Client.from_env()
    if not client.providers:
        return Verdict("skipped", SKIPPED_NO_PROVIDER)
    text = json.dumps(evidence, indent=1, default=str)
    if len(text) > DEFAULT_EVIDENCE_CHARS:
        text = text[:DEFAULT_EVIDENCE_CHARS] + "\n[evidence cut here]"
    prompt = f"Question: {question}\n\nEvidence:\n{text}"
    try:
        result = generate_object(
            model or client.default_model(),
            prompt,
            schema=_SCHEMA,
            schema_name="verdict",
            system=_SYSTEM,
            client=client,
            max_tokens=DEFAULT_JUDGE_MAX_TOKENS,
        )
    except (SDKError, ValueError) as exc:
        return Verdict("error", f"the judge could not answer: {exc}")
    out = result.output
    confidence = out.get("confidence")
    return Verdict(
        out["verdict"],
        str(out.get("reason", "")),
        float(confidence) if isinstance(confidence, int | float) else None,
        result.response.model,
    )
