"""The pipeline run in-process, without HTTP and without Ray: the stage list, one code path for
whole and streamed answers, the record durable before the final item, and stopped requests
recorded with their stage and error type (real model, real redaction, real SQLite audit log)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from policies.access import AuthenticationFailed
from policies.audit import RecordFilter
from policies.decide import PolicyDenied
from serving.audit_client import LocalAuditClient
from serving.pipeline import (
    InvalidRequest,
    Item,
    Pipeline,
    Pipelines,
    RequestState,
    Route,
    Stage,
    chunks,
    whole,
)
from tests.serving.conftest import MODEL


@pytest.fixture(scope="module")
def pipelines(api: Any) -> Pipelines:
    gateway = api.client._transport.app.state.gateway
    return Pipelines(gateway, LocalAuditClient(api.audit_log))


def _state(route: Route, body: dict[str, Any] | bytes, key: str | None, **kw: Any) -> RequestState:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reads: list[int] = []

    async def read_body() -> bytes:
        reads.append(1)
        return raw

    state = RequestState(str(uuid.uuid4()), route, bearer=key, read_body=read_body, **kw)
    state.reads = reads  # type: ignore[attr-defined]  # how often the body was read
    return state


def _records(api: Any, request_id: str) -> list[Any]:
    page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, None))
    out = [r for _, r in page.records]
    while page.next_cursor is not None:
        page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, page.next_cursor))
        out += [r for _, r in page.records]
    return [r for r in out if r.request_id == request_id]


def _chat(content: str = "List two fruits.", **extra: Any) -> dict[str, Any]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    return {**body, "max_tokens": 8, "temperature": 0, "seed": 3, **extra}


def test_the_stages_in_order(pipelines):
    assert pipelines.inference.names == [
        "authenticate",
        "validate",
        "select",
        "redact",
        "decide",
        "input_guard",
        "route",
        "cache",
        "generate",
        "structured",
        "output_redaction",
        "output_guard",
        "restore",
        "audit",
    ]


def test_whole_answer_is_the_collected_stream(api, pipelines):
    key = api.keys["app"]

    async def run() -> tuple[dict, list[dict]]:
        one = _state(Route.CHAT, _chat(), key)
        body = await whole(one, await pipelines.inference.open(one))
        two = _state(Route.CHAT, _chat(stream=True), key)
        streamed = [c async for c in chunks(two, await pipelines.inference.open(two))]
        return body, streamed

    body, streamed = api.aio.run(run())
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in streamed if c["choices"])
    assert text and text == body["choices"][0]["message"]["content"]
    assert streamed[0]["choices"][0]["delta"]["role"] == "assistant"


def test_record_is_durable_before_the_final_item(api, pipelines):
    state = _state(Route.CHAT, _chat(stream=True), api.keys["app"])
    counts: list[tuple[bool, int]] = []  # (final item?, records of this request at that time)

    async def mine() -> int:  # records of this request in the whole log, read page by page
        found, cursor = 0, None
        while True:
            page = await api.audit_log.query(RecordFilter(), 1000, cursor)
            found += sum(1 for _, r in page.records if r.request_id == state.request_id)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    async def run() -> None:
        async for item in await pipelines.inference.open(state):
            counts.append((item.finish_reason is not None, await mine()))

    api.aio.run(run())
    assert counts[-1] == (True, 1)  # durable when the final item is released
    assert all(n == 0 for final, n in counts[:-1])  # and not before
    (record,) = _records(api, state.request_id)
    assert record.outcome == "success" and record.stream is True


@pytest.mark.parametrize(
    ("key", "body", "error", "stage", "error_type", "status"),
    [
        (None, _chat(), AuthenticationFailed, "authenticate", "invalid_api_key", 401),
        ("app", b'{"model": ', ValidationError, "validate", "invalid_request_error", 400),
        ("stranger", _chat(), PolicyDenied, "decide", "policy_denied", 403),
        ("app", _chat("word " * 3000), InvalidRequest, "generate", "context_length_exceeded", 400),
    ],
)
def test_a_stopped_request_is_recorded_with_its_stage(
    api, pipelines, key, body, error, stage, error_type, status
):
    state = _state(Route.CHAT, body, api.keys.get(key, key) if key else None)
    with pytest.raises(Exception) as caught:
        api.aio.run(pipelines.inference.open(state))
    assert isinstance(caught.value, error)
    (record,) = _records(api, state.request_id)
    assert record.detail["stage"] == stage
    assert record.error_type == error_type and record.status_code == status


def test_authentication_comes_before_the_body_is_read(api, pipelines):
    state = _state(Route.CHAT, b"{not json", "bst_0123456789abcdef_" + "A" * 43)
    with pytest.raises(AuthenticationFailed):
        api.aio.run(pipelines.inference.open(state))
    assert state.reads == []  # type: ignore[attr-defined]
    (record,) = _records(api, state.request_id)
    assert record.event_type == "auth.failed" and record.actor.key_id == "0123456789abcdef"


class _GuardThatBlocks(Stage):
    """Stands in for a later output guard that stops an answer mid-stream (the guard does not
    exist yet; the runner's handling of a stage failing on the way back is what is tested)."""

    name = "output_guard"

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        async for item in items:
            yield item
            raise InvalidRequest("blocked by the output guard")


def test_a_stage_failing_mid_stream_is_recorded_with_its_stage(api, pipelines):
    stages = [
        _GuardThatBlocks() if s.name == "output_guard" else s for s in pipelines.inference.stages
    ]
    pipeline = Pipeline(stages)
    state = _state(Route.CHAT, _chat(stream=True, max_tokens=16), api.keys["app"])
    received: list[Item] = []

    async def run() -> None:
        async for item in await pipeline.open(state):
            received.append(item)

    with pytest.raises(InvalidRequest):
        api.aio.run(run())
    assert len(received) == 1  # the first piece went out, then the guard stopped the stream
    (record,) = _records(api, state.request_id)
    assert record.detail["stage"] == "output_guard" and record.status_code == 400
    assert record.outcome == "failure" and record.stream is True
