"""The release gate: evidence first, then a human where the candidate touches a critical path.

The candidate's diff against its base (the target's current release, or an
explicit base digest) is matched against the policy's critical path globs.
Touching none, the candidate passes on its evidence (validation results all
passed, satisfaction at or above the threshold). Touching any, it also needs an
approval bound to its digest and diff hash (see `approvals`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopfloor.config import ProjectFile
from shopfloor.govern.policy import load_policy
from shopfloor.release import approvals
from shopfloor.release.artifacts import ArtifactStore, Manifest, diff_hash
from shopfloor.release.ledger import Ledger

#: Minimum satisfaction (fraction of sealed scenarios satisfied) a candidate needs to pass a gate.
DEFAULT_MIN_SATISFACTION = 0.9


@dataclass
class GateDecision:
    status: str  # "passed" | "approval_required" | "failed"
    digest: str
    diff_hash: str
    reasons: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    critical: list[str] = field(default_factory=list)
    approver: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evidence_problems(manifest: Manifest, *, min_satisfaction: float, require_evidence: bool) -> list[str]:
    problems = [f"validation {r.get('name', '?')!r} failed" for r in manifest.validation
                if not r.get("passed")]
    if manifest.satisfaction is not None and manifest.satisfaction < min_satisfaction:
        problems.append(f"satisfaction {manifest.satisfaction:.3f} < {min_satisfaction:.3f}")
    if require_evidence and not manifest.validation and manifest.satisfaction is None:
        problems.append("the release carries no validation evidence")
    return problems


def base_for_target(ledger: Ledger, target: str) -> str | None:
    """The digest currently released on `target` (the base a candidate's diff is taken against)."""
    good = [d for d in ledger.deployments(target) if d.state == "succeeded"]
    return good[-1].digest if good else None


def critical_changes(config: ProjectFile, store: ArtifactStore, base: str | None,
                     digest: str) -> tuple[list[dict[str, str]], list[str]]:
    """The diff from `base` to `digest`, and the changed paths that match a critical path glob."""
    changes = store.diff(base, digest)
    policy = load_policy(config)
    return changes, [c["path"] for c in changes if policy.is_critical(c["path"])]


def evaluate(config: ProjectFile, ledger: Ledger, *, run_id: str, gate: str, digest: str,
             base: str | None = None, store: ArtifactStore | None = None,
             min_satisfaction: float = DEFAULT_MIN_SATISFACTION,
             require_evidence: bool = True) -> GateDecision:
    store = store or ArtifactStore()
    manifest = store.manifest(digest)
    changes, critical = critical_changes(config, store, base, digest)
    decision = GateDecision("passed", digest, diff_hash(changes), changed=[c["path"] for c in changes])
    decision.reasons = evidence_problems(manifest, min_satisfaction=min_satisfaction,
                                         require_evidence=require_evidence)
    if decision.reasons:
        decision.status = "failed"
        return decision
    decision.critical = critical
    if not decision.critical:
        return decision
    result = approvals.check(ledger, run_id=run_id, gate=gate, digest=digest, diff_hash=decision.diff_hash)
    decision.reasons = list(result.refused)
    if result.status == "approved" and result.decision:
        decision.approver = result.decision.approver
        return decision
    if result.status == "rejected" and result.decision:
        decision.status = "failed"
        decision.reasons.append(f"rejected by {result.decision.approver}: {result.decision.reason}")
        return decision
    decision.status = "approval_required"
    approvals.request_approval(ledger, run_id=run_id, gate=gate, digest=digest,
                               diff_hash=decision.diff_hash, critical=decision.critical)
    return decision
