"""The request pipeline (plain Python, no Ray imports).

authenticate → [redact] → [decide] → route → generate → [restore] → [audit]. Stages in brackets
are wired by their own packages; each has its place below. The gateway returns values (dicts and
async iterators of dicts), never HTTP objects: serving/api.py does the HTTP mapping.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from models.registry import ModelNotFound, ModelVersion, Registry
from policies.access import AuthenticationFailed, KeyStore, Principal, Role
from serving import protocol
from serving.observability import METRICS

__all__ = [
    "EmbedderClient",
    "Gateway",
    "InvalidRequest",
    "ModelClient",
    "PermissionDenied",
    "RequestContext",
    "UpstreamError",
]

log = logging.getLogger("bastion.gateway")


class InvalidRequest(ValueError):
    """The request is well-formed JSON but cannot be served as asked (→ 400)."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class PermissionDenied(Exception):
    """The principal's role may not use this route (→ 403)."""


class UpstreamError(Exception):
    """A model or embedder failed or is unavailable (→ 503). Message has no request content."""


class ModelClient(Protocol):
    """How the gateway reaches one model version (in-process or through a Ray handle)."""

    def generate(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def info(self) -> dict[str, Any]: ...

    async def stats(self) -> dict[str, int]: ...


class EmbedderClient(Protocol):
    async def embed_request(self, texts: list[str]) -> dict[str, Any]: ...


@dataclass
class RequestContext:
    """What the pipeline knows about one request; the audit record is built from it."""

    request_id: str
    client: str | None = None
    principal: Principal | None = None
    route: str = ""
    model: ModelVersion | None = None
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stream: bool = False


Sampling = protocol.ChatCompletionRequest | protocol.CompletionRequest


class Gateway:
    def __init__(
        self,
        keys: KeyStore,
        registry: Registry,
        models: dict[str, ModelClient],
        embedder: EmbedderClient | None,
        embedding_model: str = "all-minilm-l6-v2",
    ) -> None:
        self.keys = keys
        self.registry = registry
        self.models = models
        self.embedder = embedder
        self.embedding_model = embedding_model

    # -- stage 1: authenticate ------------------------------------------------------------
    def authenticate(self, ctx: RequestContext, bearer: str | None, *roles: Role) -> Principal:
        try:
            principal = self.keys.authenticate(bearer)
        except AuthenticationFailed:
            METRICS.auth_failures.inc()
            raise
        ctx.principal = principal
        if roles and principal.role not in roles:
            raise PermissionDenied(f"role '{principal.role}' may not use this endpoint")
        return principal

    # -- stage 6: route ---------------------------------------------------------------------
    def _route(self, ctx: RequestContext, requested: str) -> ModelClient:
        model = self.registry.resolve(requested)
        ctx.model = model
        client = self.models.get(model.key)
        if client is None:
            raise ModelNotFound(requested)
        return client

    @staticmethod
    def _payload(request: Sampling) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "max_tokens": request.token_limit(),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stop": list(request.stops()),
            "seed": request.seed,
        }
        if isinstance(request, protocol.ChatCompletionRequest):
            payload["messages"] = [
                {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in request.messages
            ]
        else:
            payload["prompt"] = request.prompt_text()
        return payload

    # -- stage 6: generate ------------------------------------------------------------------
    async def _open(
        self, ctx: RequestContext, client: ModelClient, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]:
        """Start generation and wait for the first item, so that errors known before any
        text (context length, unavailable model) become proper HTTP errors, not stream events."""
        stream = client.generate(payload)
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            raise UpstreamError("the model returned nothing") from None
        except Exception as exc:
            await _close(stream)
            log.error("model call failed", extra={"error_type": type(exc).__name__})
            raise UpstreamError("the model is unavailable") from exc
        if "error" in first:
            await _close(stream)
            _raise_model_error(first["error"], ctx)
        ctx.first_token_at = time.perf_counter()
        return first, stream

    async def complete(
        self, ctx: RequestContext, request: Sampling
    ) -> dict[str, Any] | AsyncIterator[dict[str, Any]]:
        """Chat or text completion: a response dict, or (``stream=true``) an iterator of chunks."""
        client = self._route(ctx, request.model)
        ctx.stream = request.stream
        first, stream = await self._open(ctx, client, self._payload(request))
        chat = isinstance(request, protocol.ChatCompletionRequest)
        if request.stream:
            return self._chunks(ctx, request, chat, first, stream)
        parts = [first.get("text", "")]
        last = first
        try:
            while "finish_reason" not in last:
                last = await anext(stream)
                if "error" in last:
                    _raise_model_error(last["error"], ctx)
                parts.append(last.get("text", ""))
        finally:
            await _close(stream)
        ctx.prompt_tokens, ctx.completion_tokens = last["usage"]
        self._observe(ctx)
        build = protocol.chat_response if chat else protocol.completion_response
        return build(
            _response_id(ctx, chat),
            request.model,
            "".join(parts),
            last["finish_reason"],
            ctx.prompt_tokens,
            ctx.completion_tokens,
        )

    async def _chunks(
        self,
        ctx: RequestContext,
        request: Sampling,
        chat: bool,
        first: dict[str, Any],
        stream: AsyncIterator[dict[str, Any]],
    ) -> AsyncIterator[dict[str, Any]]:
        rid, created, model = _response_id(ctx, chat), protocol.now(), request.model

        def chunk(text: str | None, finish: str | None = None, usage: Any = None) -> dict:
            if chat:
                delta = None if text is None else ({"content": text} if text else {})
                return protocol.chat_chunk(rid, model, created, delta, finish, usage)
            return protocol.completion_chunk(rid, model, created, text, finish, usage)

        if chat:
            yield protocol.chat_chunk(rid, model, created, {"role": "assistant", "content": ""})
        item = first
        try:
            while True:
                if "error" in item:
                    _raise_model_error(item["error"], ctx)
                finish = item.get("finish_reason")
                if item.get("text") or finish is None:
                    yield chunk(item.get("text", ""))
                if finish is not None:
                    ctx.prompt_tokens, ctx.completion_tokens = item["usage"]
                    yield chunk("", finish)
                    if request.include_usage():
                        yield chunk(None, usage=(ctx.prompt_tokens, ctx.completion_tokens))
                    break
                item = await anext(stream)
        finally:
            await _close(stream)
            self._observe(ctx)

    def _observe(self, ctx: RequestContext) -> None:
        model = ctx.model.key if ctx.model else "none"
        METRICS.tokens.labels(model, "prompt").inc(ctx.prompt_tokens)
        METRICS.tokens.labels(model, "completion").inc(ctx.completion_tokens)
        if ctx.first_token_at is not None:
            METRICS.ttft.labels(model).observe(ctx.first_token_at - ctx.started)

    # -- embeddings ---------------------------------------------------------------------------
    async def embed(self, ctx: RequestContext, request: protocol.EmbeddingRequest) -> dict:
        if request.model != self.embedding_model or self.embedder is None:
            raise ModelNotFound(request.model)
        result = await _guard(self.embedder.embed_request(request.inputs()))
        if "error" in result:
            _raise_model_error(result["error"], ctx)
        vectors: list[list[float]] = result["vectors"]
        if request.dimensions is not None and request.dimensions != len(vectors[0]):
            raise InvalidRequest(
                f"this model produces {len(vectors[0])}-dimensional embeddings", "dimensions"
            )
        ctx.prompt_tokens = result["prompt_tokens"]
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(v, request.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        return {
            "object": "list",
            "data": data,
            "model": request.model,
            "usage": {"prompt_tokens": ctx.prompt_tokens, "total_tokens": ctx.prompt_tokens},
        }

    async def list_models(self) -> dict[str, Any]:
        infos = await asyncio.gather(
            *(_guard(client.info()) for client in self.models.values()), return_exceptions=True
        )
        data = []
        for (key, _), info in zip(self.models.items(), infos, strict=True):
            mv = self.registry.resolve(key)
            ready = isinstance(info, dict) and info.get("ready", False)
            data.append(_model_card(key, mv, ready))
            if self.registry.resolve(mv.name).key == key:
                data.append(_model_card(mv.name, mv, ready))
        if self.embedder is not None:
            data.append(
                {"id": self.embedding_model, "object": "model", "created": 0, "owned_by": "bastion"}
            )
        return {"object": "list", "data": data}

    async def model_stats(self) -> dict[str, Any]:
        """Per model version: generations active, completed and cancelled (admin view)."""
        keys = list(self.models)
        stats = await asyncio.gather(
            *(_guard(self.models[k].stats()) for k in keys), return_exceptions=True
        )
        return {k: s if isinstance(s, dict) else None for k, s in zip(keys, stats, strict=True)}

    async def readiness(self) -> dict[str, bool]:
        async def one(client: ModelClient) -> bool:
            try:
                info = await asyncio.wait_for(client.info(), timeout=5)
            except Exception:
                return False
            return bool(info.get("ready"))

        keys = list(self.models)
        states = await asyncio.gather(*(one(self.models[k]) for k in keys))
        return dict(zip(keys, states, strict=True))


def _model_card(model_id: str, mv: ModelVersion, ready: bool) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": "bastion",
        "version": mv.version,
        "site": mv.site,
        "engine": mv.engine,
        "context_length": mv.context_length,
        "ready": ready,
    }


def _response_id(ctx: RequestContext, chat: bool) -> str:
    return ("chatcmpl-" if chat else "cmpl-") + ctx.request_id


def _raise_model_error(error: dict[str, str], ctx: RequestContext) -> None:
    kind = error.get("kind")
    if kind == "context_length":
        raise InvalidRequest(error["message"], "messages", "context_length_exceeded")
    if kind == "invalid_messages":
        raise InvalidRequest(error["message"], "messages")
    raise UpstreamError(error.get("message", "the model failed"))


async def _close(stream: AsyncIterator[Any]) -> None:
    aclose: Callable[[], Awaitable[None]] | None = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing a failed upstream must not mask the original error
            log.debug("closing upstream stream failed")


async def _guard(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except Exception as exc:
        log.error("upstream call failed", extra={"error_type": type(exc).__name__})
        raise UpstreamError("the model is unavailable") from exc


def _encode(vector: list[float], fmt: str) -> list[float] | str:
    if fmt == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
