"""Budgets as the LLM client's budget hook: reserve the worst case, settle on the bill.

`budget_middleware(budget)` returns the client's `BudgetMiddleware` wired to a
`Budget` level. Before each call it reserves the call's maximum possible cost
(the catalog's estimate: every output token the request allows at the output
price, plus the prompt at the input price) and as many tokens; a refusal is a
`BudgetExceeded`, which the client never retries. After the call it settles on
the provider's usage. A call that failed (an HTTP error, a dropped stream) is
still charged its prompt, at the input price: the provider has read it, and a
failing call repeated in a loop must still drain the budget. A response whose
content turns out unparseable was already settled on its usage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shopfloor.govern.budget import Budget, Reservation
from shopfloor.llm.catalog import (
    DEFAULT_CHARS_PER_TOKEN,
    DEFAULT_RESERVED_OUTPUT_TOKENS,
    Catalog,
    default_catalog,
)
from shopfloor.llm.middleware import BudgetMiddleware
from shopfloor.llm.types import Request, Usage


@dataclass
class _Held:
    reservation: Reservation
    prompt_tokens: int
    prompt_cost_usd: float


def prompt_tokens(request: Request) -> int:
    """The catalog's estimate of a request's prompt size, in tokens."""
    chars = sum(len(p.text or "") for m in request.messages for p in m.content)
    chars += sum(len(json.dumps(t.parameters)) + len(t.description) for t in request.tools or [])
    return chars // DEFAULT_CHARS_PER_TOKEN + 1


class BudgetHook:
    """The `llm.middleware.BudgetHook` over one Budget level."""

    def __init__(self, budget: Budget, catalog: Catalog | None = None) -> None:
        self.budget = budget
        self.catalog = catalog or default_catalog()

    def _max_output(self, request: Request) -> int:
        info = self.catalog.get(request.model, request.provider)
        return request.max_tokens or (info.max_output if info and info.max_output else None) \
            or DEFAULT_RESERVED_OUTPUT_TOKENS

    def reserve(self, request: Request, estimated_cost_usd: float) -> _Held:
        tokens = prompt_tokens(request)
        held = self.budget.reserve(estimated_cost_usd, tokens + self._max_output(request))
        prompt_cost = self.catalog.cost(Usage(input_tokens=tokens), request.model, request.provider or "")
        return _Held(held, tokens, prompt_cost)

    def settle(self, reservation: _Held, cost_usd: float, usage: Usage | None) -> None:
        if usage is None:  # the call failed: the prompt was still sent
            held = reservation
            held.reservation.settle(held.prompt_cost_usd, held.prompt_tokens, failed=True)
            return
        tokens = usage.total_tokens or usage.input_tokens + usage.output_tokens
        reservation.reservation.settle(cost_usd, tokens)


def budget_middleware(budget: Budget, catalog: Catalog | None = None) -> BudgetMiddleware:
    """The client middleware that charges every LLM call to `budget` (and its ancestors)."""
    hook = BudgetHook(budget, catalog)
    return BudgetMiddleware(hook, hook.catalog)
