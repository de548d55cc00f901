"""Stage 6: the semantic cache (serving/semantic_cache/), in two places of the pipeline.

- :class:`CacheLookup` (after route, before generate): embeds the request's **redacted**
  question and looks it up in the tenant's and model version's index. On a hit it fills
  ``state.cache`` with the entry, and generate streams the cached answer instead of calling the
  model; the answer then takes the normal way back (output guard, restore with **this**
  request's placeholders, audit), so a hit streams like any answer and a whole hit is the same
  stream collected. Output redaction scans it again only when it was stored unscanned (the
  tenant had output redaction off then): an entry is the text that left output redaction.
- :class:`CacheStore` (after the output guard, before restore): on a miss, stores the answer in
  the placeholder form that left output redaction and the output guard — never restored text —
  when it completed.

A cached answer is served only to a request that has every placeholder the answer uses, so an
answer can never carry another request's identifiers (restore maps placeholders with the
current request's own mapping; a placeholder it lacks makes the lookup a miss).

The cache fails open: an embedder or store failure makes the request a ``skip``, never an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from models.engines.base import Delta, Usage
from serving.observability import METRICS
from serving.pipeline.stage import Stage
from serving.pipeline.state import Item, RequestState
from serving.semantic_cache.cache import Scope, SemanticCache
from serving.semantic_cache.config import TenantCache
from serving.semantic_cache.entries import Entry
from serving.semantic_cache.index import Hit
from serving.semantic_cache.keys import cacheable_route, question_of
from serving.semantic_cache.terms import Question, placeholders

__all__ = ["CacheLookup", "CacheState", "CacheStore", "cache_headers"]

log = logging.getLogger("bastion.cache")

_PIECE = re.compile(r"\S*\s*")  # replayed stream: one piece per word and its trailing space


@dataclass(eq=False)
class CacheState:
    """What the cache decided for one request (``state.cache``)."""

    result: str  # hit | miss | bypass | skip
    similarity: float | None = None
    hit: Hit | None = field(default=None, repr=False)
    scope: Scope | None = None
    question: Question | None = field(default=None, repr=False)
    vector: np.ndarray | None = field(default=None, repr=False)
    gen: int = 0
    ttl_s: float = 0.0

    async def replay(self) -> AsyncIterator[Delta]:
        """The cached answer as a model stream (placeholder form; restore runs later)."""
        assert self.hit is not None
        entry = self.hit.entry
        pieces = [p for p in _PIECE.findall(entry.answer) if p] or [""]
        for piece in pieces[:-1]:
            yield Delta(piece)
        usage = Usage(entry.prompt_tokens, entry.completion_tokens)
        yield Delta(pieces[-1], entry.finish_reason, usage)


def cache_headers(state: RequestState) -> dict[str, str]:
    """``x-bastion-cache: hit|miss|bypass|skip`` (and the similarity of a hit) when the cache
    was consulted for this request; nothing when it is off for the tenant."""
    cached = state.cache
    if cached is None:
        return {}
    headers = {"x-bastion-cache": cached.result}
    if cached.result == "hit" and cached.similarity is not None:
        headers["x-bastion-cache-similarity"] = f"{cached.similarity:.4f}"
    return headers


class CacheLookup(Stage):
    """Owns ``cache``."""

    name = "cache"

    def __init__(self, cache: SemanticCache | None) -> None:
        self.cache = cache

    def _count(self, state: RequestState, result: str) -> None:
        tenant = state.principal.tenant if state.principal else "-"
        model = state.model.key if state.model else "-"
        METRICS.cache_requests.labels(tenant, model, result).inc()

    async def before(self, state: RequestState) -> None:
        cache = self.cache
        if cache is None or not cacheable_route(state):
            return
        assert state.principal is not None and state.model is not None, "route first"
        opt_in = cache.tenant(state.principal.tenant)
        if opt_in is None:
            return
        state.cache = await self._lookup(cache, state, opt_in)
        self._count(state, state.cache.result)

    async def _lookup(
        self, cache: SemanticCache, state: RequestState, opt_in: TenantCache
    ) -> CacheState:
        if (state.cache_control or "").strip().lower() == "bypass":
            return CacheState("bypass")
        request = state.request
        sampled = getattr(request, "temperature", 1.0) > 0
        if sampled and cache.settings.deterministic_only and not opt_in.allow_sampling:
            return CacheState("skip")
        question = question_of(state)
        if question is None:
            return CacheState("skip")
        assert state.principal is not None and state.model is not None
        template = getattr(state, "prompt_version", None)
        scope = Scope(state.principal.tenant, state.model.key, str(template) if template else None)
        try:
            vector = await cache.embed(question.text)
            if vector is None:  # longer than the embedder's window
                return CacheState("skip")
            hit, _best, gen = await cache.alookup(scope, question, vector, cache.threshold(opt_in))
        except Exception as exc:
            log.warning("semantic cache lookup failed", extra={"error_type": type(exc).__name__})
            return CacheState("skip")
        ttl = cache.ttl(opt_in)
        if hit is None:
            return CacheState("miss", None, None, scope, question, vector, gen, ttl)
        return CacheState("hit", hit.similarity, hit, scope, question, vector, gen, ttl)


class CacheStore(Stage):
    """Stores a missed request's complete answer (placeholder form); fills no state field."""

    name = "cache_store"

    def __init__(self, cache: SemanticCache) -> None:
        self.cache = cache

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        cached = state.cache
        if cached is None or cached.result != "miss":
            async for item in items:
                yield item
            return
        parts: list[str] = []
        async for item in items:
            if isinstance(item, Delta):
                parts.append(item.text)
                if item.finish_reason in ("stop", "length"):
                    scanned = state.output_redactions is not None  # output redaction ran
                    await self._store(
                        cached, "".join(parts), item.finish_reason, item.usage, scanned
                    )
            yield item

    async def _store(
        self, cached: CacheState, answer: str, finish: str, usage: Usage | None, scanned: bool
    ) -> None:
        assert cached.scope is not None and cached.question is not None
        assert cached.vector is not None
        usage = usage or Usage(0, 0)
        entry = Entry(
            cached.vector,
            answer,
            finish,
            usage.prompt_tokens,
            usage.completion_tokens,
            cached.question.context,
            placeholders(answer),
            cached.question.terms,
            scanned,
        )
        try:
            await self.cache.ainsert(cached.scope, entry, cached.ttl_s, cached.gen)
        except Exception as exc:
            log.warning("semantic cache insert failed", extra={"error_type": type(exc).__name__})
