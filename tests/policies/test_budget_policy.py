"""Budgets and rate limits in the policy documents (tenants[].usage): validation, periods and
the claims one request makes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies.budgets import Budget, BudgetExceeded, RateLimited, UsageLimits, period_of
from policies.documents import PolicyDocumentError, load_texts
from policies.ratelimit import BUDGET_NS, RATE_NS, plan, refusal

BASE = """
sites: [{id: local, jurisdiction: DE, region: EU}]
models: [{id: m@v1, site: local}]
tenants:
  - id: acme
    sites: [local]
    models: [m]
"""


def _load(usage: str = "") -> object:
    return load_texts([("p.yaml", BASE + usage)])


def test_a_tenant_without_usage_keeps_its_policy_version() -> None:
    assert _load().version == _load("    usage: null\n").version
    limited = _load("    usage: {rate_limits: [{requests_per_minute: 5}]}\n")
    assert limited.version != _load().version
    assert limited.tenants[0].usage.rate_limits[0].requests_per_minute == 5


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ("{budgets: [{id: b, period: week, unit: tokens, limit: 5}]}", "period"),
        ("{budgets: [{id: b, period: day, unit: tokens, limit: 0}]}", "limit"),
        ("{budgets: [{id: b, period: day, unit: tokens, limit: 5, key: abc}]}", "budgets"),
        ("{budgets: [{id: B!, period: day, unit: tokens, limit: 5}]}", "id"),
        ("{budgets: [{id: b, period: day, unit: tokens, limit: 5, soft: 1.5}]}", "soft"),
        (
            "{budgets: [{id: b, period: day, unit: tokens, limit: 5},"
            " {id: b, period: month, unit: tokens, limit: 9}]}",
            "usage",
        ),
        ("{rate_limits: [{scope: key}]}", "rate_limits"),
        ("{rate_limits: [{requests_per_minute: 0}]}", "requests_per_minute"),
        ("{quota: 5}", "quota"),
    ],
)
def test_bad_usage_settings_are_rejected_with_their_place(usage: str, field: str) -> None:
    with pytest.raises(PolicyDocumentError) as err:
        _load(f"    usage: {usage}\n")
    issue = err.value.issues[0]
    assert issue.line == 8 and field in (issue.field or "")


def test_periods_are_utc_days_and_months() -> None:
    late = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    day, month = period_of("day", late), period_of("month", late)
    assert (day.label, day.resets) == ("2026-12-31", datetime(2027, 1, 1, tzinfo=UTC))
    assert (month.label, month.resets) == ("2026-12", datetime(2027, 1, 1, tzinfo=UTC))
    feb = period_of("month", datetime(2028, 2, 29, 12, tzinfo=UTC))
    assert feb.resets == datetime(2028, 3, 1, tzinfo=UTC)


def test_the_claims_of_one_request() -> None:
    limits = UsageLimits(
        budgets=(
            Budget(id="t-month", period="month", unit="currency", limit=2.5),
            Budget(id="k-day", period="day", unit="tokens", limit=1000, scope="key"),
            Budget(id="one-key", period="day", unit="tokens", limit=10, scope="key", key="kX"),
        ),
        rate_limits=({"scope": "key", "requests_per_minute": 3, "tokens_per_minute": 500},),
    )
    now = datetime(2026, 12, 4, 10, 0, 30, tzinfo=UTC).timestamp()
    planned = plan(limits, "acme", "k1", tokens=120, cost_micro=4000, now=now)
    claims = {(c.namespace, c.key): (c.amount, c.limit) for c in planned.claims}
    window = int(now // 60)
    assert claims == {
        (RATE_NS, f"acme/key/k1/requests/{window}"): (1, 3),
        (RATE_NS, f"acme/key/k1/tokens/{window}"): (120, 500),
        (BUDGET_NS, "acme/t-month/-/2026-12"): (4000, 2_500_000),
        (BUDGET_NS, "acme/k-day/k1/2026-12-04"): (120, 1000),
    }  # "one-key" applies to key kX only
    rate = refusal(planned.holds[0], now)
    assert isinstance(rate, RateLimited) and rate.headers == {"retry-after": "30"}
    budget = refusal(planned.holds[2], now)
    assert isinstance(budget, BudgetExceeded)
    assert "t-month" in str(budget) and "resets at 2027-01-01T00:00:00Z" in str(budget)
