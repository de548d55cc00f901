"""HTTP mapping: FastAPI routes, OpenAI-style error bodies, SSE streaming.

This is the one place where exceptions become status codes (``error_response``) and the one
place where a failure inside a stream becomes an error event (``sse``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.registry import ModelNotFound
from policies.access import AuthenticationFailed, Principal, Role
from policies.decide import PolicyDenied
from policies.documents import PolicyDocumentError
from privacy import RedactionError
from serving import protocol
from serving.audit_trail import AuditTrail
from serving.gateway import (
    Gateway,
    InvalidRequest,
    ModelUnavailable,
    PermissionDenied,
    RequestContext,
    UpstreamError,
)
from serving.observability import METRICS, REQUEST_ID, render_metrics

__all__ = ["create_api", "error_response"]

log = logging.getLogger("bastion.api")

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


def _body(message: str, status: int, param: str | None = None, code: str | None = None) -> dict:
    kind = _STATUS_TYPES.get(status, "server_error")
    return {
        "error": protocol.ErrorBody(message=message, type=kind, param=param, code=code).model_dump()
    }


_PARAM = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


def _loc_part(part: object) -> str:
    """A location element safe to echo: list indexes and snake_case parameter names. Any other
    key is client-chosen text (it could be a name) and is shown as "?"."""
    if isinstance(part, int):
        return str(part)
    text = str(part)
    return text if _PARAM.match(text) else "?"


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    first = errors[0]
    loc = [_loc_part(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    kind = first.get("type", "")
    if kind == "json_invalid":
        return "request body is not valid JSON", None
    if kind == "extra_forbidden":
        if "?" in loc:
            return "unrecognized request argument", None
        return f"unrecognized request argument: {param}", param
    if kind == "missing":
        return f"missing required argument: {param}", param
    # pydantic's message; "input" (which may hold request content) is never included
    msg = first.get("msg", "invalid value").removeprefix("Value error, ")
    return (f"invalid value for {param}: {msg}" if param else msg), param


def error_response(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Map any exception to ``(status, OpenAI error body)``. Messages never echo request text."""
    if isinstance(exc, RequestValidationError):
        message, param = _validation_message(exc)
        return 400, _body(message, 400, param)
    if isinstance(exc, AuthenticationFailed):
        return 401, _body(f"Incorrect or missing API key ({exc}).", 401, code="invalid_api_key")
    if isinstance(exc, PermissionDenied):
        return 403, _body(str(exc), 403)
    if isinstance(exc, PolicyDenied):
        d = exc.decision
        message = f"Denied by policy rule {d.rule_id} (policy {d.policy_version}): {d.reason}"
        return 403, _body(message, 403, code="policy_denied")
    if isinstance(exc, PolicyDocumentError):
        return 400, _body(f"policy documents rejected: {len(exc.issues)} problem(s)", 400)
    if isinstance(exc, ModelNotFound):
        return 404, _body(
            "The model does not exist or you do not have access to it.",
            404,
            "model",
            "model_not_found",
        )
    if isinstance(exc, InvalidRequest):
        return 400, _body(str(exc), 400, exc.param, exc.code)
    if isinstance(exc, RedactionError):
        return 422, _body(
            f"identifier detection failed, so the request was not processed ({exc})",
            422,
            code="redaction_failed",
        )
    if isinstance(exc, _BodyTooLarge):
        return 413, _body(str(exc), 413, code="request_too_large")
    if isinstance(exc, ModelUnavailable):
        return 503, _body(str(exc), 503, "model", "model_unavailable")
    if isinstance(exc, UpstreamError):
        return 503, _body(str(exc), 503)
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        message = {404: "Unknown path.", 405: "Method not allowed."}.get(status, str(exc.detail))
        return status, _body(message, status)
    log.error("unhandled error", extra={"error_type": type(exc).__name__})
    return 500, _body("The server had an error processing the request.", 500)


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware rejecting bodies over ``limit`` bytes with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body exceeds the {self.limit}-byte limit"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        ctx = scope.get("state", {}).get("ctx")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            if ctx is not None:
                ctx.error_type = "request_too_large"
            await _send_error(send, _BodyTooLarge(message))
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge(message)
            return msg

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge as exc:
            if ctx is not None:
                ctx.error_type = "request_too_large"
            await _send_error(send, exc)


async def _send_error(send: Send, exc: Exception) -> None:
    status, body = error_response(exc)
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ROUTES = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/admin/models",
        "/v1/admin/policy/reload",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/audit/records",
        "/v1/audit/export",
        "/v1/audit/checkpoint",
        "/v1/audit/status",
        "/audit",
    }
)


class RequestScope:
    """ASGI middleware: request id (context var + ``x-request-id`` header), the request's
    :class:`RequestContext`, and the request/latency metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Behind Ray Serve's proxy the request already carries an id (which the proxy also puts
        # on the response); adopt it only if it is a UUID, so a client cannot smuggle text into
        # logs and audit records through it.
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        adopted = _UUID.match(incoming) is not None
        request_id = incoming if adopted else str(uuid.uuid4())
        token = REQUEST_ID.set(request_id)
        client = scope.get("client")
        scope.setdefault("state", {})["ctx"] = RequestContext(
            request_id=request_id, client=client[0] if client else None
        )
        path = scope.get("path", "")
        route = path if path in _ROUTES else "other"  # never a client-chosen label value
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if not adopted:
                    headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                    message["headers"] = headers
            await send(message)

        METRICS.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            METRICS.in_flight.dec()
            METRICS.requests.labels(route, str(status)).inc()
            METRICS.latency.labels(route).observe(time.perf_counter() - started)
            REQUEST_ID.reset(token)


def _ctx(request: Request) -> RequestContext:
    return request.state.ctx


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def sse(chunks: AsyncIterator[dict[str, Any]], ctx: RequestContext) -> AsyncIterator[bytes]:
    """Server-sent events; a failure mid-stream becomes one error event, then ``[DONE]``
    (which the audit trail holds back until the request's record is durable)."""
    try:
        async for chunk in chunks:
            yield b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
    except Exception as exc:
        _, body = error_response(exc)
        ctx.error_type = body["error"]["code"] or body["error"]["type"]
        yield b"data: " + json.dumps(body).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def create_api(max_body_bytes: int = 1_048_576, metrics_public: bool = False) -> FastAPI:
    """The HTTP app. Its gateway is ``app.state.gateway``, set by whoever hosts the app."""
    app = FastAPI(title="Bastion", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = None
    app.state.policy_reloader = None
    app.state.audit = None  # an AuditClient (serving/audit_client.py)
    # Outermost last: RequestScope (request id, metrics) → AuditTrail → BodyLimit → routes.
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(AuditTrail)
    app.add_middleware(RequestScope)

    def gateway(request: Request) -> Gateway:
        gw = request.app.state.gateway
        if gw is None:
            raise UpstreamError("the gateway is starting")
        return gw

    def authenticate(request: Request, *roles: Role) -> Principal:
        """Once per request: pick up a requested policy reload, read the purpose header,
        check the key (and role)."""
        reloader = request.app.state.policy_reloader
        if reloader is not None:
            reloader.poll()
        ctx = _ctx(request)
        purpose = request.headers.get("x-bastion-purpose")
        ctx.purpose = purpose.strip() if purpose else None
        return gateway(request).authenticate(ctx, _bearer(request), *roles)

    @app.exception_handler(Exception)
    async def any_error(request: Request, exc: Exception) -> JSONResponse:
        status, body = error_response(exc)
        ctx = request.scope.get("state", {}).get("ctx")
        if ctx is not None:
            ctx.error_type = body["error"]["code"] or body["error"]["type"]
        return JSONResponse(body, status_code=status)

    # Specific classes are handled inside the app (the bare-Exception handler runs in Starlette's
    # outermost middleware, which re-raises after responding).
    for kind in (
        RequestValidationError,
        StarletteHTTPException,
        AuthenticationFailed,
        PermissionDenied,
        ModelNotFound,
        InvalidRequest,
        UpstreamError,
        PolicyDenied,
        PolicyDocumentError,
        RedactionError,
    ):
        app.add_exception_handler(kind, any_error)

    def authenticated(*roles: Role) -> Any:
        """A dependency: FastAPI resolves it before validating the body, so an unauthenticated
        client learns nothing about the request format (malformed JSON excepted)."""

        def dependency(request: Request) -> Principal:
            return authenticate(request, *roles)

        return Depends(dependency)

    any_key = authenticated()
    admin_key = authenticated(Role.ADMIN)

    @app.post("/v1/chat/completions", dependencies=[any_key])
    async def chat(body: protocol.ChatCompletionRequest, request: Request) -> Response:
        return await _complete(request, body)

    @app.post("/v1/completions", dependencies=[any_key])
    async def completions(body: protocol.CompletionRequest, request: Request) -> Response:
        return await _complete(request, body)

    async def _complete(request: Request, body: Any) -> Response:
        ctx = _ctx(request)
        result = await gateway(request).complete(ctx, body)
        headers = {"x-bastion-redactions": str(ctx.redactions)}
        if isinstance(result, dict):
            return JSONResponse(result, headers=headers)
        headers["cache-control"] = "no-cache"
        return StreamingResponse(sse(result, ctx), media_type="text/event-stream", headers=headers)

    @app.post("/v1/embeddings", dependencies=[any_key])
    async def embeddings(body: protocol.EmbeddingRequest, request: Request) -> Response:
        ctx = _ctx(request)
        result = await gateway(request).embed(ctx, body)
        return JSONResponse(result, headers={"x-bastion-redactions": str(ctx.redactions)})

    @app.get("/v1/models")
    async def models(request: Request, principal: Principal = any_key) -> Response:
        return JSONResponse(await gateway(request).list_models(principal))

    @app.get("/v1/admin/models", dependencies=[admin_key])
    async def admin_models(request: Request) -> Response:
        return JSONResponse({"models": await gateway(request).model_stats()})

    @app.post("/v1/admin/policy/reload", dependencies=[admin_key])
    async def admin_policy_reload(request: Request) -> Response:
        reloader = request.app.state.policy_reloader
        if reloader is None:
            raise UpstreamError("policy reload is not configured")
        version = reloader.reload()  # validates, publishes to every replica, swaps here
        _ctx(request).detail = {"policy_version": version}
        return JSONResponse({"policy_version": version})

    from serving.audit_api import add_audit_routes  # it builds on this module's helpers

    add_audit_routes(app)

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        gw = request.app.state.gateway
        models = await gw.readiness() if gw is not None else {}
        # Ready when every model that can run in this cluster is loaded; models pinned to an
        # absent site are reported "unavailable" and do not hold readiness back.
        placeable = [state for state in models.values() if state != "unavailable"]
        ready = bool(placeable) and all(state == "ready" for state in placeable)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "models": models},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if not metrics_public:
            authenticate(request)  # any role
        return Response(render_metrics(), media_type="text/plain; version=0.0.4")

    return app
