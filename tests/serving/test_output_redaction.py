"""Output redaction as a pipeline stage (serving/pipeline/output_redaction.py), without HTTP:
identifiers the model invents never reach the client, whole or streamed; the request's own
placeholders are restored; counts by type go to the state (hence the audit record) and the
metrics; a tenant can turn it off."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from models.engines.base import Delta, Usage
from policies.access import Principal, Role
from policies.audit import RecordFilter
from privacy import PrivacyConfig, Redactor, TenantPrivacyConfig
from privacy.output import REDACTED_RE
from serving import protocol
from serving.observability import METRICS
from serving.pipeline.audit import build_record
from serving.pipeline.output_redaction import OutputRedaction
from serving.pipeline.redact import Redact
from serving.pipeline.restore import Restore
from serving.pipeline.state import Outcome, RequestState, Route
from serving.redaction_batcher import RedactionBatcher
from tests.serving.conftest import MODEL

# What the model "writes", in placeholder form, split mid-identifier.
ANSWER = [
    "Here is the card for [PER",
    "SON_1]:\nPhone: 617-55",
    "5-0148\nEmail: jane.po",
    "rter@example.org\nAsk [PERSON_1] to call.",
]


class ScriptedModel:
    """Test double for the generate stage's stream: the bundled model cannot be made to split
    identifiers at chosen offsets on demand."""

    async def items(self) -> AsyncIterator[Delta]:
        for i, text in enumerate(ANSWER):
            last = i == len(ANSWER) - 1
            yield Delta(text, "stop" if last else None, Usage(5, 9) if last else None)


@pytest.fixture(scope="module")
def redactors(redactor: Redactor) -> dict[str, Redactor]:
    config = PrivacyConfig(tenants={"quiet": TenantPrivacyConfig(output_redaction=False)})
    shared = Redactor(config)
    shared._analyzer = redactor._get_analyzer()  # share the loaded model (slow to build)
    return {"shared": shared}


def _state(redactor: Redactor, tenant: str) -> RequestState:
    state = RequestState(request_id="req-output-1", route=Route.CHAT)
    state.principal = Principal("key1", tenant, Role.APP)
    state.redaction = redactor.redact_messages(["Write a card for Ana Ruiz."], tenant)
    return state


def _run(aio: Any, redactor: Redactor, tenant: str) -> tuple[RequestState, str, str]:
    """Output redaction then restore over the scripted stream: (state, restored, captured)."""
    state = _state(redactor, tenant)
    scanned = OutputRedaction(redactor).wrap(state, ScriptedModel().items())
    restored = Restore().wrap(state, scanned)

    async def collect() -> str:
        return "".join([item.text async for item in restored])

    return state, aio.run(collect()), "".join(state.output)


def _metric(kind: str) -> float:
    value = METRICS.registry.get_sample_value(
        "bastion_output_redactions_total", {"entity_type": kind}
    )
    return value or 0.0


def test_invented_identifiers_never_reach_the_client(aio, redactors) -> None:
    redactor = redactors["shared"]
    before = _metric("PHONE")
    state, text, scanned = _run(aio, redactor, "acme")
    assert "617-555-0148" not in text and "555" not in text and "jane" not in text
    assert text.startswith("Here is the card for Ana Ruiz:\n")
    assert text.endswith("Ask Ana Ruiz to call.")
    assert state.output_redactions == {"PHONE": 1, "EMAIL": 1}
    assert len(REDACTED_RE.findall(text)) == 2
    assert "Ana Ruiz" not in scanned and "[PERSON_1]" in scanned  # capture: placeholder form
    assert _metric("PHONE") == before + 1
    record = build_record(state, Outcome(200))
    assert record.output_redactions == {"EMAIL": 1, "PHONE": 1}
    assert b"617" not in record.canonical_bytes()


def test_a_tenant_can_turn_it_off(aio, redactors) -> None:
    state, text, _ = _run(aio, redactors["shared"], "quiet")
    assert "617-555-0148" in text and "jane.porter@example.org" in text
    assert state.output_redactions is None
    assert build_record(state, Outcome(200)).output_redactions is None


# -- served: the real model through the in-process app --------------------------------------------

CARD = (
    "Write a sample contact card for a fictional person: full name, phone number, email "
    "address and home address."
)


def _records(api: Any, request_id: str) -> list[Any]:
    out, cursor = [], None
    while True:
        page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, cursor))
        out += [rec for _, rec in page.records if rec.request_id == request_id]
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def test_served_answers_whole_and_streamed(api, redactor) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": CARD}],
        "max_tokens": 60,
        "temperature": 0,
    }
    r = api.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    whole = r.json()["choices"][0]["message"]["content"]
    markers = REDACTED_RE.findall(whole)
    assert markers, "the model invented no identifier; the test would prove nothing"
    leftover = [
        whole[s.start : s.end]
        for s in redactor.redact_messages([whole], "").spans[0]
        if not any(m.start() < s.end and s.start < m.end() for m in REDACTED_RE.finditer(whole))
    ]
    assert leftover == []
    (record,) = _records(api, r.headers["x-request-id"])
    assert record.output_redactions and sum(record.output_redactions.values()) == len(markers)
    streamed = api.post("/v1/chat/completions", json={**body, "stream": True})
    text = "".join(
        (json.loads(line[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for line in streamed.text.splitlines()
        if line.startswith("data: {")
    )
    assert text == whole
    assert "bastion_output_redactions_total" in api.get("/metrics").text


def _degraded(stage: str) -> float:
    value = METRICS.registry.get_sample_value("bastion_redaction_degraded_total", {"stage": stage})
    return value or 0.0


def test_degraded_detection_is_recorded_and_counted(aio, redactor, monkeypatch) -> None:
    # Fault injection: the model pass (spaCy) failing at run time cannot be caused with a real
    # input.
    def broken(texts, deadline, batch=64):
        raise MemoryError("simulated")

    config = PrivacyConfig(tenants={"open": TenantPrivacyConfig(fail_closed=False)})
    shared = Redactor(config)
    shared._analyzer = redactor._get_analyzer()
    monkeypatch.setattr(shared._analyzer, "detect", broken)
    request = protocol.ChatCompletionRequest.model_validate(
        {"model": MODEL, "messages": [{"role": "user", "content": "Call Ana at 617-555-0100."}]}
    )
    state = RequestState(request_id="req-degraded-1", route=Route.CHAT)
    state.principal = Principal("key1", "open", Role.APP)
    state.request = request
    before_request, before_output = _degraded("request"), _degraded("output")
    aio.run(Redact(RedactionBatcher(shared)).before(state))
    assert state.redaction is not None and state.redaction.degraded
    assert _degraded("request") == before_request + 1

    async def collect() -> str:
        scanned = OutputRedaction(shared).wrap(state, ScriptedModel().items())
        return "".join([item.text async for item in scanned])

    text = aio.run(collect())
    assert "617-555-0148" not in text and state.output_degraded
    assert _degraded("output") == before_output + 1
    record = build_record(state, Outcome(200))
    assert record.degraded is True
    assert build_record(RequestState("req-2", Route.CHAT), Outcome(200)).degraded is None
