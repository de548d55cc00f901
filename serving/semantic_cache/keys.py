"""What a request is cached under, derived only from its redacted form.

- The **scope** of an entry: tenant, model version and prompt-template version. Each scope has
  its own vector index and entry sequence in the store.
- The **question**: the redacted text of the last message (or of the prompt). Its embedding is
  the key a lookup compares by similarity.
- The **context**: everything else that shapes the answer and must match exactly — the earlier
  messages (system prompt, rendered template, history) in redacted form, the route, and the
  sampling and output settings — as one SHA-256 digest.
- The **terms** of the question: its content words (stop words dropped, plural ``s`` cut), each
  kept only as a short SHA-256 digest. A cached question that shares most of its terms with the
  new one but swaps some (``adult`` → ``child``, ``credit`` → ``debit``) is a *minimal edit* and
  most likely a different question, however close the embeddings are: the edit guard refuses it
  (``cache.edit_overlap``; bench/cache.py measured why, docs/cache.md).
- The **placeholders** a text uses (``[PERSON_1]``, normalized as restore reads them): a cached
  answer may be served only to a request that has every placeholder the answer uses, so a hit is
  always restored with the current request's own values.

No function here ever sees an original value: they read ``state.redaction.texts``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from privacy.pseudonymize import PLACEHOLDER_RE, _norm_key
from serving import protocol
from serving.pipeline.redact import redacted
from serving.pipeline.state import RequestState, Route

__all__ = [
    "Question",
    "is_edit",
    "placeholders",
    "question_of",
    "scope_id",
    "terms",
    "token",
]

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


def _format(request: protocol.ChatCompletionRequest) -> object:
    declared = request.response_format
    return None if declared is None else declared.model_dump(mode="json", by_alias=True)


def question_of(state: RequestState) -> Question | None:
    """The request's question and context, or None when it cannot be cached (no text)."""
    request = state.request
    if state.redaction is None or not isinstance(
        request, protocol.ChatCompletionRequest | protocol.CompletionRequest
    ):
        return None
    texts, stops = redacted(state)
    if isinstance(request, protocol.ChatCompletionRequest):
        roles = [m.role for m in request.messages]
        earlier = [[r, t] for r, t in zip(roles[:-1], texts[:-1], strict=True)]
        last = texts[-1]
        shape: list[object] = ["chat", roles[-1], earlier, _format(request)]
    else:
        last = texts[0]
        shape = ["completion"]
    sampled = request.temperature > 0
    shape += [
        request.token_limit(),
        list(stops),
        request.temperature,
        request.top_p if sampled else None,
        request.seed if sampled else None,
        getattr(state, "prompt_version", None),
    ]
    if not last.strip():
        return None
    canonical = json.dumps(shape, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    have = frozenset().union(*(placeholders(t) for t in [*texts, *stops]))
    return Question(last, hashlib.sha256(canonical.encode()).hexdigest(), have, terms(last))


def cacheable_route(state: RequestState) -> bool:
    return state.route in (Route.CHAT, Route.COMPLETION)
