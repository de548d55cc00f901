"""The usage, budget and rate-limit metrics (names and labels from the observability plan).

Labels are bounded sets, never identifiers: tenant (policy tenant id), model_version, budget
(budget id from the policy), limit (e.g. key_requests_per_minute), kind. The collectors live in
``serving.observability.METRICS``' registry: one defined there under the same name is used as
is; one that is missing is created here (so this module never registers a name twice).
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter, Gauge

from serving.observability import METRICS

__all__ = ["USAGE_METRICS"]

log = logging.getLogger("bastion.usage")


def _collector(kind: type, name: str, doc: str, labels: tuple[str, ...]) -> Any | None:
    registry = METRICS.registry
    names = getattr(registry, "_names_to_collectors", {})
    full = f"{name}_total" if kind is Counter else name
    existing = names.get(full) or names.get(name)
    if existing is None:
        return kind(name, doc, list(labels), registry=registry)
    if tuple(getattr(existing, "_labelnames", ())) != labels:
        log.warning("metric defined with other labels; not updated", extra={"metric": name})
        return None
    return existing


class _UsageMetrics:
    def __init__(self) -> None:
        self.tokens = _collector(
            Counter,
            "bastion_tokens",
            "Tokens by tenant, model version and kind (prompt, completion, cached).",
            ("tenant", "model_version", "kind"),
        )
        self.cost = _collector(
            Counter,
            "bastion_cost",
            "Chargeback cost in the configured currency.",
            ("tenant", "model_version"),
        )
        self.used_ratio = _collector(
            Gauge,
            "bastion_budget_used_ratio",
            "Share of a budget used in its current period (reserved + settled).",
            ("tenant", "budget"),
        )
        self.alerts = _collector(
            Counter,
            "bastion_budget_alerts",
            "Soft budget threshold alerts sent.",
            ("tenant", "budget"),
        )
        self.rejections = _collector(
            Counter,
            "bastion_budget_rejections",
            "Requests refused (429) by a hard budget limit.",
            ("tenant", "budget"),
        )
        self.rate_limited = _collector(
            Counter,
            "bastion_rate_limited",
            "Requests refused (429) by a rate limit.",
            ("tenant", "limit"),
        )

    def spent(self, tenant: str, model: str, prompt: int, completion: int, cached: int,
              cost: float) -> None:  # fmt: skip
        if self.tokens is not None:
            self.tokens.labels(tenant, model, "prompt").inc(prompt)
            self.tokens.labels(tenant, model, "completion").inc(completion)
            self.tokens.labels(tenant, model, "cached").inc(cached)
        if self.cost is not None and cost:
            self.cost.labels(tenant, model).inc(cost)

    def ratio(self, tenant: str, budget: str, value: float) -> None:
        if self.used_ratio is not None:
            self.used_ratio.labels(tenant, budget).set(value)

    def budget_alert(self, tenant: str, budget: str) -> None:
        if self.alerts is not None:
            self.alerts.labels(tenant, budget).inc()

    def rejected(self, tenant: str, budget: str) -> None:
        if self.rejections is not None:
            self.rejections.labels(tenant, budget).inc()

    def limited(self, tenant: str, limit: str) -> None:
        if self.rate_limited is not None:
            self.rate_limited.labels(tenant, limit).inc()


USAGE_METRICS = _UsageMetrics()
