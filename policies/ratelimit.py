"""Rate limits and budgets as counter claims: what one request reserves before generation.

Rate limits use fixed one-minute windows shared by every replica (the counter's key names the
window; it expires two minutes after creation). Budgets use one counter per period. Counter keys
hold only Bastion's own ids (tenant, budget id, key id), never request content.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from policies.budgets import Budget, BudgetExceeded, Period, RateLimited, UsageLimits, period_of
from state.claims import Claim

__all__ = ["BUDGET_NS", "RATE_NS", "Hold", "Planned", "plan", "refusal"]

RATE_NS = "rate"
BUDGET_NS = "budget"
WINDOW_S = 60
_TTL = {"day": 2 * 86_400.0, "month": 33 * 86_400.0}


@dataclass(frozen=True)
class Hold:
    """One reserved counter and why: a budget (with its period) or a rate limit."""

    claim: Claim
    unit: str  # "currency" | "tokens" | "requests"
    budget: Budget | None = None
    period: Period | None = None
    limit_name: str | None = None  # rate limits: e.g. key_tokens_per_minute
    window_end: float | None = None


@dataclass(frozen=True)
class Planned:
    holds: tuple[Hold, ...]

    @property
    def claims(self) -> list[Claim]:
        return [h.claim for h in self.holds]


def budget_key(tenant: str, budget: Budget, key_id: str, period: Period) -> str:
    who = key_id if budget.scope == "key" else "-"
    return f"{tenant}/{budget.id}/{who}/{period.label}"


def plan(
    limits: UsageLimits,
    tenant: str,
    key_id: str,
    tokens: int,
    cost_micro: int,
    now: float | None = None,
) -> Planned:
    """The claims one request makes: 1 request and ``tokens`` on every rate limit that applies,
    ``tokens`` or ``cost_micro`` on every budget that applies (its current period)."""
    now = time.time() if now is None else now
    holds: list[Hold] = []
    window = int(now // WINDOW_S)
    end = (window + 1) * WINDOW_S
    for rl in limits.rate_limits:
        if rl.scope == "key" and not rl.applies_to(key_id):
            continue
        who = key_id if rl.scope == "key" else "-"
        for what, limit, amount in (
            ("requests", rl.requests_per_minute, 1),
            ("tokens", rl.tokens_per_minute, tokens),
        ):
            if limit is None:
                continue
            key = f"{tenant}/{rl.scope}/{who}/{what}/{window}"
            claim = Claim(RATE_NS, key, amount, limit, 2.0 * WINDOW_S)
            name = f"{rl.scope}_{what}_per_minute"
            holds.append(Hold(claim, what, limit_name=name, window_end=end))
    wall = datetime.fromtimestamp(now, UTC)
    for budget in limits.budgets:
        if budget.scope == "key" and not budget.applies_to(key_id):
            continue
        period = period_of(budget.period, wall)
        amount = cost_micro if budget.unit == "currency" else tokens
        claim = Claim(
            BUDGET_NS,
            budget_key(tenant, budget, key_id, period),
            amount,
            budget.units,
            _TTL[budget.period],
        )
        holds.append(Hold(claim, budget.unit, budget=budget, period=period))
    return Planned(tuple(holds))


def refusal(hold: Hold, now: float | None = None) -> Exception:
    """The error a refused hold becomes: BudgetExceeded or RateLimited."""
    if hold.budget is not None:
        assert hold.period is not None
        return BudgetExceeded(hold.budget, hold.period)
    now = time.time() if now is None else now
    return RateLimited(hold.limit_name or "rate", (hold.window_end or now) - now)
