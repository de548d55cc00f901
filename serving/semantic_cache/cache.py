"""The semantic cache of one ingress replica: which requests it may serve, lookups and inserts
over the per-scope indexes, all entries in the shared StateStore.

A request is looked up only when the cache is on, its tenant opted in by policy, it is a chat or
completion request with temperature 0 (unless the tenant allows sampling), and the client did
not send ``x-bastion-cache: bypass``. Its redacted question is embedded with the bundled
embedder (the same deployment /v1/embeddings uses); a question longer than the embedder's
window is not cached (it would be truncated, and two different questions could look alike).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from models.engines.base import EngineFailure
from serving.semantic_cache.config import CacheSettings, TenantCache
from serving.semantic_cache.entries import GEN, NS, Entry, entry_key, scope_key, seq_key
from serving.semantic_cache.index import Hit, ScopeIndex
from serving.semantic_cache.terms import Question, scope_id
from serving.semantic_cache.verify import Verifier, load_verifier, want_signatures
from state import StateStore

if TYPE_CHECKING:
    from policies.documents import PolicySet
    from serving.pipeline.generate import EmbedderClient

__all__ = ["Policies", "Scope", "SemanticCache"]

log = logging.getLogger("bastion.cache")


class Policies(Protocol):
    """What the cache reads from the policy engine: the documents in force."""

    @property
    def policy_set(self) -> PolicySet: ...


@dataclass(frozen=True)
class Scope:
    tenant: str
    model_version: str
    template: str | None

    @property
    def id(self) -> str:
        return scope_id(self.tenant, self.model_version, self.template)


def _guard_encoder() -> Any:
    """The encoder the injection classifier embeds with: int8 when its ``meta.json`` says it was
    trained on the int8 encoder, else the fp32 one."""
    from policies.guardrails.classifier import META
    from policies.guardrails.encoder import shared_encoder

    try:
        quantized = bool(json.loads(META.read_text()).get("quantized", False))
    except (OSError, ValueError):
        quantized = False
    return shared_encoder(quantized) if quantized else shared_encoder()  # type: ignore[call-arg]


def _remembered(encoder: Any, window: str) -> np.ndarray | None:
    """The encoder's remembered vector of ``window`` without computing one, or None (reads the
    encoder's LRU, keyed by the text's SHA-256; None too when its layout is not the expected)."""
    memory, lock = getattr(encoder, "_cache", None), getattr(encoder, "_lock", None)
    if not isinstance(memory, dict) or lock is None:
        return None
    key = hashlib.sha256(window.encode("utf-8", "surrogatepass")).digest()
    with lock:
        vector = memory.get(key)
    return None if vector is None else np.asarray(vector, dtype=np.float32)


class SemanticCache:
    """Lookups and inserts for every scope this replica has seen."""

    def __init__(
        self,
        store: StateStore,
        embedder: EmbedderClient,
        policy: Policies | None,
        settings: CacheSettings | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.policy = policy
        self.settings = settings or CacheSettings()
        self._scopes: dict[str, ScopeIndex] = {}
        self._known: set[str] = set()  # scopes whose facts this replica has written
        self._lock = threading.Lock()
        self._tenants: tuple[object, dict[str, TenantCache]] | None = None
        self.verifier: Verifier | None = None
        if self.settings.verifier:
            self.verifier = load_verifier()
            want_signatures()
        self._encoder: Any = None

    @classmethod
    def from_settings(
        cls, settings: object, store: StateStore, embedder: EmbedderClient, policy: Policies
    ) -> SemanticCache | None:
        """From :class:`serving.config.Settings` (its ``cache`` block); None when it is off."""
        config = getattr(settings, "cache", None) or CacheSettings()
        return cls(store, embedder, policy, config) if config.enabled else None

    # -- who may use it ----------------------------------------------------------------------------
    def tenant(self, tenant: str) -> TenantCache | None:
        """The tenant's opt-in (policy in force), or None: the cache is off for it."""
        if self.policy is None:
            return TenantCache()
        policy_set = self.policy.policy_set
        cached = self._tenants
        if cached is None or cached[0] is not policy_set:
            table = {
                t.id: t.cache
                for t in policy_set.tenants
                if getattr(t, "cache", None) is not None and t.cache.enabled
            }
            self._tenants = cached = (policy_set, table)
        return cached[1].get(tenant)

    @property
    def guard(self) -> tuple[int | None, float]:
        return self.settings.edit_max_changes, self.settings.edit_min_shared

    def threshold(self, opt_in: TenantCache) -> float:
        """The least cosine of a candidate (without the verifier: of a hit)."""
        if self.verifier is None:
            return opt_in.similarity_threshold or self.settings.similarity_threshold
        return max(self.verifier.floor, opt_in.similarity_threshold or 0.0)

    @property
    def decision(self) -> tuple[Verifier, float] | None:
        """The verifier and its least probability for a hit, or None (cosine + edit guard)."""
        if self.verifier is None:
            return None
        return self.verifier, self.settings.verifier_threshold or self.verifier.threshold

    def ttl(self, opt_in: TenantCache) -> float:
        return opt_in.ttl_s or self.settings.ttl_s

    # -- embedding -------------------------------------------------------------------------------
    async def embed(self, text: str) -> np.ndarray | None:
        """The normalized embedding of a redacted question; None when it does not fit the
        embedder's window (not cacheable). Raises when the embedder fails.

        ``embed: ingress`` (default): in-process, with the injection guard's encoder (the
        bundled MiniLM, the same pooling as the embedder deployment; int8 when the guard's
        classifier was trained on the int8 encoder, policies/guardrails/meta.json). The guard
        screens the same redacted text with whitespace collapsed, and the encoder keeps recent
        vectors by the text's digest, so the vector is normally reused, not computed again: then
        it is read here without a worker thread."""
        if self.settings.embed == "deployment":
            result = await self.embedder.embed_request([text])
            if isinstance(result, EngineFailure):
                return None
            return np.asarray(result.vectors[0], dtype=np.float32)
        window = " ".join(text.split())
        if self._fits(window):
            known = _remembered(self.encoder, window)
            if known is not None:
                return known
        return await asyncio.to_thread(self._embed_here, text)

    @property
    def encoder(self) -> Any:
        """The input guard's encoder (policies/guardrails/encoder.py), shared per process."""
        if self._encoder is None:
            self._encoder = _guard_encoder()
        return self._encoder

    def _fits(self, window: str) -> bool:
        """Whether ``window`` fits the encoder's window: a longer one would be truncated, and two
        different questions could look alike. A token spans at least one character, so short
        texts skip the count."""
        limit = self.encoder.max_tokens
        return len(window) + 2 <= limit or self.encoder.count_tokens([window]) + 2 <= limit

    def _embed_here(self, text: str) -> np.ndarray | None:
        window = " ".join(text.split())  # the guard's form of a short text (classifier.windows)
        if not self._fits(window):
            return None
        return np.asarray(self.encoder.encode([window])[0], dtype=np.float32)

    # -- lookups and inserts (blocking: run them in a worker thread) -----------------------------
    def _index(self, scope: Scope, dim: int) -> ScopeIndex:
        key = scope.id
        with self._lock:
            index = self._scopes.get(key)
            if index is None:
                index = self._scopes[key] = ScopeIndex(
                    self.store, key, dim, self.settings.max_entries
                )
            return index

    def lookup(
        self, scope: Scope, question: Question, vector: np.ndarray, threshold: float
    ) -> tuple[Hit | None, float | None, int]:
        """``(hit, best similarity, generation)``: the generation to hand to :meth:`insert`."""
        index = self._index(scope, vector.shape[0])
        with index.lock:
            index.sync()
            hit, best = index.search(
                vector, question, threshold, self.settings.candidates, self.guard, self.decision
            )
            return hit, best, index.gen or 0

    def insert(self, scope: Scope, entry: Entry, ttl_s: float, gen: int) -> int | None:
        """Store an answer; returns its sequence number, or None when it was not stored."""
        if len(entry.answer) > self.settings.max_answer_chars:
            return None
        index = self._index(scope, entry.vector.shape[0])
        if self.settings.eviction == "none" and index.size >= self.settings.max_entries:
            return None
        key = scope.id
        if key not in self._known:
            facts = {
                "tenant": scope.tenant,
                "model_version": scope.model_version,
                "template": scope.template,
            }
            self.store.put_if_absent(NS, scope_key(key), json.dumps(facts).encode())
            self._known.add(key)
        seq = self.store.incr(NS, seq_key(key))
        self.store.put(NS, entry_key(key, seq), entry.encode(), ttl_s=ttl_s)
        if self.store.counter(NS, GEN) != gen:
            # invalidated while this answer was being generated: it must not be served
            self.store.delete(NS, entry_key(key, seq))
            return None
        if self.settings.eviction == "oldest" and seq > self.settings.max_entries:
            self.store.delete(NS, entry_key(key, seq - self.settings.max_entries))
        with index.lock:
            index.added(seq, entry)
        return seq

    async def alookup(
        self, scope: Scope, question: Question, vector: np.ndarray, threshold: float
    ) -> tuple[Hit | None, float | None, int]:
        return await asyncio.to_thread(self.lookup, scope, question, vector, threshold)

    async def ainsert(self, scope: Scope, entry: Entry, ttl_s: float, gen: int) -> int | None:
        return await asyncio.to_thread(self.insert, scope, entry, ttl_s, gen)
