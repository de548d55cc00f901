"""audit.capture=redacted end to end: only redacted text is captured, encrypted per tenant;
shredding the tenant's key makes it unreadable while the log still verifies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from models.deployment import ModelServer
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import (
    AuditConfig,
    ContentShredded,
    RecordFilter,
    build_audit_log,
    verify_bundle,
)
from policies.decide import PolicyEngine
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import Settings
from serving.gateway import Gateway, StaticSites
from tests.serving.conftest import MODEL, POLICY

NAME = "Theodora Vasquez-Lindqvist"


@pytest.fixture(scope="module")
def capture_app(aio: Any, llama_engine: Any, redactor: Any, tmp_path_factory: Any) -> Any:
    data = tmp_path_factory.mktemp("capture")
    (data / "policy.yaml").write_text(POLICY)
    settings = Settings(data_dir=data)
    store = KeyStore(data / "keys.db")
    key = store.create("acme", Role.APP)[0]
    server = ModelServer(llama_engine, default_max_tokens=8)
    server.ready = True
    gateway = Gateway(
        store,
        Registry(settings.models, settings.embeddings),
        PolicyEngine.from_paths([data / "policy.yaml"]),
        StaticSites({"local"}),
        {f"{MODEL}@v1": server},
        None,
        redactor,
        capture=True,
    )
    log = aio.run(build_audit_log(AuditConfig(capture="redacted"), data))
    app = create_api()
    app.state.gateway = gateway
    app.state.audit = LocalAuditClient(log)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    yield aio, client, key, log, data
    aio.run(log.close())


def test_captured_content_is_redacted_encrypted_and_shreddable(capture_app):
    aio, client, key, log, data = capture_app
    r = aio.run(
        client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={
                "model": MODEL,
                "max_tokens": 4,
                "messages": [{"role": "user", "content": f"Patient {NAME} has a fever."}],
            },
        )
    )
    assert r.status_code == 200
    page = aio.run(log.query(RecordFilter(event_type="inference.chat"), 10, None))
    (_, record) = page.records[-1]
    assert record.content is not None
    captured = json.loads(aio.run(log.read_content(record)))
    assert NAME not in json.dumps(captured) and "Vasquez" not in json.dumps(captured)
    assert "[PERSON_1]" in captured["input"][0] or "<PERSON_1>" in captured["input"][0]
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file())
    assert b"Vasquez" not in raw and b"has a fever" not in raw  # encrypted at rest

    assert aio.run(log.shred_tenant("acme")) >= 1
    with pytest.raises(ContentShredded):
        aio.run(log.read_content(record))
    bundle = data / "after-shred.zip"
    aio.run(log.export(bundle, None, None))
    assert verify_bundle(bundle).ok
