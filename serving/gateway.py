"""The request pipeline (plain Python, no Ray imports).

authenticate → [redact] → [decide] → route → generate → [restore] → [audit]. Stages in brackets
are wired by their own packages; each has its place below. The gateway returns values (dicts and
async iterators of dicts), never HTTP objects: serving/api.py does the HTTP mapping.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from models.registry import ModelNotFound, ModelVersion, Registry
from policies.access import AuthenticationFailed, KeyStore, Principal, Role
from policies.decide import Decision, DecisionInput, PolicyDenied, PolicyEngine
from privacy import RedactionResult, Redactor
from serving import protocol
from serving.observability import METRICS
from serving.redaction_batcher import RedactionBatcher

__all__ = [
    "EmbedderClient",
    "Gateway",
    "InvalidRequest",
    "ModelClient",
    "ModelUnavailable",
    "PermissionDenied",
    "RequestContext",
    "Sites",
    "StaticSites",
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


class ModelUnavailable(UpstreamError):
    """Policy allows the model version but it cannot run: its site has no capacity in this
    cluster, or it is not deployed here (→ 503, at once: requests never queue for it)."""


class Sites(Protocol):
    """Which sites currently have capacity (nodes advertising ``site:<id>``)."""

    def available(self, site: str) -> bool: ...


class StaticSites:
    def __init__(self, sites: set[str]) -> None:
        self.sites = sites

    def available(self, site: str) -> bool:
        return site in self.sites


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
    requested_model: str | None = None
    purpose: str | None = None
    data_classes: frozenset[str] = frozenset()
    decision: Decision | None = None
    redactions: int = 0
    captured: str | None = None  # redacted input and raw (placeholder) output, for the audit log
    detail: dict[str, str | int | bool] | None = None  # event facts for admin/audit records
    key_id_attempted: str | None = None  # public id of a well-formed but rejected key
    error_type: str | None = None
    entity_counts: dict[str, int] = field(default_factory=dict)
    wall_start: datetime = field(default_factory=lambda: datetime.now(UTC))
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
        policy: PolicyEngine,
        sites: Sites,
        models: dict[str, ModelClient],
        embedder: EmbedderClient | None,
        redactor: Redactor,
        capture: bool = False,
    ) -> None:
        self.capture = capture  # audit.capture == "redacted": keep redacted text for the log
        self.redactor = redactor
        self.batcher = RedactionBatcher(redactor) if redactor is not None else None
        self.keys = keys
        self.registry = registry
        self.policy = policy
        self.sites = sites
        self.models = models
        self.embedder = embedder

    # -- stage 1: authenticate ------------------------------------------------------------
    def authenticate(self, ctx: RequestContext, bearer: str | None, *roles: Role) -> Principal:
        try:
            principal = self.keys.authenticate(bearer)
        except AuthenticationFailed:
            METRICS.auth_failures.inc()
            ctx.key_id_attempted = KeyStore.key_id_of(bearer)
            raise
        ctx.principal = principal
        if roles and principal.role not in roles:
            raise PermissionDenied(f"role '{principal.role}' may not use this endpoint")
        return principal

    # -- stage 2: classify & redact ---------------------------------------------------------
    async def _redact(self, ctx: RequestContext, texts: list[str]) -> RedactionResult:
        """Replace every identifier with a typed placeholder before anything else sees the text;
        the detected entity types become the request's data classes. Fails closed."""
        assert ctx.principal is not None and self.batcher is not None, "authenticate first"
        result = await self.batcher.redact(texts, ctx.principal.tenant)
        ctx.data_classes = result.data_classes
        ctx.entity_counts = dict(result.entity_counts)
        ctx.redactions = result.count
        for kind, count in result.entity_counts.items():
            METRICS.redactions.labels(kind).inc(count)
        return result

    # -- stage 3: decide, then stage 6: route -------------------------------------------------
    def _admit(self, ctx: RequestContext, requested: str, kind: str) -> ModelVersion:
        """Decide by policy where the request may run; MUST be called before any model sees it."""
        principal = ctx.principal
        assert principal is not None, "authenticate first"
        ctx.requested_model = requested
        decision = self.policy.decide(
            DecisionInput(
                principal.tenant,
                principal.role.value,
                principal.key_id,
                requested,
                ctx.data_classes,
                ctx.purpose,
            )
        )
        ctx.decision = decision
        METRICS.decisions.labels(decision.outcome, decision.rule_id).inc()
        if not decision.allowed:
            if decision.rule_id == "default-deny/unknown-model":
                raise ModelNotFound(requested)
            raise PolicyDenied(decision)
        model = self.registry.get(decision.model_version or "")
        if model is None or model.kind != kind:
            if model is None and kind == "generate":
                raise ModelUnavailable("the model version policy selected is not deployed here")
            raise ModelNotFound(requested)
        ctx.model = model
        if not self.sites.available(model.site):
            raise ModelUnavailable(
                f"model version {model.key} is pinned to site {model.site}, which has no "
                "capacity in this cluster"
            )
        return model

    def _client(self, model: ModelVersion) -> ModelClient:
        client = self.models.get(model.key)
        if client is None:
            raise ModelUnavailable("the model version policy selected is not deployed here")
        return client

    @staticmethod
    def _texts(request: Sampling) -> list[str]:
        if isinstance(request, protocol.ChatCompletionRequest):
            return [m.text() for m in request.messages]
        return [request.prompt_text()]

    @staticmethod
    def _payload(request: Sampling, texts: list[str]) -> dict[str, Any]:
        """What the model server gets: the redacted texts, never the originals."""
        payload: dict[str, Any] = {
            "max_tokens": request.token_limit(),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stop": list(request.stops()),
            "seed": request.seed,
        }
        if isinstance(request, protocol.ChatCompletionRequest):
            payload["messages"] = [
                {"role": "system" if m.role == "developer" else m.role, "content": text}
                for m, text in zip(request.messages, texts, strict=True)
            ]
        else:
            payload["prompt"] = texts[0]
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
        redaction = await self._redact(ctx, self._texts(request))
        client = self._client(self._admit(ctx, request.model, "generate"))
        ctx.stream = request.stream
        first, stream = await self._open(ctx, client, self._payload(request, redaction.texts))
        chat = isinstance(request, protocol.ChatCompletionRequest)
        if request.stream:
            return self._chunks(ctx, request, chat, first, stream, redaction)
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
        self._capture(ctx, redaction.texts, "".join(parts))
        build = protocol.chat_response if chat else protocol.completion_response
        return build(
            _response_id(ctx, chat),
            request.model,
            redaction.restore("".join(parts)),  # stage 8: placeholders back to the values
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
        redaction: RedactionResult,
    ) -> AsyncIterator[dict[str, Any]]:
        rid, created, model = _response_id(ctx, chat), protocol.now(), request.model
        # Stage 8 while streaming: hold back only what could begin a placeholder.
        restorer = redaction.stream_restorer()
        raw: list[str] = []

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
                raw.append(item.get("text", ""))
                text = restorer.feed(raw[-1])
                if finish is not None:
                    text += restorer.flush()
                if text or (finish is None and item is first):
                    yield chunk(text)
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
            self._capture(ctx, redaction.texts, "".join(raw))

    def _capture(self, ctx: RequestContext, texts: list[str], output: str | None) -> None:
        """Only redacted text is ever captured (the model's output is in placeholder form)."""
        if self.capture:
            ctx.captured = json.dumps({"input": texts, "output": output}, ensure_ascii=False)

    def _observe(self, ctx: RequestContext) -> None:
        model = ctx.model.key if ctx.model else "none"
        METRICS.tokens.labels(model, "prompt").inc(ctx.prompt_tokens)
        METRICS.tokens.labels(model, "completion").inc(ctx.completion_tokens)
        if ctx.first_token_at is not None:
            METRICS.ttft.labels(model).observe(ctx.first_token_at - ctx.started)

    # -- embeddings ---------------------------------------------------------------------------
    async def embed(self, ctx: RequestContext, request: protocol.EmbeddingRequest) -> dict:
        redaction = await self._redact(ctx, request.inputs())
        self._admit(ctx, request.model, "embed")
        if self.embedder is None:
            raise ModelUnavailable("no embedding model is deployed here")
        result = await _guard(self.embedder.embed_request(redaction.texts))
        self._capture(ctx, redaction.texts, None)
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

    async def list_models(self, principal: Principal) -> dict[str, Any]:
        """The model versions this tenant may call (by policy), with where they run and
        whether they can serve now."""
        allowed = set(self.policy.models_for_tenant(principal.tenant))
        keys = [mv.key for mv in self.registry.versions() if mv.key in allowed]
        infos = await asyncio.gather(*(self._ready(key) for key in keys), return_exceptions=True)
        data = []
        for key, ready in zip(keys, infos, strict=True):
            mv = self.registry.resolve(key)
            card = _model_card(key, mv, ready is True, self.sites.available(mv.site))
            data.append(card)
            if self.registry.is_default(mv):
                data.append({**card, "id": mv.name})
        return {"object": "list", "data": data}

    async def _ready(self, key: str) -> bool:
        mv = self.registry.resolve(key)
        if not self.sites.available(mv.site):
            return False
        if mv.kind == "embed":
            return self.embedder is not None
        client = self.models.get(key)
        if client is None:
            return False
        try:
            info = await asyncio.wait_for(client.info(), timeout=5)
        except Exception:
            return False
        return bool(info.get("ready"))

    async def model_stats(self) -> dict[str, Any]:
        """Per model version: generations active, completed and cancelled (admin view);
        None for a version that has no running replica (e.g. its site is absent)."""

        async def one(key: str) -> dict[str, int] | None:
            if not self.sites.available(self.registry.resolve(key).site):
                return None
            try:
                return await asyncio.wait_for(self.models[key].stats(), timeout=5)
            except Exception:
                return None

        keys = list(self.models)
        stats = await asyncio.gather(*(one(k) for k in keys))
        return dict(zip(keys, stats, strict=True))

    async def readiness(self) -> dict[str, str]:
        """Per deployed model version: "ready", "loading", or "unavailable" (its site has no
        capacity in this cluster, so it cannot start here)."""
        keys = [mv.key for mv in self.registry.versions()]
        states = await asyncio.gather(*(self._ready(k) for k in keys))
        return {
            key: "ready"
            if ok
            else (
                "loading"
                if self.sites.available(self.registry.resolve(key).site)
                else "unavailable"
            )
            for key, ok in zip(keys, states, strict=True)
        }


def _model_card(model_id: str, mv: ModelVersion, ready: bool, available: bool) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": "bastion",
        "version": mv.version,
        "site": mv.site,
        "engine": mv.engine,
        "context_length": mv.context_length,
        "kind": mv.kind,
        "site_available": available,
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
