"""Pipeline steps 2 and 8 in-process: identifiers are replaced before the model or policy sees
the request, restored in the answer, counted (never stored) — and a leak sweep over every
output of the server."""

from __future__ import annotations

import json
import logging
import re

import pytest

from policies.audit import RecordFilter
from tests.serving.conftest import MODEL

CHAT = "/v1/chat/completions"
NAME = "Marguerite Okonkwo-Delacroix"
MRN = "MRN 48213377"
CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
EMAIL = "m.okonkwo@stmarys-example.org"
PHONE = "(617) 555-0143"
IDENTIFIERS = [NAME, "48213377", CARD, SSN, EMAIL, "555-0143", "Okonkwo"]
NOTE = (
    f"Patient {NAME}, {MRN}, SSN {SSN}, phone {PHONE}, email {EMAIL}, paid with card "
    f"{CARD}. Summarize the visit."
)


class Recorder:
    """Wraps the real model client and keeps what it was sent (an observer, not a fake)."""

    def __init__(self, inner):
        self.inner = inner
        self.payloads = []

    def generate(self, payload):
        self.payloads.append(payload)
        return self.inner.generate(payload)

    async def info(self):
        return await self.inner.info()

    async def stats(self):
        return await self.inner.stats()


@pytest.fixture
def recorder(api):
    gateway = api.client._transport.app.state.gateway
    key = f"{MODEL}@v1"
    rec = Recorder(gateway.models[key])
    gateway.models[key] = rec
    yield rec
    gateway.models[key] = rec.inner


def test_the_model_sees_placeholders_only(api, recorder):
    r = api.post(
        CHAT,
        json={
            "model": MODEL,
            "max_tokens": 4,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": f"Caller: {NAME}"},
                {"role": "user", "content": NOTE},
            ],
        },
    )
    assert r.status_code == 200
    (payload,) = recorder.payloads
    sent = " ".join(m.content for m in payload.messages)
    for value in IDENTIFIERS:
        assert value not in sent
    (placeholder,) = re.findall(r"[\[<][A-Z_]+_\d+[\]>]", payload.messages[0].content)
    assert placeholder in payload.messages[1].content  # same value, same placeholder
    assert int(r.headers["x-bastion-redactions"]) >= 6


def test_answers_are_restored_whole_and_streamed(api):
    prompt = f"Name: {NAME}\nName: {NAME}\nName: {NAME}\nName:"
    body = {"model": MODEL, "prompt": prompt, "max_tokens": 8, "temperature": 0, "stop": ["\n"]}
    whole = api.post("/v1/completions", json=body).json()["choices"][0]["text"]
    assert NAME in whole and "<PERSON" not in whole and "[PERSON" not in whole
    streamed = api.post("/v1/completions", json={**body, "stream": True}).text
    text = "".join(
        json.loads(line[6:])["choices"][0]["text"]
        for line in streamed.splitlines()
        if line.startswith("data: {") and '"choices": [{' in line
    )
    assert text == whole


def test_detected_classes_drive_the_policy(api):
    ok = api.post(
        CHAT,
        key="bank",
        json={
            "model": "pii-only",
            "messages": [{"role": "user", "content": "What are your opening hours?"}],
        },
    )
    assert ok.status_code == 200, ok.text  # no identifier: allowed on the PII-only model
    denied = api.post(
        CHAT,
        key="bank",
        json={
            "model": "pii-only",
            "messages": [{"role": "user", "content": f"Refund card {CARD} please"}],
        },
    )
    assert denied.status_code == 403
    assert "residency/data-class-not-approved" in denied.json()["error"]["message"]
    assert CARD not in denied.text


def test_leak_sweep_logs_metrics_errors_and_stores(api, settings, caplog):
    caplog.set_level(logging.DEBUG)
    bodies = []
    requests = [
        (
            "POST",
            CHAT,
            "app",
            {"model": MODEL, "max_tokens": 3, "messages": [{"role": "user", "content": NOTE}]},
        ),
        (
            "POST",
            CHAT,
            "app",
            {
                "model": MODEL,
                "max_tokens": 3,
                "stream": True,
                "messages": [{"role": "user", "content": NOTE}],
            },
        ),
        ("POST", "/v1/completions", "app", {"model": MODEL, "prompt": NOTE, "max_tokens": 3}),
        ("POST", "/v1/embeddings", "app", {"model": "all-minilm-l6-v2", "input": [NOTE, NAME]}),
        ("POST", CHAT, "app", {"model": NAME, "messages": [{"role": "user", "content": NOTE}]}),
        ("POST", CHAT, "app", {"model": MODEL, NAME: 1, "messages": []}),
        ("POST", CHAT, "app", {"model": MODEL, "temperature": SSN, "messages": []}),
        ("POST", CHAT, "app", {"model": MODEL, "messages": [{"role": NAME, "content": NOTE}]}),
        (
            "POST",
            CHAT,
            "stranger",
            {"model": MODEL, "messages": [{"role": "user", "content": NOTE}]},
        ),
        ("POST", CHAT, f"bst_{NAME}", {"model": MODEL, "messages": []}),
        (
            "POST",
            CHAT,
            "app",
            {"model": MODEL, "max_tokens": 5000, "messages": [{"role": "user", "content": NOTE}]},
        ),
        (
            "POST",
            CHAT,
            "bank",
            {"model": "pii-only", "messages": [{"role": "user", "content": NOTE}]},
        ),
        ("GET", f"/v1/records/{NAME}?ssn={SSN}", "app", None),
        ("GET", f"/v1/audit/records?tenant={NAME}", "auditor", None),
    ]
    for method, path, key, body in requests:
        r = api.request(method, path, key=key, json=body)
        bodies.append(r.text if r.status_code >= 400 else "")
    r = api.post(
        CHAT,
        key="app",
        content=f'{{"model": "{NAME}", "messages": [{SSN}'.encode(),
        headers={"content-type": "application/json"},
    )
    bodies.append(r.text)
    metrics = api.get("/metrics").text
    logs = "\n".join(  # the server's records, before any filter; not the test client's own
        f"{rec.getMessage()} {rec.__dict__}"
        for rec in caplog.records
        if not rec.name.startswith(("httpx", "httpcore"))
    )
    stores = b"".join(p.read_bytes() for p in settings.data_dir.iterdir() if p.is_file())
    records, cursor = [], None
    while True:  # every record in the log, page by page (not only the first page)
        page = api.aio.run(api.audit_log.query(RecordFilter(), 100, cursor))
        records += [rec for _, rec in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(records) == api.audit_log.size
    audit = "".join(rec.canonical_bytes().decode() for rec in records)
    for value in IDENTIFIERS:
        assert value not in "\n".join(bodies), value
        assert value not in metrics, value
        assert value not in logs, value
        assert value.encode() not in stores, value
        assert value not in audit, value
    assert "PERSON" in metrics  # counts by type are exported
