"""Machine keys of the semantic cache that need no request: store-key tokens, placeholder
sets, content-word digests (the edit guard) and :class:`Question`. See keys.py for how a request
becomes a question."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from privacy.pseudonymize import PLACEHOLDER_RE, _norm_key

__all__ = ["Question", "is_edit", "placeholders", "scope_id", "terms", "token"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    """a an the of for to in on at by with from and or is are was were be been being am do does
    did doing have has had i me my we our you your he she it its they them their this that these
    those what which who whom whose when where why how can could should would may might must will
    shall there here about into as if so than too very just any some all each much many more most
    other such own same also only please tell get getting got""".split()  # noqa: SIM905
)


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


def terms(text: str) -> frozenset[str]:
    """The content words of ``text``, each as a 10-hex-digit digest (no text is kept)."""
    out = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(hashlib.sha256(word.encode()).hexdigest()[:10])
    return frozenset(out)


def is_edit(new: frozenset[str], cached: frozenset[str], overlap: float | None) -> bool:
    """True when two questions differ in some terms while sharing at least ``overlap`` of the
    smaller one's: a minimal edit (different question), not a rewording."""
    if overlap is None or new == cached or not new or not cached:
        return False
    return len(new & cached) >= overlap * min(len(new), len(cached))


@dataclass(frozen=True)
class Question:
    """A cacheable request, in redacted form."""

    text: str  # the redacted last message / prompt: what is embedded
    context: str  # SHA-256 hex of everything else that must match exactly
    have: frozenset[str]  # placeholders the request carries
    terms: frozenset[str] = frozenset()  # digests of the question's content words
