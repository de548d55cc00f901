"""Per-request metrics by tenant, model version and variant, from real requests through the
in-process app (real bundled model, real redaction, real SQLite audit log): each request is
counted once with the status the client got, and labels never carry request content."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.observability import METRICS
from tests.serving.conftest import MODEL

VERSION = f"{MODEL}@v1"


def value(name: str, **labels: str) -> float:
    return METRICS.registry.get_sample_value(name, labels) or 0.0


def chat(api: Any, content: str, key: str = "app", **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 8}
    return api.post(
        "/v1/chat/completions", key=key, json={**body, "temperature": 0, **extra}, headers=headers
    )


def test_a_served_request_is_counted_by_tenant_version_and_variant(api):
    labels = {"tenant": "acme", "model_version": VERSION, "variant": "-"}
    before = {
        "requests": value("bastion_model_requests_total", **labels, status="200"),
        "latency": value("bastion_model_request_latency_seconds_count", **labels),
        "ttft": value("bastion_ttft_by_version_seconds_count", model_version=VERSION, variant="-"),
        "tps": value("bastion_tokens_per_second_count", model_version=VERSION, variant="-"),
        "email": value(
            "bastion_redactions_total", tenant="acme", entity_type="EMAIL", where="request"
        ),
    }
    r = chat(api, "Write to jane.roe@example.org and count to five.", stream=True)
    assert r.status_code == 200
    assert value("bastion_model_requests_total", **labels, status="200") == before["requests"] + 1
    assert value("bastion_model_request_latency_seconds_count", **labels) == before["latency"] + 1
    ttft = value("bastion_ttft_by_version_seconds_count", model_version=VERSION, variant="-")
    assert ttft == before["ttft"] + 1
    tps = value("bastion_tokens_per_second_count", model_version=VERSION, variant="-")
    assert tps == before["tps"] + 1  # 8 tokens asked for: more than one was generated
    email = value("bastion_redactions_total", tenant="acme", entity_type="EMAIL", where="request")
    assert email == before["email"] + 1


@pytest.mark.parametrize(
    ("key", "extra", "rule", "status"),
    [
        ("clinic", {"model": "chat-secure"}, "tenant/purpose-required", "403"),
        ("stranger", {}, None, "403"),
    ],
)
def test_a_denied_request_is_counted_with_its_rule(api, key, extra, rule, status):
    tenant = {"clinic": "clinic", "stranger": "nobody"}[key]
    denials = {
        s.labels["rule"]: s.value
        for s in METRICS.policy_denials.collect()[0].samples
        if s.name.endswith("_total") and s.labels["tenant"] == tenant
    }
    count = value(
        "bastion_model_requests_total", tenant=tenant, model_version="-", variant="-", status=status
    )
    r = chat(api, "Hello.", key=key, **extra)
    assert r.status_code == int(status), r.text
    after = {
        s.labels["rule"]: s.value
        for s in METRICS.policy_denials.collect()[0].samples
        if s.name.endswith("_total") and s.labels["tenant"] == tenant
    }
    changed = {k for k in after if after[k] != denials.get(k, 0.0)}
    assert len(changed) == 1 and all(after[k] == denials.get(k, 0.0) + 1 for k in changed)
    if rule is not None:
        assert changed == {rule}
    # denied before routing: no model version
    after_count = value(
        "bastion_model_requests_total", tenant=tenant, model_version="-", variant="-", status=status
    )
    assert after_count == count + 1


def test_an_unauthenticated_request_is_counted_without_a_tenant(api):
    labels = {"tenant": "-", "model_version": "-", "variant": "-", "status": "401"}
    before = value("bastion_model_requests_total", **labels)
    assert chat(api, "Hello.", key="bst_0000000000000000_" + "A" * 43).status_code == 401
    assert value("bastion_model_requests_total", **labels) == before + 1


def test_no_label_value_is_request_content(api):
    secret = "Maximilian Oberholzer-Quast"
    assert chat(api, f"Say hello to {secret}, card 4111 1111 1111 1111.").status_code == 200
    text = api.get("/metrics", key="admin").text
    assert "Oberholzer" not in text
    # the card's digits as a number of their own: a sample value such as a `_created` timestamp
    # (1.79653176411e+09) may hold "4111" among its digits
    assert not re.search(r"(?<![\d.])4111(?!\d)", text)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for name, label in sample.labels.items():
                # configuration values only: ids, versions, codes, types
                assert re.fullmatch(r"[A-Za-z0-9_.:@/+\-]{0,128}", label), (name, label)


def test_model_readiness_is_refreshed_at_each_scrape(api):
    """bastion_model_ready (the "model replica down" alert): 1 while the replica serves, 0
    while it does not; a version pinned to a site absent from this cluster is not reported."""
    server = api.client._transport.app.state.gateway.models[VERSION]

    def ready() -> dict[str, float]:
        text = api.get("/metrics", key="admin").text
        return {
            s.labels["model_version"]: s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "bastion_model_ready"
        }

    assert ready() == {VERSION: 1.0, "pii-only@v1": 1.0, "all-minilm-l6-v2@v1": 1.0}
    server.ready = False  # the real server, as it is before its engine has started
    try:
        assert ready()[VERSION] == 0.0
    finally:
        server.ready = True
    assert ready()[VERSION] == 1.0
