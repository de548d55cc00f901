"""Pipeline step 9 in-process: one durable record per request, written before the response,
failing closed when the audit log cannot be written (real SQLite audit log)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import time
import uuid

import httpx
import uvicorn

from models.engines.priority import GATE
from policies.audit import RecordFilter
from tests.serving.conftest import MODEL

CHAT = "/v1/chat/completions"
SECRET_TEXT = "Jonathan Quayle MRN 48213377"


def _all_records(api) -> list:
    page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, None))
    everything = [r for _, r in page.records]
    cursor = page.next_cursor
    while cursor is not None:
        page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, cursor))
        everything += [r for _, r in page.records]
        cursor = page.next_cursor
    return everything


def _records(api, request_id: str) -> list:
    return [r for r in _all_records(api) if r.request_id == request_id]


def test_chat_request_has_exactly_one_complete_record(api):
    r = api.post(
        CHAT,
        json={
            "model": MODEL,
            "max_tokens": 3,
            "messages": [{"role": "user", "content": SECRET_TEXT}],
        },
    )
    assert r.status_code == 200
    (record,) = _records(api, r.headers["x-request-id"])
    assert record.event_type == "inference.chat" and record.outcome == "success"
    assert record.status_code == 200 and record.stream is False
    assert record.actor.tenant == "acme" and record.actor.role == "app"
    assert record.actor.key_id == api.keys["app"].split("_")[1]
    assert record.origin == "127.0.0.1"
    assert (record.resource.model, record.resource.version, record.resource.site) == (
        MODEL,
        "v1",
        "local",
    )
    assert record.policy.outcome == "allow" and record.policy.rule_id == "allow/approved"
    usage = r.json()["usage"]
    assert (record.tokens.prompt, record.tokens.completion) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert record.latency_ms is not None
    assert "Quayle" not in record.canonical_bytes().decode()
    assert api.keys["app"][21:] not in record.canonical_bytes().decode()


def test_streamed_request_is_recorded_before_done(api):
    r = api.post(
        CHAT,
        json={
            "model": MODEL,
            "max_tokens": 3,
            "stream": True,
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert r.text.rstrip().endswith("data: [DONE]")
    (record,) = _records(api, r.headers["x-request-id"])
    assert record.stream is True and record.outcome == "success"
    assert record.tokens.completion >= 1


def test_denials_failures_and_unknown_routes_are_recorded(api):
    denied = api.post(
        CHAT, key="stranger", json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    )
    (rec,) = _records(api, denied.headers["x-request-id"])
    assert rec.outcome == "denied" and rec.status_code == 403
    assert rec.policy.rule_id == "default-deny/unknown-tenant" and rec.error_type == "policy_denied"

    bad_key = "bst_00112233445566ff_" + "Z" * 43
    unauth = api.post(CHAT, key=bad_key, json={"model": MODEL, "messages": []})
    (rec,) = _records(api, unauth.headers["x-request-id"])
    assert rec.event_type == "auth.failed" and rec.outcome == "denied"
    assert rec.actor.key_id == "00112233445566ff" and "ZZZZ" not in rec.canonical_bytes().decode()

    invalid = api.post(CHAT, json={"model": MODEL, "messages": [], "temperature": 9})
    (rec,) = _records(api, invalid.headers["x-request-id"])
    assert rec.outcome == "failure" and rec.status_code == 400

    huge = api.post(
        CHAT, json={"model": MODEL, "messages": [{"role": "user", "content": SECRET_TEXT * 3000}]}
    )
    (rec,) = _records(api, huge.headers["x-request-id"])
    assert rec.status_code == 413 and rec.error_type == "request_too_large"

    lost = api.get("/v1/patients/" + SECRET_TEXT.replace(" ", "-"))
    (rec,) = _records(api, lost.headers["x-request-id"])
    assert rec.event_type == "http.unknown_route" and rec.status_code == 404
    assert "Quayle" not in rec.canonical_bytes().decode()


def test_probes_are_not_recorded(api):
    r = api.get("/healthz", key=None)
    assert _records(api, r.headers["x-request-id"]) == []


def test_audit_store_unavailable_fails_closed(api, settings):
    """Fault injection: another connection holds SQLite's exclusive lock (a real lock on the real
    file), so the audit log cannot commit. The request MUST fail and nothing be acknowledged."""
    in_flight = GATE.interactive
    blocker = sqlite3.connect(settings.data_dir / "audit.db", isolation_level=None, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        r = api.post(
            CHAT,
            json={"model": MODEL, "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]},
        )
        streamed = api.post(
            CHAT,
            json={
                "model": MODEL,
                "max_tokens": 2,
                "stream": True,
                "messages": [{"role": "user", "content": "Hi"}],
            },
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "audit_unavailable"
    assert "choices" not in r.text
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[-2])["error"]["code"] == "audit_unavailable"
    assert _records(api, r.headers["x-request-id"]) == []
    # the refused requests' generations were closed with them, not left to the garbage
    # collector: an open one would hold the model and keep batch work waiting
    assert GATE.interactive == in_flight
    # Once the store is back, requests are served and recorded again.
    ok = api.post(
        CHAT,
        json={"model": MODEL, "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert ok.status_code == 200 and len(_records(api, ok.headers["x-request-id"])) == 1


@contextlib.contextmanager
def _uvicorn(api):
    """The app served by uvicorn over a real socket (as `bastion serve` without Ray does); the
    port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(api.client._transport.app, log_level="warning", lifespan="off")
    )
    done = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), api.aio.loop)
    try:
        for _ in range(400):  # a bound on polls, not a timing assertion
            if server.started:
                break
            assert not done.done(), done.exception()
            time.sleep(0.05)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        done.result(30)
        sock.close()


def _poll(find) -> list:
    """``find()`` until it returns records: the record is written as the server notices the
    disconnect (a bound on polls, not a timing assertion)."""
    records: list = []
    for _ in range(200):
        records = find()
        if records:
            break
        time.sleep(0.05)
    return records


def _stream_body() -> dict:
    return {
        "model": MODEL,
        "stream": True,
        "max_tokens": 32,
        "temperature": 0,
        "messages": [{"role": "user", "content": f"Write a long story about {SECRET_TEXT}."}],
    }


def test_a_client_that_leaves_mid_stream_is_recorded(api):
    """Over a real socket: the client reads one chunk and closes the connection. The disconnect
    reaches the stream as a cancellation that Starlette's task group repeats at every await;
    the record must still be written (499 client_disconnected) and the generation closed.
    Before the fix, no record was written at all."""
    headers = {"authorization": f"Bearer {api.keys['app']}"}
    with _uvicorn(api) as port:
        with httpx.stream(
            "POST",
            f"http://127.0.0.1:{port}{CHAT}",
            json=_stream_body(),
            headers=headers,
            timeout=60,
        ) as r:
            assert r.status_code == 200
            request_id = r.headers["x-request-id"]
            for line in r.iter_lines():
                if line.startswith("data: "):
                    break  # one chunk read; leaving the block closes the connection
        records = _poll(lambda: _records(api, request_id))
    (record,) = records
    assert record.status_code == 499 and record.error_type == "client_disconnected"
    assert record.outcome == "failure" and record.tokens is not None
    assert "Quayle" not in record.model_dump_json() and "48213377" not in record.model_dump_json()


def test_a_client_that_leaves_before_the_stream_starts_is_recorded(api):
    """Over a real socket: the client sends a streamed request and closes the connection at
    once, before any byte of the answer. The stages' ``before`` all run (uvicorn does not
    cancel the handler); the request must be recorded as 499 client_disconnected and its
    generation closed. The client's own ``x-request-id`` is the correlation id that finds
    the record (no response header was read)."""
    correlation = str(uuid.uuid4())
    body = json.dumps(_stream_body()).encode()
    head = (
        f"POST {CHAT} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {api.keys['app']}\r\nx-request-id: {correlation}\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    with _uvicorn(api) as port:
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(head + body)  # then closed at once: nothing is read
        records = _poll(
            lambda: [
                r
                for r in _all_records(api)
                if (r.detail or {}).get("correlation_id") == correlation
            ]
        )
    (record,) = records
    assert record.status_code == 499 and record.error_type == "client_disconnected"
    dumped = record.model_dump_json()
    assert "Quayle" not in dumped and "48213377" not in dumped
    assert GATE.interactive == 0  # nothing is left holding the priority gate


def test_a_response_dropped_before_its_first_byte_is_recorded(api):
    """Test double for the server, because uvicorn (ASGI spec 2.3) always starts the body here:
    a server speaking ASGI spec 2.4 raises ``OSError`` from ``send`` for a client that has
    gone, so the response start fails and the body iterator is never started. No stage's
    stream runs, yet the request must be recorded (499 client_disconnected) and its
    generation closed. The app, pipeline, engine and audit log are the real ones."""
    correlation = str(uuid.uuid4())
    body = json.dumps(_stream_body()).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CHAT,
        "raw_path": CHAT.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {api.keys['app']}".encode()),
            (b"x-request-id", correlation.encode()),
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)
        raise OSError("the client has gone")  # what a spec-2.4 server does

    async def call() -> None:
        with contextlib.suppress(Exception):
            await api.client._transport.app(scope, receive, send)

    in_flight = GATE.interactive
    api.aio.run(call())
    assert [m["type"] for m in sent] == ["http.response.start"]
    records = [
        r for r in _all_records(api) if (r.detail or {}).get("correlation_id") == correlation
    ]
    (record,) = records
    assert record.status_code == 499 and record.error_type == "client_disconnected"
    dumped = record.model_dump_json()
    assert "Quayle" not in dumped and "48213377" not in dumped
    assert GATE.interactive == in_flight  # the generation was closed, not left to the GC
