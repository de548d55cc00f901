"""Usage and cost: the cost model per model version, what one request cost, and the usage ledger.

The ledger is a set of counters in the state store (namespace ``usage``), one per
``tenant / day / model version / key id / measure``, written in the same transaction that
settles a request's budget reservation. ``bastion usage`` reads these aggregates: it never
scans logs. Costs are integers in micro-units of the configured currency.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from policies.budgets import MICRO
from state.claims import Claim

__all__ = [
    "MEASURES",
    "USAGE_NS",
    "CostModel",
    "RequestUsage",
    "UsageRow",
    "UsageSettings",
    "format_report",
    "ledger_claims",
    "query_usage",
]

USAGE_NS = "usage"
MEASURES = ("requests", "prompt", "completion", "cached", "cost", "gpu_ms")


class CostModel(BaseModel):
    """Internal chargeback prices of one model version (``models[].cost``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_per_1k: float = Field(0.0, ge=0, description="Price per 1,000 prompt tokens.")
    completion_per_1k: float = Field(0.0, ge=0, description="Price per 1,000 completion tokens.")
    cached_per_1k: float | None = Field(
        None,
        ge=0,
        description="Price per 1,000 cached prompt tokens (answered from a cache); empty: the "
        "prompt price.",
    )
    per_gpu_second: float = Field(
        0.0,
        ge=0,
        description="Price per GPU-second of generation (generation wall time x the model "
        "replica's num_gpus; 0 GPUs costs nothing here).",
    )
    currency: str = Field(
        "USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code; one currency for all models."
    )

    def micro(self, prompt: int, completion: int, cached: int = 0, gpu_s: float = 0.0) -> int:
        """The cost in micro-units (rounded up: chargeback never under-counts)."""
        cached = min(cached, prompt)
        cached_price = self.prompt_per_1k if self.cached_per_1k is None else self.cached_per_1k
        total = (
            (prompt - cached) * self.prompt_per_1k
            + cached * cached_price
            + completion * self.completion_per_1k
        ) / 1000 + gpu_s * self.per_gpu_second
        return math.ceil(round(total * MICRO, 6))


class UsageSettings(BaseModel):
    """The ``usage`` block of the configuration (docs/usage-and-budgets.md)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True,
        description="Meter every inference request: usage ledger, budgets and rate limits from "
        "the policy documents. false: none of these (tokens still reach the response, the "
        "audit record and the metrics).",
    )
    alert_webhook: str | None = Field(
        None,
        pattern=r"^https?://[^\s]{1,2000}$",
        description="On-prem URL that receives a JSON POST when a budget crosses its soft "
        "threshold (once per budget and period). Empty: log line and metric only.",
    )
    alert_timeout_s: float = Field(5.0, gt=0, le=60, description="Webhook timeout.")
    bytes_per_token: float = Field(
        2.0,
        gt=0,
        le=8,
        description="Prompt token estimate for reservations: UTF-8 bytes of the (redacted) "
        "prompt per token, plus 4 tokens per message and 8 for the template. Lower reserves "
        "more.",
    )


@dataclass(frozen=True)
class RequestUsage:
    """What one request used: tokens, cost (micro-units), GPU time."""

    prompt: int
    completion: int
    cached: int = 0
    cost_micro: int = 0
    gpu_ms: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion


def ledger_claims(
    tenant: str, key_id: str, model: str, day: str, usage: RequestUsage
) -> list[Claim]:
    """The ledger increments of one request (no expiry: the ledger is the chargeback record)."""
    base = f"{tenant}/{day}/{model}/{key_id}"
    values = (1, usage.prompt, usage.completion, usage.cached, usage.cost_micro, usage.gpu_ms)
    return [
        Claim(USAGE_NS, f"{base}/{measure}", value)
        for measure, value in zip(MEASURES, values, strict=True)
        if value
    ]


@dataclass
class UsageRow:
    """One line of a report: a group (model, key, day or the tenant) and its sums."""

    group: str
    requests: int = 0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    cost_micro: int = 0
    gpu_ms: int = 0

    def as_dict(self, by: str, currency: str) -> dict[str, str | int | float]:
        return {
            by: self.group,
            "requests": self.requests,
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "cached_tokens": self.cached,
            "total_tokens": self.prompt + self.completion,
            "gpu_seconds": round(self.gpu_ms / 1000, 3),
            "cost": round(self.cost_micro / MICRO, 6),
            "currency": currency,
        }


Group = Literal["model", "key", "day", "tenant"]
_FIELD = {"cost": "cost_micro"}


class _Store(Protocol):
    def counters(
        self, namespace: str, prefix: str = "", limit: int = 100_000
    ) -> list[tuple[str, int]]: ...


def query_usage(
    store: _Store, tenant: str, start: date, end: date, by: Group = "model"
) -> list[UsageRow]:
    """Sums of the ledger for ``tenant`` from ``start`` to ``end`` (inclusive), grouped."""
    rows: dict[str, UsageRow] = {}
    lo, hi = start.isoformat(), end.isoformat()
    for key, value in store.counters(USAGE_NS, f"{tenant}/", limit=10_000_000):
        parts = key.split("/")
        if len(parts) != 5:
            continue
        _, day, model, key_id, measure = parts
        if not lo <= day <= hi or measure not in MEASURES:
            continue
        group = {"model": model, "key": key_id, "day": day, "tenant": tenant}[by]
        row = rows.setdefault(group, UsageRow(group))
        name = _FIELD.get(measure, measure)
        setattr(row, name, getattr(row, name) + value)
    return [rows[g] for g in sorted(rows)]


def format_report(
    rows: list[UsageRow], by: str, fmt: Literal["table", "csv", "json"], currency: str
) -> str:
    """The report as a text table, CSV or JSON (a list of objects)."""
    dicts = [r.as_dict(by, currency) for r in rows]
    columns = [
        by, "requests", "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens",
        "gpu_seconds", "cost", "currency",
    ]  # fmt: skip
    if fmt == "json":
        return json.dumps(dicts, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(dicts)
        return out.getvalue()
    totals = defaultdict(int)
    for row in rows:
        for name in ("requests", "prompt", "completion", "cached", "cost_micro", "gpu_ms"):
            totals[name] += getattr(row, name)
    total = UsageRow("TOTAL", **totals).as_dict(by, currency)
    cells = [[str(d[c]) for c in columns] for d in [*dicts, total]]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, *body[:-1], "-" * len(line), body[-1]]) + "\n"
