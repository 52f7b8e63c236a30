"""Hierarchical budgets: reserve before spending, settle on what was actually spent.

A run's budget is the root; each pipeline node, agent session and subagent gets
a child carved out of its parent: everything a child spends is charged to every
ancestor in the same atomic step, and a reservation must fit in the remaining
room at every level. An LLM call reserves its maximum possible cost (every
output token it may produce, plus an estimate of its input) before it is sent,
then settles on the provider's reported usage. Because reserve is
check-and-hold under one lock per tree, twenty agents sharing a budget can
never hold more than the budget between them; the only possible overspend is a
call whose real usage exceeded its own reservation.

Tool calls are counted one by one and wall-clock time is checked at every
reservation; a `BudgetExceeded` names the level, the resource, the limit and
what was spent, which is exactly what the node's failure reason says.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopfloor.govern.policy import BudgetLimits
from shopfloor.llm.errors import BudgetExceededError

RESOURCES = ("usd", "tokens", "tool_calls", "wall_clock_s")


def _fmt(resource: str, value: float) -> str:
    if resource == "usd":
        return f"${value:.4f}"
    if resource == "wall_clock_s":
        return f"{value:.1f}s"
    return str(int(value))


class BudgetExceeded(BudgetExceededError):
    """A call or tool use would exceed a budget; the work must stop (and can resume with more).

    The LLM client's own non-retryable BudgetExceededError: the client gives up at once
    and the agent Session shuts down cleanly, as it does for any fatal client error.
    """

    def __init__(self, level: str, resource: str, limit: float, spent: float, wanted: float = 0.0) -> None:
        self.level, self.resource, self.limit, self.spent, self.wanted = level, resource, limit, spent, wanted
        need = f", the next step needs {_fmt(resource, wanted)}" if wanted else ""
        super().__init__(f"budget exceeded: {level} {resource} limit {_fmt(resource, limit)} "
                         f"(spent {_fmt(resource, spent)}{need})")
        self.message = str(self.args[0])

    @property
    def reason(self) -> str:
        return str(self)


@dataclass
class _Spend:
    usd: float = 0.0
    tokens: int = 0
    tool_calls: int = 0
    reserved_usd: float = 0.0
    reserved_tokens: int = 0
    llm_calls: int = 0
    failed_calls: int = 0


class Budget:
    """One level of the tree. Create the root with `Budget("run", limits)`, children with `.child()`."""

    def __init__(self, name: str, limits: BudgetLimits, parent: Budget | None = None, *,
                 clock: Callable[[], float] = time.monotonic, elapsed_before_s: float = 0.0,
                 spent: dict[str, Any] | None = None,
                 on_change: Callable[[Budget], None] | None = None) -> None:
        self.name = name
        self.limits = limits
        self.parent = parent
        self._lock: threading.RLock = parent._lock if parent else threading.RLock()
        self._clock = parent._clock if parent else clock
        self._started = self._clock()
        self._elapsed_before_s = elapsed_before_s
        self._spend = _Spend(**{k: v for k, v in (spent or {}).items() if k in _Spend.__dataclass_fields__})
        self._spend.reserved_usd, self._spend.reserved_tokens = 0.0, 0
        self._on_change = on_change if parent is None else None
        self.path: str = f"{parent.path}/{name}" if parent else name
        self._chain: list[Budget] = [self] + (parent._chain if parent else [])

    # ---- tree ---------------------------------------------------------------------------
    def child(self, name: str, limits: BudgetLimits | None = None) -> Budget:
        """A budget carved out of this one: its spending counts here too, and it can't outspend us."""
        return Budget(name, limits or BudgetLimits(), self)

    @property
    def root(self) -> Budget:
        return self._chain[-1]

    # ---- reading ------------------------------------------------------------------------
    def elapsed_s(self) -> float:
        return self._elapsed_before_s + self._clock() - self._started

    def spent(self) -> dict[str, float]:
        with self._lock:
            s = self._spend
            return {"usd": s.usd, "tokens": s.tokens, "tool_calls": s.tool_calls,
                    "wall_clock_s": self.elapsed_s(), "llm_calls": s.llm_calls,
                    "failed_calls": s.failed_calls, "reserved_usd": s.reserved_usd,
                    "reserved_tokens": s.reserved_tokens}

    def remaining(self) -> dict[str, float | None]:
        """Room left per resource, the tightest over this level and all its ancestors (None: unlimited)."""
        with self._lock:
            out: dict[str, float | None] = {}
            for resource in RESOURCES:
                rooms = [b._room(resource) for b in self._chain]
                finite = [r for r in rooms if r is not None]
                out[resource] = min(finite) if finite else None
            return out

    def _room(self, resource: str) -> float | None:
        """What is left of `resource` here, net of what reservations hold (None: unlimited)."""
        limit = getattr(self.limits, resource)
        if limit is None:
            return None
        held = getattr(self._spend, f"reserved_{resource}", 0)  # only usd and tokens are reserved
        return limit - self._used(resource) - held

    def check(self) -> None:
        """Raise BudgetExceeded if any level of the chain is already exhausted."""
        with self._lock:
            for b in self._chain:
                for resource in RESOURCES:
                    room = b._room(resource)
                    if room is not None and room <= 0:
                        raise BudgetExceeded(b.path, resource, getattr(b.limits, resource),
                                             b._used(resource))

    def _used(self, resource: str) -> float:
        return self.elapsed_s() if resource == "wall_clock_s" else getattr(self._spend, resource)

    # ---- spending -----------------------------------------------------------------------
    def reserve(self, usd: float, tokens: int) -> Reservation:
        """Hold `usd`/`tokens` at every level, or raise BudgetExceeded without holding anything."""
        with self._lock:
            for b in self._chain:
                wall = b._room("wall_clock_s")
                if wall is not None and wall <= 0:
                    raise BudgetExceeded(b.path, "wall_clock_s", b.limits.wall_clock_s or 0, b.elapsed_s())
                for resource, amount in (("usd", usd), ("tokens", tokens)):
                    room = b._room(resource)
                    if room is not None and amount > room:
                        raise BudgetExceeded(b.path, resource, getattr(b.limits, resource),
                                             b._used(resource), amount)
            for b in self._chain:
                b._spend.reserved_usd += usd
                b._spend.reserved_tokens += tokens
        return Reservation(self, usd, tokens)

    def count_tool_call(self) -> None:
        """Count one tool call at every level, or raise BudgetExceeded if any level has none left."""
        with self._lock:
            for b in self._chain:
                room = b._room("tool_calls")
                if room is not None and room < 1:
                    limit = b.limits.tool_calls or 0
                    raise BudgetExceeded(b.path, "tool_calls", limit, b._spend.tool_calls, 1)
                wall = b._room("wall_clock_s")
                if wall is not None and wall <= 0:
                    raise BudgetExceeded(b.path, "wall_clock_s", b.limits.wall_clock_s or 0, b.elapsed_s())
            for b in self._chain:
                b._spend.tool_calls += 1
            self._changed()

    def _settle(self, held_usd: float, held_tokens: int, usd: float, tokens: int, failed: bool) -> None:
        with self._lock:
            for b in self._chain:
                s = b._spend
                s.reserved_usd = max(0.0, s.reserved_usd - held_usd)
                s.reserved_tokens = max(0, s.reserved_tokens - held_tokens)
                s.usd += usd
                s.tokens += tokens
                s.llm_calls += 1
                s.failed_calls += int(failed)
            self._changed()

    def _changed(self) -> None:
        root = self.root
        if root._on_change is not None:
            root._on_change(root)

    def snapshot(self) -> dict[str, Any]:
        """What a checkpoint needs to resume this budget: spent amounts and elapsed time."""
        with self._lock:
            s = self._spend
            return {"usd": s.usd, "tokens": s.tokens, "tool_calls": s.tool_calls,
                    "llm_calls": s.llm_calls, "failed_calls": s.failed_calls,
                    "elapsed_s": self.elapsed_s(), "limits": self.limits.model_dump()}


class Reservation:
    """Money and tokens held for one LLM call; settle exactly once."""

    def __init__(self, budget: Budget, usd: float, tokens: int) -> None:
        self.budget, self.usd, self.tokens = budget, usd, tokens
        self._settled = False

    def settle(self, usd: float, tokens: int, *, failed: bool = False) -> None:
        """Release the hold and charge what the call actually cost."""
        if self._settled:
            return
        self._settled = True
        self.budget._settle(self.usd, self.tokens, usd, tokens, failed)
