"""The OpenAPI document Bastion serves at ``/openapi.json`` (behind a key, or anonymous with
``server.openapi_public``).

It describes what the server really does, not what FastAPI infers from route signatures: the
routes read and validate their bodies themselves (after authentication), so the request schemas
come from serving/protocol.py, with the configured caps (messages per chat request, inputs per
embedding request) as ``maxItems``; validation errors are 400 with Bastion's one error body
(FastAPI's 422 ``HTTPValidationError`` is never sent); every operation lists the errors it can
give; streamed completions are ``text/event-stream``. API keys are bearer tokens; the health
probes need none.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from serving import protocol
from serving.protocol import RequestLimits

__all__ = ["openapi_document", "router"]

_ERRORS = {
    "400": "Invalid request: malformed JSON, an unknown or invalid parameter, a cap exceeded.",
    "401": "Missing, unknown or revoked API key.",
    "403": "The key's role may not use this endpoint, or policy denied the request.",
    "404": "Unknown model (or not allowed for this key).",
    "405": "Method not allowed (the `Allow` header lists the methods).",
    "413": "The request body exceeds `server.max_body_bytes`.",
    "422": "Identifier detection failed, so the request was not processed (fail closed); or "
    "the answer did not satisfy `response_format` (`invalid_structured_output`).",
    "429": "Rate limited.",
    "503": "The model, embedder or audit log is unavailable; the request was not processed.",
}
_BODIES: dict[str, type[BaseModel]] = {
    "/v1/chat/completions": protocol.ChatCompletionRequest,
    "/v1/completions": protocol.CompletionRequest,
    "/v1/embeddings": protocol.EmbeddingRequest,
}
_UNAUTHENTICATED = frozenset({"/healthz", "/readyz"})
_STREAMING = frozenset({"/v1/chat/completions", "/v1/completions"})
_MEDIA = {
    "/metrics": "text/plain",
    "/v1/audit/export": "application/zip",
    "/audit": "text/html",
}
_REF = "#/components/schemas/{model}"

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request) -> Response:
    from serving.http.drive import respond  # the HTTP layer imports this module's router

    app = request.app

    async def work(_: Any) -> dict[str, Any]:
        return openapi_document(app, getattr(app.state, "limits", None))

    public = bool(getattr(app.state, "openapi_public", False))
    return await respond(request, work, None if public else ())


def openapi_document(app: FastAPI, limits: RequestLimits | None = None) -> dict[str, Any]:
    """The document for ``app``, with the caps in ``limits`` (default: the defaults)."""
    limits = limits or RequestLimits()
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description="Bastion's OpenAI-compatible API. Every error is an OpenAI-style body.",
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    models = [(m, "validation") for m in (*_BODIES.values(), protocol.ErrorResponse)]
    _, defs = models_json_schema(models, ref_template=_REF)
    schemas.update(defs.get("$defs", {}))
    doc["components"]["securitySchemes"] = {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "A Bastion API key."}
    }
    doc["security"] = [{"apiKey": []}]
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "post" and path in _BODIES:
                name = _BODIES[path].__name__
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}},
                }
            _responses(path, operation)
    _caps(schemas, limits)
    return doc


def _responses(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's validation error; Bastion answers those with 400
    ok = responses.setdefault("200", {"description": "Successful Response"})
    content = ok.setdefault("content", {})
    if path in _MEDIA:
        content.clear()
        content[_MEDIA[path]] = {"schema": {"type": "string"}}
    if path in _STREAMING:
        content["text/event-stream"] = {
            "schema": {"type": "string", "description": "Server-sent events (stream: true)."}
        }
    if path in _UNAUTHENTICATED:
        operation["security"] = []
        if path == "/readyz":
            responses["503"] = {
                "description": "Not ready: a model is still loading.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        return
    for status, description in _ERRORS.items():
        error = {"$ref": _REF.format(model="ErrorResponse")}
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": error}},
        }


def _caps(schemas: dict[str, Any], limits: RequestLimits) -> None:
    chat = schemas.get("ChatCompletionRequest", {}).get("properties", {})
    if "messages" in chat:
        chat["messages"]["maxItems"] = limits.max_messages
    embed = schemas.get("EmbeddingRequest", {}).get("properties", {})
    for option in embed.get("input", {}).get("anyOf", []):
        if option.get("type") == "array":
            option["maxItems"] = limits.max_embedding_inputs
