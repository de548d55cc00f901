"""Stage 2: replace every identifier with a typed placeholder before anything else sees the
request — messages, prompt, embedding inputs and ``stop`` strings, in one redaction so the same
value gets the same placeholder everywhere. The detected entity types become the request's data
classes. Fails closed (RedactionError → 422)."""

from __future__ import annotations

from serving import protocol
from serving.observability import METRICS
from serving.pipeline.errors import UpstreamError
from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState
from serving.redaction_batcher import RedactionBatcher

__all__ = ["Redact", "redacted"]


def _inputs(request: object) -> list[str]:
    if isinstance(request, protocol.ChatCompletionRequest):
        return [m.text() for m in request.messages]
    if isinstance(request, protocol.CompletionRequest):
        return [request.prompt_text()]
    if isinstance(request, protocol.EmbeddingRequest):
        return request.inputs()
    raise TypeError(f"not an inference request: {type(request).__name__}")


def _stops(request: object) -> list[str]:
    stop = getattr(request, "stop", None)
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def redacted(state: RequestState) -> tuple[list[str], tuple[str, ...]]:
    """The redacted inputs (messages, prompt or embedding inputs) and stop strings: the only
    request text any later stage may send on."""
    assert state.redaction is not None, "redact first"
    count = len(_inputs(state.request))
    texts = state.redaction.texts
    return texts[:count], tuple(texts[count:])


class Redact(Stage):
    """Owns ``redaction``."""

    name = "redact"

    def __init__(self, batcher: RedactionBatcher | None) -> None:
        self.batcher = batcher

    async def before(self, state: RequestState) -> None:
        assert state.principal is not None, "authenticate first"
        if self.batcher is None:  # fail closed: nothing reaches a model unredacted
            raise UpstreamError("identifier detection is not configured")
        texts = _inputs(state.request) + _stops(state.request)
        result = await self.batcher.redact(texts, state.principal.tenant)
        state.redaction = result
        for kind, count in result.entity_counts.items():
            METRICS.redactions.labels(kind).inc(count)
        if result.degraded:  # a fail-open tenant's NER failed: patterns only
            METRICS.degraded.labels("request").inc()
