"""Stage 4: the input guard (after decide): per-tenant limits, prompt-injection screening and
blocked topics, on the redacted texts (policies/guardrails/, docs/guardrails.md).

Screened texts: user messages, tool results and any other message not written by the
application or the model (system, developer and assistant messages are not screened), with their
content parts; a completion's prompt. A blocked request gets a 400 whose code is
``limit_exceeded``, ``prompt_injection`` or ``blocked_topic``; the audit record carries each
guard's verdict (``guardrails``) and the score in thousandths (``detail``), never the text.
Screening runs in-process on CPU, in a worker thread; if it fails, the request fails (503):
fail closed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from policies.guardrails.classifier import InjectionClassifier, Screening, load_classifier
from policies.guardrails.encoder import shared_encoder
from policies.guardrails.settings import Action, GuardrailSettings
from policies.guardrails.tenants import TenantGuardrails, TenantGuards
from serving import protocol
from serving.observability import METRICS
from serving.pipeline.errors import InvalidRequest, UpstreamError
from serving.pipeline.redact import redacted
from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState, Route

if TYPE_CHECKING:
    from policies.decide import PolicyEngine

__all__ = ["InputGuard", "screened_texts"]

log = logging.getLogger("bastion.guardrails")

_NOT_SCREENED = frozenset({"system", "developer", "assistant"})


def screened_texts(state: RequestState) -> list[str]:
    """The redacted texts the input guard screens (see the module docstring)."""
    texts, _ = redacted(state)
    request = state.request
    if isinstance(request, protocol.ChatCompletionRequest):
        return [
            text
            for message, text in zip(request.messages, texts, strict=True)
            if message.role not in _NOT_SCREENED and text
        ]
    return [t for t in texts if t]


def _milli(score: float) -> int:
    return max(0, min(1000, round(score * 1000)))


class InputGuard(Stage):
    """Owns ``guardrails`` (with the output guard) and ``guard_detail`` for its guards."""

    name = "input_guard"

    def __init__(self, policy: PolicyEngine, classifier: InjectionClassifier | None = None) -> None:
        self.tenants = TenantGuardrails(policy)
        self.classifier = classifier or load_classifier()  # missing weights: start-up fails
        # load the encoder now, off the caller's thread, rather than on the first request. Not a
        # daemon: a process that exits while torch is still loading aborts in the interpreter's
        # finalization (SIGABRT, exit 134, after every test passed); exit waits for the load.
        threading.Thread(target=self.classifier.encoder.start, daemon=False).start()

    def _verdict(self, state: RequestState, guard: str, verdict: str) -> None:
        assert state.principal is not None
        state.guardrails[guard] = verdict
        METRICS.guardrail_verdicts.labels(state.principal.tenant, guard, verdict).inc()

    async def before(self, state: RequestState) -> None:
        if state.route not in (Route.CHAT, Route.COMPLETION):
            return
        assert state.principal is not None and state.redaction is not None, "redact first"
        guards = self.tenants.for_tenant(state.principal.tenant)
        await self._limits(state, guards.settings)
        texts = screened_texts(state)
        if guards.settings.injection.action is not Action.ALLOW:
            await self._injection(state, guards.settings, texts)
        if guards.topics.active and guards.settings.topics.action is not Action.ALLOW:
            await self._topics(state, guards, texts)

    async def _limits(self, state: RequestState, settings: GuardrailSettings) -> None:
        limits, request = settings.limits, state.request
        assert request is not None
        exceeded: tuple[str, str] | None = None
        if (
            limits.max_messages is not None
            and isinstance(request, protocol.ChatCompletionRequest)
            and len(request.messages) > limits.max_messages
        ):
            exceeded = ("max_messages", "messages")
        if exceeded is None and limits.max_body_bytes is not None:
            size = len(request.model_dump_json(exclude_unset=True).encode())
            if size > limits.max_body_bytes:
                exceeded = ("max_body_bytes", "body size")
        if exceeded is None and limits.max_prompt_tokens is not None:
            texts, _ = redacted(state)
            tokens = await asyncio.to_thread(shared_encoder().count_tokens, texts)
            if tokens > limits.max_prompt_tokens:
                exceeded = ("max_prompt_tokens", "prompt tokens")
        if exceeded is None:
            if limits != type(limits)():
                self._verdict(state, "limits", "pass")
            return
        state.guard_detail["limit"] = exceeded[0]
        self._verdict(state, "limits", "block")
        raise InvalidRequest(
            f"The request exceeds this tenant's limit on {exceeded[1]}.",
            "messages" if exceeded[0] != "max_body_bytes" else None,
            "limit_exceeded",
        )

    async def _injection(
        self, state: RequestState, settings: GuardrailSettings, texts: list[str]
    ) -> None:
        injection = settings.injection
        threshold = injection.threshold or self.classifier.threshold
        try:
            result: Screening = await asyncio.to_thread(
                self.classifier.screen, texts, injection.rules
            )
        except Exception as exc:  # fail closed: an unscreened request never reaches a model
            log.error("injection screening failed", extra={"error_type": type(exc).__name__})
            raise UpstreamError("prompt-injection screening is unavailable") from exc
        state.guard_detail["injection_score_milli"] = _milli(result.score)
        if result.rule is not None:
            state.guard_detail["injection_rule"] = result.rule
        if result.score < threshold:
            self._verdict(state, "injection", "pass")
            return
        if injection.action is Action.FLAG:
            self._verdict(state, "injection", "flag")
            return
        self._verdict(state, "injection", "block")
        raise InvalidRequest(
            "The request was blocked by prompt-injection screening.",
            "messages",
            "prompt_injection",
        )

    async def _topics(self, state: RequestState, guards: TenantGuards, texts: list[str]) -> None:
        try:
            found = await asyncio.to_thread(guards.topics.match, texts)
        except Exception as exc:
            log.error("topic screening failed", extra={"error_type": type(exc).__name__})
            raise UpstreamError("blocked-topic screening is unavailable") from exc
        if found is None:
            self._verdict(state, "topic", "pass")
            return
        state.guard_detail["topic_match"] = found.how
        state.guard_detail["topic_score_milli"] = _milli(found.score)
        if guards.settings.topics.action is Action.FLAG:
            self._verdict(state, "topic", "flag")
            return
        self._verdict(state, "topic", "block")
        raise InvalidRequest(
            "The request is about a topic this tenant has blocked.", "messages", "blocked_topic"
        )
