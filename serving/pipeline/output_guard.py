"""Stage 9: the output guard (after output redaction, before restore): system-prompt leakage
and blocked output content, per tenant (policies/guardrails/output.py, docs/guardrails.md).

It reads the answer in placeholder form and compares it with the request's system and
developer messages, also redacted, so no identifier is involved. Stream-safe: text is released
only once final, within a bounded hold-back window (the last ``leakage.min_words - 1`` words;
``blocked_output.hold_back_chars``), and a streamed answer equals the same answer whole. A leak
is redacted (``[SYSTEM_PROMPT_REDACTED]``) or stops the answer; blocked content stops it. A
stopped answer is a 400 (``system_prompt_leakage`` or ``blocked_output``), mid-stream one error
event and ``[DONE]``; the audit record names the stage, the code and the verdicts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from models.engines.base import Delta
from policies.guardrails.output import ContentScanner, LeakScanner, OutputBlocked
from policies.guardrails.settings import LeakageAction
from policies.guardrails.tenants import TenantGuardrails
from serving import protocol
from serving.observability import METRICS
from serving.pipeline.errors import InvalidRequest
from serving.pipeline.redact import redacted
from serving.pipeline.stage import Stage
from serving.pipeline.state import Item, RequestState, Route

if TYPE_CHECKING:
    from policies.decide import PolicyEngine

__all__ = ["OutputGuard", "system_prompt"]

_MESSAGES = {
    "leakage": ("The answer was stopped: it repeated the system prompt.", "system_prompt_leakage"),
    "blocked_output": (
        "The answer was stopped: it contained content this tenant has blocked.",
        "blocked_output",
    ),
}


def system_prompt(state: RequestState) -> str:
    """The request's system and developer messages, redacted, joined."""
    request = state.request
    if not isinstance(request, protocol.ChatCompletionRequest) or state.redaction is None:
        return ""
    texts, _ = redacted(state)
    return "\n".join(
        text
        for message, text in zip(request.messages, texts, strict=True)
        if message.role in ("system", "developer")
    )


class OutputGuard(Stage):
    """Owns ``guardrails`` (with the input guard) and ``guard_detail`` for its guards."""

    name = "output_guard"

    def __init__(self, policy: PolicyEngine) -> None:
        self.tenants = TenantGuardrails(policy)

    def _verdict(self, state: RequestState, guard: str, verdict: str) -> None:
        assert state.principal is not None
        state.guardrails[guard] = verdict
        metric = "flag" if verdict == "redact" else verdict  # the metric's bounded set
        METRICS.guardrail_verdicts.labels(state.principal.tenant, guard, metric).inc()

    def _scanners(self, state: RequestState) -> tuple[LeakScanner | None, ContentScanner | None]:
        if state.route not in (Route.CHAT, Route.COMPLETION) or state.principal is None:
            return None, None
        settings = self.tenants.for_tenant(state.principal.tenant).settings
        leak: LeakScanner | None = None
        if settings.leakage.action is not LeakageAction.ALLOW:
            redact = settings.leakage.action is LeakageAction.REDACT
            leak = LeakScanner(system_prompt(state), settings.leakage.min_words, redact)
            leak = leak if leak.active else None
        out = settings.blocked_output
        content = ContentScanner(out.phrases, out.patterns, out.hold_back_chars)
        return leak, content if content.active else None

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        leak, content = self._scanners(state)
        if leak is None and content is None:
            async for item in items:
                yield item
            return
        async for item in items:
            if not isinstance(item, Delta):
                yield item
                continue
            final = item.finish_reason is not None
            try:
                text = item.text
                if leak is not None:
                    text = leak.feed(text) + (leak.flush() if final else "")
                if content is not None:
                    text = content.feed(text) + (content.flush() if final else "")
            except OutputBlocked as blocked:
                self._verdict(state, blocked.guard, "block")
                message, code = _MESSAGES[blocked.guard]
                raise InvalidRequest(message, None, code) from None
            if final:
                if leak is not None:
                    self._verdict(state, "leakage", "redact" if leak.leaked else "pass")
                if content is not None:
                    self._verdict(state, "blocked_output", "pass")
            yield Delta(text, item.finish_reason, item.usage)
