"""One scope's vector index (FAISS, exact inner product over normalized vectors), kept in step
with the entries in the StateStore, so every ingress replica answers from the same entries.

Sync, before each lookup: two counter reads (the store's generation and the scope's sequence).
A changed generation (an invalidation) rebuilds the index from the store; a higher sequence
fetches only the new entries by key. A lookup's candidate is read back from the store before it
is served, so an entry deleted or expired elsewhere is never served, whatever the index holds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import faiss
import numpy as np

from serving.semantic_cache.entries import GEN, NS, PAGE, Entry, entry_key, seq_key
from serving.semantic_cache.terms import Question, is_edit
from serving.semantic_cache.verify import Verifier
from state import StateStore

__all__ = ["Hit", "ScopeIndex"]

INCREMENTAL = 256  # more new entries than this: rebuild instead of fetching them one by one
PENDING_S = 10.0  # a sequence number taken but not yet written is retried this long


@dataclass(frozen=True)
class Hit:
    seq: int
    similarity: float
    entry: Entry
    probability: float | None = None  # the verifier's, when it decided


@dataclass(frozen=True)
class _Meta:
    context: str
    needs: frozenset[str]
    terms: tuple[str, ...]


class ScopeIndex:
    """The entries of one (tenant, model version, template version) scope on this replica."""

    def __init__(self, store: StateStore, scope: str, dim: int, max_entries: int) -> None:
        self.store = store
        self.scope = scope
        self.dim = dim
        self.max_entries = max_entries
        self.lock = threading.Lock()
        self.gen: int | None = None
        self.seq = 0  # the highest sequence number this replica has looked at
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.meta: dict[int, _Meta] = {}
        self.pending: dict[int, float] = {}

    # -- local index ---------------------------------------------------------------------------
    def _add(self, seq: int, entry: Entry) -> None:
        if seq in self.meta or entry.vector.shape != (self.dim,):
            return
        self.index.add_with_ids(entry.vector.reshape(1, -1), np.array([seq], dtype=np.int64))
        self.meta[seq] = _Meta(entry.context, entry.needs, entry.terms)

    def _drop(self, seqs: list[int]) -> None:
        seqs = [s for s in seqs if s in self.meta]
        if not seqs:
            return
        self.index.remove_ids(np.array(seqs, dtype=np.int64))
        for s in seqs:
            del self.meta[s]

    def _reset(self) -> None:
        self.index.reset()
        self.meta.clear()
        self.pending.clear()

    @property
    def size(self) -> int:
        return len(self.meta)

    # -- sync with the store -------------------------------------------------------------------
    def _rebuild(self, seq: int) -> None:
        self._reset()
        first = max(0, seq - self.max_entries + 1)
        for block in range(first // PAGE, seq // PAGE + 1):
            for key, raw in self.store.items(NS, f"e:{self.scope}:{block:09d}", limit=PAGE):
                number = int(key.rsplit(":", 1)[1])
                if number >= first:
                    self._add(number, Entry.decode(raw))
        self.seq = seq

    def _fetch(self, seqs: list[int], now: float) -> None:
        for number in seqs:
            raw = self.store.get(NS, entry_key(self.scope, number))
            if raw is not None:
                self.pending.pop(number, None)
                self._add(number, Entry.decode(raw))
            elif now - self.pending.setdefault(number, now) > PENDING_S:
                del self.pending[number]  # expired, evicted, or its writer gave up

    def sync(self) -> None:
        """Bring the index in step with the store (call with ``lock`` held)."""
        gen = self.store.counter(NS, GEN)
        seq = self.store.counter(NS, seq_key(self.scope))
        if gen != self.gen or seq < self.seq or seq - self.seq > INCREMENTAL:
            self._rebuild(seq)
            self.gen = gen
        elif seq > self.seq or self.pending:
            self._fetch([*self.pending, *range(self.seq + 1, seq + 1)], time.monotonic())
            self.seq = seq
        self._drop([s for s in self.meta if s <= seq - self.max_entries])

    # -- lookup ----------------------------------------------------------------------------------
    def search(
        self,
        vector: np.ndarray,
        question: Question,
        threshold: float,
        k: int,
        guard: tuple[int | None, float] = (None, 1.0),
        verifier: tuple[Verifier, float] | None = None,
    ) -> tuple[Hit | None, float | None]:
        """The best of the ``k`` nearest entries at or above ``threshold`` (cosine) with the same
        context and whose placeholders the request has, read back from the store; and the best
        similarity seen (None: empty).

        With ``verifier`` (the verifier and its least probability) the best is the candidate it
        rates highest, and it must reach that probability; without it, the nearest of which the
        question is no slot edit (``terms.is_edit``; ``guard`` is ``(max_changes,
        min_shared)``)."""
        context, have = question.context, question.have
        if not self.meta:
            return None, None
        scores, ids = self.index.search(vector.reshape(1, -1), min(k, len(self.meta)))
        best = float(scores[0][0]) if ids[0][0] >= 0 else None
        ranked: list[tuple[float, float, int]] = []  # (rank key, cosine, seq), best first
        for score, number in zip(scores[0], ids[0], strict=True):
            if number < 0 or score < threshold:
                break
            meta = self.meta.get(int(number))
            if meta is None or meta.context != context or not meta.needs <= have:
                continue
            if verifier is None:
                if is_edit(question.terms, meta.terms, *guard):
                    continue
                ranked.append((float(score), float(score), int(number)))
            else:
                p = verifier[0].probability(question.terms, meta.terms, float(score))
                if p >= verifier[1]:
                    ranked.append((p, float(score), int(number)))
        ranked.sort(key=lambda r: (-r[0], r[2]))
        gone = []
        hit = None
        for key, score, number in ranked:
            raw = self.store.get(NS, entry_key(self.scope, number))
            if raw is None:
                gone.append(number)
                continue
            entry = Entry.decode(raw)
            if entry.context != context or not entry.needs <= have:
                continue
            hit = Hit(number, score, entry, key if verifier is not None else None)
            break
        self._drop(gone)
        return hit, best

    def added(self, seq: int, entry: Entry) -> None:
        """An entry this replica just stored (visible here at once)."""
        self._add(seq, entry)
