"""Cache entries in the StateStore: their keys, their encoding, and invalidation.

Layout (namespace ``semcache``):

- ``s:<scope>`` → the scope's machine facts (tenant id, model version, template version), so
  invalidation can find the scopes of a model or template version;
- ``e:<scope>:<seq>`` → one entry (vector, placeholder-form answer, context digest, ...), with
  the entry's TTL; ``seq`` is the scope's counter ``q:<scope>`` at insertion (zero-padded), so
  entries sort by age and the oldest is ``seq - max_entries``;
- ``gen`` → a counter bumped by every invalidation: a replica that sees it change rebuilds its
  indexes from the store.

MUST NOT hold an identifier: an entry's answer is the placeholder form that left output
redaction, its vector is that of the redacted question, and the question text is not kept.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np

from state import StateStore

__all__ = [
    "GEN",
    "NS",
    "Entry",
    "entry_key",
    "invalidate",
    "scope_key",
    "seq_key",
]

NS = "semcache"
GEN = "gen"
PAGE = 1000


def entry_key(scope: str, seq: int) -> str:
    return f"e:{scope}:{seq:012d}"


def seq_key(scope: str) -> str:
    return f"q:{scope}"


def scope_key(scope: str) -> str:
    return f"s:{scope}"


@dataclass(frozen=True)
class Entry:
    """One cached answer, in placeholder form."""

    vector: np.ndarray  # float32, normalized: the redacted question's embedding
    answer: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    context: str  # digest of what must match exactly (keys.Question.context)
    needs: frozenset[str]  # placeholders the answer uses
    terms: tuple[str, ...] = ()  # the question's word digests and signature (terms.Question)
    # the answer left output redaction (privacy/output.py) before it was stored: a hit need not
    # scan it again (entries written before this field, or unscanned, are scanned on a hit)
    scanned: bool = False

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": base64.b64encode(self.vector.astype("<f4").tobytes()).decode("ascii"),
                "a": self.answer,
                "f": self.finish_reason,
                "p": self.prompt_tokens,
                "c": self.completion_tokens,
                "x": self.context,
                "n": sorted(self.needs),
                "w": list(self.terms),
                "s": int(self.scanned),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        vector = np.frombuffer(base64.b64decode(data["v"]), dtype="<f4").astype(np.float32)
        return cls(
            vector,
            str(data["a"]),
            str(data["f"]),
            int(data["p"]),
            int(data["c"]),
            str(data["x"]),
            frozenset(data["n"]),
            tuple(data.get("w", ())),
            bool(data.get("s", 0)),
        )


def _scopes(store: StateStore) -> list[tuple[str, dict[str, str]]]:
    out = []
    for key, raw in store.items(NS, "s:", limit=1_000_000):
        try:
            out.append((key.removeprefix("s:"), json.loads(raw)))
        except ValueError:
            continue
    return out


def invalidate(
    store: StateStore,
    model_version: str | None = None,
    *,
    template: str | None = None,
    tenant: str | None = None,
) -> int:
    """Delete the cached answers of a model version (``name@version``), a prompt-template
    version, a tenant, or any combination (all given must match; none: everything). Every
    replica stops serving them at its next lookup (entries are checked in the store before
    they are served, and the generation counter makes replicas rebuild their indexes).
    Returns how many entries were deleted."""
    deleted = 0
    for scope, facts in _scopes(store):
        if model_version is not None and facts.get("model_version") != model_version:
            continue
        if template is not None and facts.get("template") != template:
            continue
        if tenant is not None and facts.get("tenant") != tenant:
            continue
        while True:
            page = store.items(NS, f"e:{scope}:", limit=PAGE)
            for key, _ in page:
                deleted += int(store.delete(NS, key))
            if len(page) < PAGE:
                break
    store.incr(NS, GEN)
    return deleted
