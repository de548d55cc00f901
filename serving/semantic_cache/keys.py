"""What a request is cached under, derived only from its redacted form.

- The **scope** of an entry: tenant, model version and prompt-template version. Each scope has
  its own vector index and entry sequence in the store.
- The **question**: the redacted text of the last message (or of the prompt). Its embedding is
  the key a lookup compares by similarity.
- The **context**: everything else that shapes the answer and must match exactly — the earlier
  messages (system prompt, rendered template, history) in redacted form, the route, and the
  sampling and output settings — as one SHA-256 digest.
- The **placeholders** a text uses (``[PERSON_1]``, normalized as restore reads them): a cached
  answer may be served only to a request that has every placeholder the answer uses, so a hit is
  always restored with the current request's own values.

No function here ever sees an original value: they read ``state.redaction.texts``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from privacy.pseudonymize import PLACEHOLDER_RE, _norm_key
from serving import protocol
from serving.pipeline.redact import redacted
from serving.pipeline.state import RequestState, Route

__all__ = ["Question", "placeholders", "question_of", "scope_id", "token"]


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


@dataclass(frozen=True)
class Question:
    """A cacheable request, in redacted form."""

    text: str  # the redacted last message / prompt: what is embedded
    context: str  # SHA-256 hex of everything else that must match exactly
    have: frozenset[str]  # placeholders the request carries


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
    have = frozenset().union(*(placeholders(t) for t in texts)) if texts else frozenset()
    return Question(last, hashlib.sha256(canonical.encode()).hexdigest(), have)


def cacheable_route(state: RequestState) -> bool:
    return state.route in (Route.CHAT, Route.COMPLETION)
