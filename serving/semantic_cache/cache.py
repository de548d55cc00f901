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
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from models.engines.base import EngineFailure
from serving.semantic_cache.config import CacheSettings, TenantCache
from serving.semantic_cache.entries import GEN, NS, Entry, entry_key, scope_key, seq_key
from serving.semantic_cache.index import Hit, ScopeIndex
from serving.semantic_cache.terms import Question, scope_id
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
        return opt_in.similarity_threshold or self.settings.similarity_threshold

    def ttl(self, opt_in: TenantCache) -> float:
        return opt_in.ttl_s or self.settings.ttl_s

    # -- embedding -------------------------------------------------------------------------------
    async def embed(self, text: str) -> np.ndarray | None:
        """The normalized embedding of a redacted question; None when it does not fit the
        embedder's window (not cacheable). Raises when the embedder fails."""
        result = await self.embedder.embed_request([text])
        if isinstance(result, EngineFailure):
            return None
        return np.asarray(result.vectors[0], dtype=np.float32)

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
                vector, question, threshold, self.settings.candidates, self.guard
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
