"""Every metric the Grafana dashboard and the Prometheus rules (infra/observability/) query is
exported by a real server: the in-process app with the real bundled model, scraped on /metrics
after real requests (served, denied, unauthenticated)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.infra.test_observability import PROMETHEUS_OWN, queried_metric_names
from tests.serving.conftest import MODEL

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


def exported(text: str) -> tuple[set[str], set[str]]:
    """(names the exposition declares, names that carry at least one sample)."""
    declared: set[str] = set()
    sampled: set[str] = set()
    for family in text_string_to_metric_families(text):
        declared |= {family.name + s for s in _SUFFIXES.get(family.type, ("",))}
        sampled |= {s.name for s in family.samples}
    return declared, sampled


def test_every_queried_metric_is_exported_by_the_server(api: Any):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Count to three."}]}
    r = api.post("/v1/chat/completions", json={**body, "max_tokens": 6, "stream": True})
    assert r.status_code == 200
    assert api.post("/v1/chat/completions", key="stranger", json=body).status_code == 403
    scrape = api.get("/metrics", key="admin")
    assert scrape.status_code == 200
    declared, sampled = exported(scrape.text)

    queried = queried_metric_names() - PROMETHEUS_OWN
    assert len(queried) >= 15
    missing = sorted(queried - declared)
    assert not missing, f"queried by the dashboard or the rules but not exported: {missing}"

    # what these requests exercised is there with samples, not just declared
    for name in (
        "bastion_model_requests_total",
        "bastion_model_request_latency_seconds_bucket",
        "bastion_ttft_by_version_seconds_bucket",
        "bastion_tokens_per_second_bucket",
        "bastion_policy_denials_total",
        "bastion_model_ready",
        "bastion_requests_in_flight",
    ):
        assert name in sampled, name


def test_the_comparison_can_fail():
    """A name the server does not export is reported missing."""
    declared, _ = exported("# TYPE bastion_a counter\nbastion_a_total 1\n")
    assert "bastion_a_total" in declared and "bastion_b_total" not in declared
