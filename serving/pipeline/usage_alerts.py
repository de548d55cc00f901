"""Soft budget alerts: once per budget and period across every replica, as a webhook POST to an
on-prem URL from the configuration, a log line and a metric.

"Once" is decided in the state store (``put_if_absent`` on the alert's key, expiring with the
period), so two replicas that cross the threshold together send one alert. The webhook is sent
from a background thread: a slow or unreachable receiver never delays a request. The payload
and the log line carry Bastion's own ids only (tenant, budget id, key id for a per-key budget),
never request content; the log line carries no key id either.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any

from policies.budgets import MICRO, Budget, Period
from serving.pipeline.usage_metrics import USAGE_METRICS
from state import StateError, StateStore

__all__ = ["Alert", "Alerter"]

log = logging.getLogger("bastion.usage")
ALERT_NS = "budget-alert"


@dataclass(frozen=True)
class Alert:
    tenant: str
    budget: Budget
    period: Period
    key_id: str | None  # per-key budgets only
    used: int  # counter units (micro-currency or tokens)

    def payload(self, currency: str) -> dict[str, Any]:
        unit = self.budget.unit
        scale = MICRO if unit == "currency" else 1
        return {
            "event": "budget.soft_threshold",
            "tenant": self.tenant,
            "budget": self.budget.id,
            "scope": self.budget.scope,
            "key_id": self.key_id,
            "period": self.budget.period,
            "period_label": self.period.label,
            "resets_at": self.period.resets.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "unit": currency if unit == "currency" else "tokens",
            "used": self.used / scale,
            "limit": self.budget.limit,
            "ratio": round(self.used / self.budget.units, 4),
            "threshold": self.budget.soft,
        }


class Alerter:
    """Sends each (budget, period[, key]) alert at most once cluster-wide."""

    def __init__(
        self,
        store: StateStore,
        webhook: str | None,
        timeout_s: float = 5.0,
        currency: str = "USD",
    ) -> None:
        self.store = store
        self.webhook = webhook
        self.timeout_s = timeout_s
        self.currency = currency
        self._sent: set[str] = set()  # this replica's memory, saves a store write per request
        self._lock = threading.Lock()

    def check(self, alert: Alert) -> bool:
        """Alert if ``alert.used`` crossed the budget's soft share; True when this call sent it."""
        budget = alert.budget
        if budget.soft is None or alert.used < budget.soft * budget.units:
            return False
        who = alert.key_id if budget.scope == "key" else "-"
        key = f"{alert.tenant}/{budget.id}/{who}/{alert.period.label}"
        with self._lock:
            if key in self._sent:
                return False
            self._sent.add(key)
        ttl = max(alert.period.seconds_left, 1.0) + 86_400.0
        try:
            first = self.store.put_if_absent(ALERT_NS, key, b"1", ttl_s=ttl)
        except StateError:
            log.error("budget alert state unavailable; alert not sent")
            with self._lock:
                self._sent.discard(key)
            return False
        if not first:
            return False
        USAGE_METRICS.budget_alert(alert.tenant, budget.id)
        log.warning(
            "budget soft threshold crossed",
            extra={
                "tenant": alert.tenant,
                "budget": budget.id,
                "period": alert.period.label,
                "ratio": round(alert.used / budget.units, 4),
            },
        )
        if self.webhook:
            body = json.dumps(alert.payload(self.currency)).encode()
            threading.Thread(target=self._post, args=(body,), daemon=True).start()
        return True

    def _post(self, body: bytes) -> None:
        assert self.webhook is not None
        request = urllib.request.Request(
            self.webhook,
            data=body,
            method="POST",
            headers={"content-type": "application/json", "user-agent": "bastion-budget-alert"},
        )
        try:  # no proxy from the environment: the receiver is on-prem, reached directly
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(request, timeout=self.timeout_s) as response:
                response.read()
        except Exception as exc:  # the alert is logged and counted; the receiver is down
            log.error("budget alert webhook failed", extra={"error_type": type(exc).__name__})
