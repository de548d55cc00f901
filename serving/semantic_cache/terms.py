"""Machine keys of the semantic cache that need no request: store-key tokens, placeholder
sets, content-word digests (the edit guard) and :class:`Question`. See keys.py for how a request
becomes a question."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from privacy.pseudonymize import PLACEHOLDER_RE, _norm_key

__all__ = ["Question", "is_edit", "placeholders", "scope_id", "terms", "token"]

_WORD = re.compile(r"[a-z0-9]+")


def token(*parts: str) -> str:
    """A short store-key token for machine values (tenant, model version ids)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def scope_id(tenant: str, model_version: str, template: str | None) -> str:
    return token(tenant, model_version, template or "-")


def placeholders(text: str) -> frozenset[str]:
    """The normalized placeholder keys (``PERSON_1``) ``text`` contains, in any form restore
    accepts."""
    found = set()
    for match in PLACEHOLDER_RE.finditer(text):
        for t, n in (("t1", "n1"), ("t3", "n3"), ("t2", "n2")):
            if match.group(t) is not None:
                found.add(_norm_key(match.group(t), match.group(n)))
                break
    return frozenset(found)


def terms(text: str) -> tuple[str, ...]:
    """The words of ``text`` in order (lower case, plural ``s`` cut), each as a 10-hex-digit
    digest (no text is kept)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(hashlib.sha256(word.encode()).hexdigest()[:10])
    return tuple(out)


def is_edit(
    new: Sequence[str], cached: Sequence[str], max_changes: int | None, min_shared: float
) -> bool:
    """True when one question is the other with a slot changed: at most ``max_changes``
    inserted, deleted or replaced runs of words, in an otherwise identical word sequence that
    keeps at least ``min_shared`` of the shorter one ("... for an adult?" → "... for a
    child?"). Such a question asks something else. A rewording moves words around and changes
    more runs, so the guard lets it through to the similarity threshold."""
    new = [t for t in new if len(t) == 10]  # word digests (``terms``), not signature terms
    cached = [t for t in cached if len(t) == 10]
    if max_changes is None or not new or not cached or new == cached:
        return False
    matcher = difflib.SequenceMatcher(None, list(new), list(cached), autojunk=False)
    changes = shared = 0
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            shared += i2 - i1
        else:
            changes += 1
    return changes <= max_changes and shared >= min_shared * min(len(new), len(cached))


@dataclass(frozen=True)
class Question:
    """A cacheable request, in redacted form."""

    text: str  # the redacted last message / prompt: what is embedded
    context: str  # SHA-256 hex of everything else that must match exactly
    have: frozenset[str]  # placeholders the request carries
    # digests of the question's words in order (10 hex digits: the edit guard's), then its
    # signature (12 characters: the verifier's, verify.py)
    terms: tuple[str, ...] = ()
