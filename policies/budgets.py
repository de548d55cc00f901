"""Budgets and rate limits as the policy documents declare them (one field per tenant, ``usage``),
and what they become per request: counter claims on the state store (state/claims.py).

```yaml
tenants:
  - id: acme
    ...
    usage:
      budgets:
        - {id: acme-monthly, period: month, unit: currency, limit: 500}       # the whole tenant
        - {id: key-daily, period: day, unit: tokens, limit: 200000, scope: key, soft: 0.9}
        - {id: batch-key, period: day, unit: currency, limit: 20, scope: key, key: 0f3a9c1d2e4b5a6c}
      rate_limits:
        - {scope: key, requests_per_minute: 60, tokens_per_minute: 40000}
        - {scope: tenant, requests_per_minute: 600}
```

A budget with ``scope: key`` applies to every key of the tenant separately (or, with ``key``,
to that key only). Periods are UTC calendar days and months. ``unit: currency`` counts the cost
model's currency (models[].cost in the configuration), kept as integer micro-units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Budget",
    "BudgetExceeded",
    "Period",
    "RateLimit",
    "RateLimited",
    "UsageLimits",
    "period_of",
]

_SLUG = r"^[a-z0-9][a-z0-9._-]{0,47}$"
_KEY_ID = r"^[A-Za-z0-9_-]{1,64}$"
MICRO = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    """A spending limit for one period, for the whole tenant or per key."""

    id: str = Field(
        pattern=_SLUG,
        description="Budget id, unique within the tenant; named in the 429, alerts and metrics.",
    )
    period: Literal["day", "month"] = Field(description="UTC calendar day or month.")
    unit: Literal["currency", "tokens"] = Field(
        description="currency: the cost model's currency (models[].cost); tokens: prompt + "
        "completion tokens."
    )
    limit: float = Field(
        gt=0,
        description="Hard limit per period; a request that would pass it "
        "is refused (429) before generation.",
    )
    scope: Literal["tenant", "key"] = Field(
        "tenant", description="tenant: one budget for all its keys; key: one per key."
    )
    key: str | None = Field(
        None, pattern=_KEY_ID, description="scope key only: the one key id it applies to."
    )
    soft: float | None = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of the limit at which one alert per period is sent (webhook, log "
        "line, metric); null: no alert.",
    )

    @model_validator(mode="after")
    def _key_needs_scope(self) -> Budget:
        if self.key is not None and self.scope != "key":
            raise ValueError("key: only with scope key")
        return self

    @property
    def units(self) -> int:
        """The limit in counter units (micro-currency or tokens)."""
        return round(self.limit * MICRO) if self.unit == "currency" else int(self.limit)

    def applies_to(self, key_id: str) -> bool:
        return self.key is None or self.key == key_id


class RateLimit(_Strict):
    """Requests and tokens per minute (fixed one-minute windows), per key or for the tenant."""

    scope: Literal["tenant", "key"] = Field("key", description="Per key, or the whole tenant.")
    key: str | None = Field(
        None, pattern=_KEY_ID, description="scope key only: the one key id it applies to."
    )
    requests_per_minute: int | None = Field(None, ge=1, description="Requests per minute.")
    tokens_per_minute: int | None = Field(
        None,
        ge=1,
        description="Prompt + completion tokens per minute (reserved as prompt estimate + "
        "max_tokens before generation, settled with the actual count after).",
    )

    @model_validator(mode="after")
    def _something(self) -> RateLimit:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("set requests_per_minute and/or tokens_per_minute")
        if self.key is not None and self.scope != "key":
            raise ValueError("key: only with scope key")
        return self

    def applies_to(self, key_id: str) -> bool:
        return self.key is None or self.key == key_id


class UsageLimits(_Strict):
    """A tenant's budgets and rate limits (the tenant's ``usage`` field)."""

    budgets: tuple[Budget, ...] = Field((), description="Budgets (day/month, currency/tokens).")
    rate_limits: tuple[RateLimit, ...] = Field((), description="Rate limits per minute.")

    @model_validator(mode="after")
    def _unique(self) -> UsageLimits:
        ids = [b.id for b in self.budgets]
        if len(ids) != len(set(ids)):
            raise ValueError("budgets: duplicate id")
        return self


@dataclass(frozen=True)
class Period:
    """One budget period: its label (``2026-12-04`` / ``2026-12``), start and reset time."""

    label: str
    start: datetime
    resets: datetime

    @property
    def seconds_left(self) -> float:
        return max((self.resets - datetime.now(UTC)).total_seconds(), 0.0)


def period_of(kind: Literal["day", "month"], now: datetime) -> Period:
    """The UTC day or month that contains ``now``."""
    now = now.astimezone(UTC)
    if kind == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period(start.strftime("%Y-%m-%d"), start, start + timedelta(days=1))
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return Period(start.strftime("%Y-%m"), start, nxt)


class BudgetExceeded(Exception):
    """A hard budget limit would be passed (→ 429 naming the budget and when it resets)."""

    def __init__(self, budget: Budget, period: Period) -> None:
        self.budget = budget
        self.period = period
        when = period.resets.strftime("%Y-%m-%dT%H:%M:%SZ")
        scope = "per key" if budget.scope == "key" else "tenant"
        super().__init__(
            f"Budget '{budget.id}' ({scope}, {budget.period}ly, {budget.unit}) is exhausted "
            f"for this period; it resets at {when}."
        )
        self.headers = {"x-bastion-budget-reset": when}


class RateLimited(Exception):
    """A rate limit is reached (→ 429 with ``retry-after``)."""

    def __init__(self, limit: str, retry_after_s: float) -> None:
        self.limit = limit
        self.retry_after = max(1, math.ceil(retry_after_s))
        super().__init__(
            f"Rate limit reached ({limit.replace('_', ' ')}); retry after {self.retry_after} s."
        )
        self.headers = {"retry-after": str(self.retry_after)}
