"""Blocked topics per tenant: phrases (word boundaries, any case) or sentence-embedding
similarity to example requests (the same in-process MiniLM encoder as the classifier; example
vectors are computed once per settings object)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from policies.guardrails.classifier import windows
from policies.guardrails.encoder import SentenceEncoder, shared_encoder
from policies.guardrails.settings import BlockedTopics

__all__ = ["TopicMatch", "TopicMatcher"]


@dataclass(frozen=True)
class TopicMatch:
    """``how`` is ``phrase`` or ``similarity``; ``score`` the best similarity (1.0 for a phrase)."""

    how: str
    score: float


class TopicMatcher:
    def __init__(self, settings: BlockedTopics, encoder: SentenceEncoder | None = None) -> None:
        self.settings = settings
        self.encoder = encoder or shared_encoder()
        parts = [r"\s+".join(re.escape(w) for w in p.split()) for p in settings.phrases]
        self.phrases = (
            re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)
            if parts
            else None
        )
        self._examples: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.phrases is not None or bool(self.settings.examples)

    def _example_vectors(self) -> np.ndarray:
        with self._lock:
            if self._examples is None:
                self._examples = self.encoder.encode(list(self.settings.examples))
            return self._examples

    def match(self, texts: list[str]) -> TopicMatch | None:
        """The first way ``texts`` hit a blocked topic, or None."""
        if self.phrases is not None and any(self.phrases.search(t) for t in texts):
            return TopicMatch("phrase", 1.0)
        if not self.settings.examples:
            return None
        parts = [w for t in texts for w in windows(t)]
        if not parts:
            return None
        similarity = float((self.encoder.encode(parts) @ self._example_vectors().T).max())
        if similarity >= self.settings.similarity:
            return TopicMatch("similarity", similarity)
        return None
