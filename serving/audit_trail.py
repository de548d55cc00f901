"""Pipeline step 9: exactly one audit record per request, durable before the response is
acknowledged; if the record cannot be written the request fails (fail closed).

An ASGI middleware, so it also covers what never reaches a route (unknown paths, oversized
bodies, malformed JSON, bad keys):
- a whole (non-streamed) response is held back until its record is durable; if the audit log
  is unavailable the client gets a 503 instead, and nothing was acknowledged;
- a stream's closing ``data: [DONE]`` is held back until the record is durable; if it cannot
  be written the stream ends with an error event instead;
- a client that disconnects still gets its record (outcome failure, status 499).
Liveness and readiness probes are not requests by a principal and are not recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policies.audit import Actor, AuditRecord, AuditUnavailable, PolicyRef, Resource, Tokens
from serving.gateway import RequestContext

__all__ = ["AuditTrail", "build_record", "event_type"]

log = logging.getLogger("bastion.audit")

# Probes are not requests by a principal; the page's static assets carry no data.
UNAUDITED = frozenset({"/healthz", "/readyz", "/audit/app.js", "/audit/app.css"})
DONE = b"data: [DONE]\n\n"
_EVENTS = {
    "/v1/chat/completions": "inference.chat",
    "/v1/completions": "inference.completion",
    "/v1/embeddings": "inference.embedding",
    "/v1/models": "api.models_listed",
    "/v1/admin/models": "admin.models_viewed",
    "/v1/admin/policy/reload": "policy.reloaded",
    "/v1/audit/records": "audit.queried",
    "/v1/audit/checkpoint": "audit.queried",
    "/v1/audit/status": "audit.queried",
    "/v1/audit/export": "audit.exported",
    "/metrics": "metrics.scraped",
    "/audit": "audit.page_viewed",
}
_INFERENCE = ("inference.chat", "inference.completion", "inference.embedding")


def event_type(path: str, status: int) -> str:
    if status == 401:
        return "auth.failed"
    return _EVENTS.get(path, "http.unknown_route")


def _outcome(status: int) -> str:
    if status in (401, 403):
        return "denied"
    return "success" if status < 400 else "failure"


def build_record(ctx: RequestContext, path: str, status: int) -> AuditRecord:
    """The record for one request, from what the pipeline learned. No request content: only
    ids, configuration values, counts and machine tokens."""
    kind = event_type(path, status)
    principal = ctx.principal
    actor = (
        Actor(key_id=principal.key_id, role=principal.role.value, tenant=principal.tenant)
        if principal
        else Actor(key_id=ctx.key_id_attempted)
    )
    decision = ctx.decision
    model = ctx.model
    inference = kind in _INFERENCE
    return AuditRecord(
        event_type=kind,
        time=ctx.wall_start,
        request_id=ctx.request_id,
        actor=actor,
        origin=ctx.client,
        outcome=_outcome(status),
        status_code=status,
        error_type=ctx.error_type,
        resource=Resource(model=model.name, version=model.version, site=model.site)
        if model
        else None,
        data_classes=tuple(sorted(ctx.data_classes)),
        entity_counts=dict(ctx.entity_counts),
        policy=PolicyRef(
            outcome=decision.outcome, rule_id=decision.rule_id, version=decision.policy_version
        )
        if decision
        else None,
        tokens=Tokens(prompt=ctx.prompt_tokens, completion=ctx.completion_tokens)
        if inference
        else None,
        latency_ms=int((time.perf_counter() - ctx.started) * 1000),
        stream=ctx.stream if inference else None,
        detail=ctx.detail,
    )


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in UNAUDITED:
            await self.app(scope, receive, send)
            return
        ctx: RequestContext = scope["state"]["ctx"]
        audit = scope["app"].state.audit
        written = False
        status = 500
        held_start: Message | None = None
        body: list[bytes] = []
        streaming = False
        closed = False  # the stream was ended early with an audit error event

        async def write() -> bool:
            nonlocal written
            written = True
            if audit is None:
                log.error("no audit log configured: failing closed")
                return False
            try:
                await audit.append(build_record(ctx, path, status), ctx.captured)
            except AuditUnavailable:
                log.error("audit log unavailable: failing the request closed")
                return False
            except Exception as exc:  # an unexpected audit error also fails closed
                log.error("audit record failed", extra={"error_type": type(exc).__name__})
                return False
            return True

        async def audited_send(message: Message) -> None:
            nonlocal status, held_start, streaming, closed
            if closed:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
                if streaming:
                    await send(message)
                else:
                    held_start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if streaming:
                if chunk == DONE or (not more and not written):
                    ok = await write()
                    if not ok:
                        closed = True
                        await send({"type": "http.response.body", "body": _stream_error()})
                        return
                await send(message)
                return
            body.append(chunk)
            if more:
                return
            if await write():
                assert held_start is not None
                await send(held_start)
                await send({"type": "http.response.body", "body": b"".join(body)})
            else:
                await _send_unavailable(send)

        try:
            await self.app(scope, receive, audited_send)
        finally:
            if not written:
                # Client gone before the response completed: the request is still recorded.
                ctx.error_type = ctx.error_type or "client_disconnected"
                status = 499
                await asyncio.shield(write())


def _error_body() -> dict[str, Any]:
    return {
        "error": {
            "message": "The audit log is unavailable; the request was not processed.",
            "type": "service_unavailable_error",
            "param": None,
            "code": "audit_unavailable",
        }
    }


def _stream_error() -> bytes:
    return b"data: " + json.dumps(_error_body()).encode() + b"\n\n" + DONE


async def _send_unavailable(send: Send) -> None:
    payload = json.dumps(_error_body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
