# ruff: noqa: F811  (the imported fixture ``site`` is requested by name as a parameter)
"""Metrics per A/B variant: with a real 50/50 split of an alias (tests/serving/test_aliases.py's
in-process site: real model, real SQLite state store), each request is counted under the model
version that served it and the split arm it was routed by, so the dashboard can compare the
arms' traffic, errors, latency and TTFT."""

from __future__ import annotations

from collections import Counter

from serving.observability import METRICS
from tests.serving.test_aliases import V1, V2, Site, site  # noqa: F401


def by_arm(name: str, **fixed: str) -> dict[tuple[str, str], float]:
    out: Counter[tuple[str, str]] = Counter()
    for family in METRICS.registry.collect():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in fixed.items()):
                out[(s.labels["model_version"], s.labels["variant"])] += s.value
    return dict(out)


def test_requests_and_ttft_are_counted_per_variant(site: Site) -> None:
    r = site.admin("split", alias="prod", weights={V1: 50, V2: 50})
    assert r.status_code == 200, r.text
    try:
        requests_before = by_arm("bastion_model_requests_total", tenant="acme", status="200")
        ttft_before = by_arm("bastion_ttft_by_version_seconds_count")
        served = Counter(site.served(user=f"ab-user-{i}") for i in range(12))
        assert set(served) == {V1, V2}  # both arms served
        requests = by_arm("bastion_model_requests_total", tenant="acme", status="200")
        ttft = by_arm("bastion_ttft_by_version_seconds_count")
        for version, n in served.items():
            arm = (version, f"prod/{version}")
            assert requests.get(arm, 0) - requests_before.get(arm, 0) == n
            assert ttft.get(arm, 0) - ttft_before.get(arm, 0) == n
    finally:
        assert site.admin("rollback", alias="prod").status_code == 200
