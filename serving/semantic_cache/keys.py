"""What a request is cached under, derived only from its redacted form.

- The **scope** of an entry: tenant, model version and prompt-template version. Each scope has
  its own vector index and entry sequence in the store.
- The **question**: the redacted text of the last message (or of the prompt). Its embedding is
  the key a lookup compares by similarity.
- The **context**: everything else that shapes the answer and must match exactly — the earlier
  messages (system prompt, rendered template, history) in redacted form, the route, and the
  sampling and output settings — as one SHA-256 digest.
- The **terms** of the question: its words in order (plural ``s`` cut), each kept only as a
  short SHA-256 digest, then, when a cache of this process uses the verifier, its signature
  (verify.py: content words lemmatized, each as a digest and a word-class letter). A new
  question that is a cached one with a slot changed (``adult`` → ``child``, ``credit`` →
  ``debit``, a clause added) most likely asks something else, however close the embeddings
  are: the edit guard (``cache.edit_max_changes``/``edit_min_shared``) or the pair verifier
  (``cache.verifier``) refuses it (bench/cache.py measured why).
- The **placeholders** a text uses (``[PERSON_1]``, normalized as restore reads them): a cached
  answer may be served only to a request that has every placeholder the answer uses, so a hit is
  always restored with the current request's own values.

No function here ever sees an original value: they read ``state.redaction.texts``.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from serving import protocol
from serving.semantic_cache.terms import Question, placeholders, terms
from serving.semantic_cache.verify import signature_if_wanted

if TYPE_CHECKING:  # the pipeline package imports this module (through its cache stage)
    from serving.pipeline.state import RequestState

__all__ = ["cacheable_route", "question_of"]


def _format(request: protocol.ChatCompletionRequest) -> object:
    declared = request.response_format
    return None if declared is None else declared.model_dump(mode="json", by_alias=True)


def question_of(state: RequestState) -> Question | None:
    """The request's question and context, or None when it cannot be cached (no text)."""
    from serving.pipeline.redact import redacted

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
    context = hashlib.sha256(canonical.encode()).hexdigest()
    return Question(last, context, have, terms(last) + signature_if_wanted(last))


def cacheable_route(state: RequestState) -> bool:
    """Chat and completion requests (not embeddings)."""
    return state.route.value in ("inference.chat", "inference.completion")
