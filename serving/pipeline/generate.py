"""Stage 7: generation on the chosen version's model server (or the embedder), over the typed
wire. ``before`` starts generation and waits for the first item, so that errors known before any
text (context length, unavailable model) stop the request as proper errors, not stream events;
``wrap`` streams the rest."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from models.embeddings import Embedded
from models.engines.base import (
    ChatMessage,
    Delta,
    EngineFailure,
    FailureKind,
    GenerateRequest,
    ResponseFormat,
    Sampling,
    Usage,
)
from serving import protocol
from serving.observability import METRICS
from serving.pipeline.errors import InvalidRequest, ModelUnavailable, UpstreamError
from serving.pipeline.redact import redacted
from serving.pipeline.stage import Stage
from serving.pipeline.state import Embeddings, Item, RequestState, Route

__all__ = ["EmbedderClient", "Generate", "ModelClient", "generate_request"]

log = logging.getLogger("bastion.gateway")


class ModelClient(Protocol):
    """How the pipeline reaches one model version (in-process or through a Ray handle)."""

    def generate(self, request: GenerateRequest) -> AsyncIterator[Delta | EngineFailure]: ...

    async def info(self) -> dict[str, Any]: ...

    async def stats(self) -> dict[str, int]: ...


class EmbedderClient(Protocol):
    """How the pipeline reaches the embedding model (in-process or through a Ray handle)."""

    async def embed_request(self, texts: list[str]) -> Embedded | EngineFailure: ...


def generate_request(state: RequestState) -> GenerateRequest:
    """What the model server gets: the redacted texts, never the originals."""
    request = state.request
    assert isinstance(request, protocol.ChatCompletionRequest | protocol.CompletionRequest)
    texts, stops = redacted(state)
    response_format = ResponseFormat()
    declared = getattr(request, "response_format", None)
    if declared is not None:
        response_format = declared.wire()
    sampling = Sampling(
        max_tokens=request.token_limit(),
        temperature=request.temperature,
        top_p=request.top_p,
        stop=stops,
        seed=request.seed,
        response_format=response_format,
    )
    if isinstance(request, protocol.ChatCompletionRequest):
        messages = tuple(
            ChatMessage("system" if m.role == "developer" else m.role, text)
            for m, text in zip(request.messages, texts, strict=True)
        )
        return GenerateRequest(state.request_id, sampling, messages=messages)
    return GenerateRequest(state.request_id, sampling, prompt=texts[0])


def _raise_failure(failure: EngineFailure) -> None:
    if failure.kind is FailureKind.CONTEXT_LENGTH:
        raise InvalidRequest(failure.message, "messages", "context_length_exceeded")
    if failure.kind is FailureKind.INVALID_MESSAGES:
        raise InvalidRequest(failure.message, "messages")
    raise UpstreamError(failure.message or "the model failed")


async def _close(stream: Any) -> None:
    aclose: Callable[[], Awaitable[None]] | None = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing a failed upstream must not mask the original error
            log.debug("closing upstream stream failed")


class Generate(Stage):
    """Owns ``upstream``, ``first_item``, ``first_token_at`` and ``usage``."""

    name = "generate"

    def __init__(
        self, models: Mapping[str, ModelClient], embedder: EmbedderClient | None = None
    ) -> None:
        self.models = models  # read per request: a test may swap a client in place
        self.embedder = embedder

    async def before(self, state: RequestState) -> None:
        if state.route is Route.EMBEDDING:
            state.first_item = await self._embed(state)
            return
        assert state.model is not None, "route first"
        if state.cache is not None and state.cache.hit is not None:
            # a semantic-cache hit (serving/pipeline/cache.py): the cached answer, streamed
            stream = state.cache.replay()
        else:
            client = self.models.get(state.model.key)
            if client is None:
                raise ModelUnavailable("the model version policy selected is not deployed here")
            stream = client.generate(generate_request(state))
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            raise UpstreamError("the model returned nothing") from None
        except Exception as exc:
            await _close(stream)
            log.error("model call failed", extra={"error_type": type(exc).__name__})
            raise UpstreamError("the model is unavailable") from exc
        if isinstance(first, EngineFailure):
            await _close(stream)
            _raise_failure(first)
        state.first_token_at = time.perf_counter()
        state.first_item, state.upstream = first, stream

    async def _embed(self, state: RequestState) -> Embeddings:
        request = state.request
        assert isinstance(request, protocol.EmbeddingRequest)
        if self.embedder is None:
            raise ModelUnavailable("no embedding model is deployed here")
        texts, _ = redacted(state)
        try:
            result = await self.embedder.embed_request(texts)
        except Exception as exc:
            log.error("upstream call failed", extra={"error_type": type(exc).__name__})
            raise UpstreamError("the model is unavailable") from exc
        if isinstance(result, EngineFailure):
            _raise_failure(result)
        vectors = result.vectors
        if request.dimensions is not None and request.dimensions != len(vectors[0]):
            raise InvalidRequest(
                f"this model produces {len(vectors[0])}-dimensional embeddings", "dimensions"
            )
        state.usage = Usage(result.prompt_tokens, 0)
        return Embeddings(vectors, state.usage)

    async def release(self, state: RequestState) -> None:
        if state.upstream is not None:
            await _close(state.upstream)

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        item = state.first_item
        if isinstance(item, Embeddings):
            yield item
            return
        stream = state.upstream
        try:
            while True:
                if isinstance(item, EngineFailure):
                    _raise_failure(item)
                assert isinstance(item, Delta)
                if item.finish_reason is not None:
                    state.usage = item.usage or Usage(0, 0)
                    self._observe(state)
                    yield item
                    return
                yield item
                item = await anext(stream)
        except StopAsyncIteration:
            raise UpstreamError("the model stream ended early") from None
        finally:
            await _close(stream)

    @staticmethod
    def _observe(state: RequestState) -> None:
        model = state.model.key if state.model else "none"
        # Tokens by tenant and model version: bastion_tokens_total, counted by the usage stage.
        if state.first_token_at is not None and not state.cache_hit:  # the model's own TTFT
            METRICS.ttft.labels(model).observe(state.first_token_at - state.started)
