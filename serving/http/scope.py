"""ASGI middleware that turns an HTTP request into a pipeline :class:`RequestState`: Bastion's
request id (context variable for logs, exactly one ``x-request-id`` response header), the
client's own id as a sanitized correlation field, origin, bearer key, purpose, a body reader
bounded by the size limit — and the request/latency metrics. Nothing here decides anything."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.http.request_id import CLIENT_ID, ISSUED
from serving.observability import METRICS, REQUEST_ID
from serving.pipeline.errors import BodyTooLarge
from serving.pipeline.state import RequestState, Route, correlation_id

__all__ = ["ROUTES", "RequestScope", "bounded_body", "state_of"]

ROUTES: dict[str, Route] = {
    "/v1/chat/completions": Route.CHAT,
    "/v1/completions": Route.COMPLETION,
    "/v1/embeddings": Route.EMBEDDING,
    "/v1/models": Route.MODELS,
    "/v1/admin/models": Route.ADMIN_MODELS,
    "/v1/admin/policy/reload": Route.POLICY_RELOAD,
    "/v1/admin/cache/invalidate": Route.CACHE_INVALIDATED,
    "/v1/feedback": Route.FEEDBACK,
    "/v1/admin/registry": Route.ADMIN_MODELS,
    "/v1/admin/aliases/promote": Route.ALIAS_PROMOTED,
    "/v1/admin/aliases/split": Route.ALIAS_SPLIT,
    "/v1/admin/aliases/rollback": Route.ALIAS_ROLLED_BACK,
    "/v1/audit/records": Route.AUDIT_QUERY,
    "/v1/audit/checkpoint": Route.AUDIT_QUERY,
    "/v1/audit/status": Route.AUDIT_QUERY,
    "/v1/audit/summary": Route.AUDIT_QUERY,
    "/v1/audit/export": Route.AUDIT_EXPORT,
    "/v1/admin/audit/shred": Route.AUDIT_SHRED,
    "/audit": Route.AUDIT_PAGE,
    "/metrics": Route.METRICS,
    "/openapi.json": Route.OPENAPI,
}
# Paths with a parameter: (pattern, route, metrics label: the template, never the value).
_TEMPLATES = (
    (
        re.compile(r"^/v1/audit/records/[^/]+/content$"),
        Route.AUDIT_CONTENT,
        "/v1/audit/records/:index/content",  # label charset: no braces (tests/serving/test_metrics)
    ),
)
# Paths whose metrics label is the path itself; anything else is "other" (never client text).
_LABELLED = frozenset({*ROUTES, "/healthz", "/readyz"})


def _route(path: str) -> tuple[Route, str]:
    """The route of a path and its metrics label."""
    route = ROUTES.get(path)
    if route is not None:
        return route, path
    for pattern, templated, label in _TEMPLATES:
        if pattern.match(path):
            return templated, label
    return Route.UNKNOWN, path if path in _LABELLED else "other"


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_REQUEST_ID = b"x-request-id"


def bounded_body(
    receive: Receive, declared: bytes | None, limit: int
) -> Callable[[], Awaitable[bytes]]:
    """A reader of the request body that stops at ``limit`` bytes, declared or streamed
    (→ :class:`BodyTooLarge`); it reads at most once."""
    message = f"request body exceeds the {limit}-byte limit"

    async def read() -> bytes:
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(message)
        parts: list[bytes] = []
        seen = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                break
            chunk = msg.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                raise BodyTooLarge(message)
            parts.append(chunk)
            if not msg.get("more_body", False):
                break
        return b"".join(parts)

    return read


def _bearer(header: bytes | None) -> str | None:
    scheme, _, token = (header or b"").decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class RequestScope:
    """The outermost middleware; the state is ``scope["state"]["ctx"]``."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int = 1_048_576, behind_ray: bool = False
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.behind_ray = behind_ray

    def _ids(self, headers: dict[bytes, bytes]) -> tuple[str, str | None, bool]:
        """(Bastion's request id, the client's own id, whether this app puts the id on the
        response). Behind Ray Serve, Ray's HTTP server puts its request id on the response."""
        incoming = headers.get(_REQUEST_ID, b"").decode("latin-1")
        if self.behind_ray and headers.get(ISSUED) == b"1" and _UUID.match(incoming):
            # Reissued outside Ray's middleware (serving/http/request_id.py): Ray's id is ours.
            return incoming, headers.get(CLIENT_ID, b"").decode("latin-1") or None, False
        if self.behind_ray and _UUID.match(incoming):
            # Ray's own id (or, without the reissuing callback, a client's UUID): adopt it,
            # so one id is on the response and in Ray's and Bastion's logs.
            return incoming, None, False
        # Anything else the client sent is its own id, never Bastion's.
        return str(uuid.uuid4()), incoming or None, True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        request_id, client_id, add_header = self._ids(headers)
        path = scope.get("path", "")
        route, label = _route(path)
        client = scope.get("client")
        purpose = headers.get(b"x-bastion-purpose")
        end_user = headers.get(b"x-bastion-user")  # sticky A/B arm; hashed, never kept
        state = RequestState(
            request_id=request_id,
            route=route,
            origin=client[0] if client else None,
            bearer=_bearer(headers.get(b"authorization")),
            purpose=purpose.decode("latin-1").strip() or None if purpose else None,
            correlation_id=correlation_id(client_id),
            end_user=end_user.decode("latin-1") or None if end_user else None,
            cache_control=(headers.get(b"x-bastion-cache") or b"").decode("latin-1") or None,
            read_body=bounded_body(receive, headers.get(b"content-length"), self.max_body_bytes),
        )
        scope.setdefault("state", {})["ctx"] = state
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != _REQUEST_ID]
                if add_header:
                    kept.append((_REQUEST_ID, request_id.encode()))
                message["headers"] = kept
            await send(message)

        METRICS.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            METRICS.in_flight.dec()
            METRICS.requests.labels(label, str(status)).inc()
            METRICS.latency.labels(label).observe(time.perf_counter() - started)
            REQUEST_ID.reset(token)


def state_of(scope: Scope) -> RequestState:
    return scope["state"]["ctx"]
