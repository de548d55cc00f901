"""Stage 9: placeholders back to the request's own values — incrementally while streaming,
holding back only what could begin a placeholder (privacy.StreamRestorer), so a whole answer
and the same answer streamed restore to the same text."""

from __future__ import annotations

from collections.abc import AsyncIterator

from models.engines.base import Delta
from serving.pipeline.stage import Stage
from serving.pipeline.state import Item, RequestState

__all__ = ["Restore"]


class Restore(Stage):
    """Owns ``output``: the answer as it reaches this stage — in placeholder form, after output
    redaction and the output guard — which is all that audit content capture may keep."""

    name = "restore"

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        if state.redaction is None:  # nothing was redacted, nothing to restore
            async for item in items:
                if isinstance(item, Delta):
                    state.output.append(item.text)
                yield item
            return
        restorer = state.redaction.stream_restorer()
        async for item in items:
            if not isinstance(item, Delta):
                yield item
                continue
            state.output.append(item.text)
            text = restorer.feed(item.text)
            if item.finish_reason is not None:
                text += restorer.flush()
            yield Delta(text, item.finish_reason, item.usage)
