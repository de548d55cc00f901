"""Stage 8: identifiers the model produced that were not in the request (privacy/output.py).

The answer is scanned in placeholder form, before restore: the request's placeholders pass
through untouched, and an identifier the model invented or recalled becomes a typed marker that
is never restored (``[PERSON_REDACTED]``). Stream-safe: a streamed answer and the same answer
whole give the same text (the scanner's invariant); text is held back only while it could be part
of an identifier. Detection is CPU-bound and runs in a worker thread. A detection failure stops
the stream (fail closed). Per tenant: ``privacy.output_redaction`` (on by default).

A semantic-cache hit whose entry was stored after this scan (``Entry.scanned``) is not scanned
again: the entry is the text that left this stage for an earlier request of the same tenant,
model version and prompt version, so a second scan of it finds nothing new; its
``output_redactions`` is empty (nothing was redacted for this request).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from models.engines.base import Delta
from privacy.output import OutputScanner, scanner_for
from serving.observability import METRICS
from serving.pipeline.stage import Stage
from serving.pipeline.state import Item, RequestState

if TYPE_CHECKING:
    from privacy import Redactor

__all__ = ["OutputRedaction"]


def _scan(scanner: OutputScanner, text: str, final: bool) -> str:
    out = scanner.feed(text)
    return out + scanner.flush() if final else out


def _scanned_hit(state: RequestState) -> bool:
    cached = state.cache
    return (
        cached is not None
        and cached.result == "hit"
        and cached.hit is not None
        and cached.hit.entry.scanned
    )


class OutputRedaction(Stage):
    """Owns ``output_redactions`` (count by entity type; None when the answer was not scanned)
    and ``output_degraded``."""

    name = "output_redaction"

    def __init__(self, redactor: Redactor | None) -> None:
        self.redactor = redactor

    def _scanner(self, state: RequestState) -> OutputScanner | None:
        if self.redactor is None or state.principal is None or state.redaction is None:
            return None
        return scanner_for(self.redactor, state.principal.tenant, state.redaction)

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        scanner = self._scanner(state)
        if scanner is None:  # the tenant turned it off (or nothing to scan: embeddings)
            async for item in items:
                yield item
            return
        if _scanned_hit(state):  # stored as it left this stage: nothing new to find
            state.output_redactions = {}
            async for item in items:
                yield item
            return
        state.output_redactions = {}
        try:
            async for item in items:
                if not isinstance(item, Delta):
                    yield item
                    continue
                final = item.finish_reason is not None
                text = await asyncio.to_thread(_scan, scanner, item.text, final)
                state.output_redactions = dict(scanner.counts)
                state.output_degraded = scanner.degraded
                yield Delta(text, item.finish_reason, item.usage)
        finally:
            for kind, count in scanner.counts.items():
                METRICS.output_redactions.labels(kind).inc(count)
            if scanner.degraded:
                METRICS.degraded.labels("output").inc()
