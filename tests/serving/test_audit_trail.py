"""Pipeline step 9 in-process: one durable record per request, written before the response,
failing closed when the audit log cannot be written (real SQLite audit log)."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time

import httpx
import uvicorn

from models.engines.priority import GATE
from policies.audit import RecordFilter
from tests.serving.conftest import MODEL

CHAT = "/v1/chat/completions"
SECRET_TEXT = "Jonathan Quayle MRN 48213377"


def _records(api, request_id: str) -> list:
    page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, None))
    everything = [r for _, r in page.records]
    cursor = page.next_cursor
    while cursor is not None:
        page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, cursor))
        everything += [r for _, r in page.records]
        cursor = page.next_cursor
    return [r for r in everything if r.request_id == request_id]


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


def test_a_client_that_leaves_mid_stream_is_recorded(api):
    """Over a real socket (uvicorn serving the app, as `bastion serve` without Ray does): the
    client reads one chunk and closes the connection. The disconnect reaches the stream as a
    cancellation that Starlette's task group repeats at every await; the record must still be
    written (499 client_disconnected) and the generation closed. Before the fix, no record
    was written at all."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(api.client._transport.app, log_level="warning", lifespan="off")
    )
    done = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), api.aio.loop)
    for _ in range(400):  # a bound on polls, not a timing assertion
        if server.started:
            break
        assert not done.done(), done.exception()
        time.sleep(0.05)
    body = {
        "model": MODEL,
        "stream": True,
        "max_tokens": 32,
        "temperature": 0,
        "messages": [{"role": "user", "content": f"Write a long story about {SECRET_TEXT}."}],
    }
    headers = {"authorization": f"Bearer {api.keys['app']}"}
    try:
        with httpx.stream(
            "POST", f"http://127.0.0.1:{port}{CHAT}", json=body, headers=headers, timeout=60
        ) as r:
            assert r.status_code == 200
            request_id = r.headers["x-request-id"]
            for line in r.iter_lines():
                if line.startswith("data: "):
                    break  # one chunk read; leaving the block closes the connection
        records: list = []
        for _ in range(200):  # the record is written as the server notices the disconnect
            records = _records(api, request_id)
            if records:
                break
            time.sleep(0.05)
    finally:
        server.should_exit = True
        done.result(30)
        sock.close()
    (record,) = records
    assert record.status_code == 499 and record.error_type == "client_disconnected"
    assert record.outcome == "failure" and record.tokens is not None
    assert "Quayle" not in record.model_dump_json() and "48213377" not in record.model_dump_json()
