"""Regressions from the hardening probe (#15) on the request path, in-process: authentication
first for every body, the key id on every record, one request id, stop strings redacted, and
the request id on the model server's log lines."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httpx
import pytest

from models.deployment import ModelServer
from models.engines.base import GenerateRequest, Sampling
from policies.audit import RecordFilter
from serving.observability import JsonFormatter
from tests.serving.conftest import MODEL

CHAT = "/v1/chat/completions"
BAD_KEY = "bst_00112233445566ff_" + "Z" * 43
SSN = "287-54-3916"


def _records(api: Any, request_id: str) -> list[Any]:
    page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, None))
    out = [r for _, r in page.records]
    while page.next_cursor is not None:
        page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, page.next_cursor))
        out += [r for _, r in page.records]
    return [r for r in out if r.request_id == request_id]


def _malformed(api: Any, key: str | None) -> Any:
    return api.post(
        CHAT,
        key=key,
        content=b'{"model": "x", "messages": [',
        headers={"content-type": "application/json"},
    )


@pytest.mark.parametrize("key", [None, BAD_KEY])
def test_malformed_body_without_a_valid_key_is_401_and_auth_failed(api, key):
    r = _malformed(api, key)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "invalid_api_key"
    (record,) = _records(api, r.headers["x-request-id"])
    assert record.event_type == "auth.failed" and record.outcome == "denied"
    assert record.actor.key_id == ("00112233445566ff" if key else None)


def test_unparseable_body_with_a_valid_key_is_recorded_with_the_key(api):
    r = _malformed(api, "app")
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    (record,) = _records(api, r.headers["x-request-id"])
    assert record.event_type == "inference.chat" and record.status_code == 400
    assert record.actor.key_id == api.keys["app"].split("_")[1]
    assert record.actor.tenant == "acme"


def test_oversized_bodies_are_recorded_with_the_key(api):
    big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 70_000}]}
    declared = api.post(CHAT, json=big)

    async def chunked():  # no content-length: the body arrives in pieces
        payload = json.dumps(big).encode()
        for i in range(0, len(payload), 8192):
            yield payload[i : i + 8192]

    streamed = api.post(CHAT, content=chunked(), headers={"content-type": "application/json"})
    for r in (declared, streamed):
        assert r.status_code == 413, r.text
        (record,) = _records(api, r.headers["x-request-id"])
        assert record.error_type == "request_too_large"
        assert record.actor.key_id == api.keys["app"].split("_")[1]
    # without a key the size is never looked at: authentication comes first
    assert api.post(CHAT, key=None, json=big).status_code == 401


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("trace-20261201.0042:a", "trace-20261201.0042:a"),
        ("client-trace.42:a", None),  # mostly letters: could be a name, dropped whole
        ("john.smith", None),
        # a UUID is the client's id too: Bastion's id is never chosen by the client
        ("123e4567-e89b-42d3-a456-426614174000", "123e4567-e89b-42d3-a456-426614174000"),
        ("John Smith", None),  # not a machine token: dropped whole, never echoed
        ("x" * 65, None),  # too long
    ],
)
def test_one_request_id_and_the_clients_id_as_correlation(api, sent, kept):
    r = api.post(
        CHAT,
        headers={"x-request-id": sent},
        json={"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert r.status_code == 200
    ids = r.headers.get_list("x-request-id")
    assert len(ids) == 1 and str(uuid.UUID(ids[0])) == ids[0] != sent  # Bastion's own id
    (record,) = _records(api, ids[0])
    assert (record.detail or {}).get("correlation_id") == kept
    assert "Smith" not in record.canonical_bytes().decode()


@pytest.fixture
def recorder(api):
    gateway = api.client._transport.app.state.gateway
    key = f"{MODEL}@v1"
    inner = gateway.models[key]

    class Recorder:  # wraps the real model server and keeps what it was sent (an observer)
        def __init__(self) -> None:
            self.requests: list[GenerateRequest] = []

        def generate(self, request: GenerateRequest) -> Any:
            self.requests.append(request)
            return inner.generate(request)

        async def info(self) -> dict:
            return await inner.info()

        async def stats(self) -> dict:
            return await inner.stats()

    rec = Recorder()
    gateway.models[key] = rec
    yield rec
    gateway.models[key] = inner


def test_stop_strings_are_redacted_with_the_messages(api, recorder):
    r = api.post(
        "/v1/completions",
        json={
            "model": MODEL,
            "prompt": f"The SSN {SSN} belongs to",
            "max_tokens": 4,
            "temperature": 0,
            "stop": [SSN, "\n"],
        },
    )
    assert r.status_code == 200, r.text
    (sent,) = recorder.requests
    assert SSN not in sent.prompt and all(SSN not in stop for stop in sent.sampling.stop)
    placeholder = sent.sampling.stop[0]
    assert placeholder in sent.prompt  # the same value, the same placeholder
    assert sent.sampling.stop[1] == "\n"


def test_model_server_log_lines_carry_the_request_id(aio, llama_engine, caplog):
    caplog.set_level(logging.DEBUG, logger="bastion.model")
    server = ModelServer(llama_engine, default_max_tokens=2)
    request = GenerateRequest("req-7f3a", Sampling(max_tokens=2, temperature=0.0), prompt="Hi")

    async def run() -> list[Any]:
        return [item async for item in server.generate(request)]

    aio.run(run())
    lines = [r for r in caplog.records if r.name == "bastion.model"]
    assert lines, "the model server logs each generation"
    for record in lines:
        assert json.loads(JsonFormatter().format(record))["request_id"] == "req-7f3a"


def test_behind_rays_http_server_the_one_id_is_bastions(api):
    """Ray Serve's HTTP servers wrap the app in their own request-id middleware, which adopts
    and echoes the client's x-request-id. With Bastion's proxy callback in front (as
    `bastion serve` configures it) the response still carries exactly one id, Bastion's."""
    http_util = pytest.importorskip("ray.serve._private.http_util")
    from serving.api import create_api
    from serving.http.request_id import ray_middlewares

    base = api.client._transport.app
    app = create_api(64 * 1024, behind_ray=True)
    app.state.gateway, app.state.audit = base.state.gateway, base.state.audit
    body = {"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}

    def ids_for(served: Any, sent: str) -> list[str]:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=served, client=("127.0.0.1", 5555)),
            base_url="http://bastion.test",
        )
        headers = {"authorization": f"Bearer {api.keys['app']}", "x-request-id": sent}
        r = api.aio.run(client.post(CHAT, json=body, headers=headers))
        assert r.status_code == 200, r.text
        return r.headers.get_list("x-request-id")

    # Ray's own middleware alone echoes a client's id: the failure this guards against.
    assert "client-trace-7" in ids_for(http_util._apply_middlewares(app, []), "client-trace-7")
    served = http_util._apply_middlewares(app, ray_middlewares())
    for sent, kept in (
        ("client-trace-7", None),
        ("7-20261201-42", "7-20261201-42"),
        ("John Smith", None),
        ("123e4567-e89b-42d3-a456-426614174000", "123e4567-e89b-42d3-a456-426614174000"),
    ):
        (rid,) = ids_for(served, sent)
        assert str(uuid.UUID(rid)) == rid != sent
        (record,) = _records(api, rid)
        assert (record.detail or {}).get("correlation_id") == kept
