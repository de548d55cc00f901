"""Stage 9: placeholders back to the request's own values — incrementally while streaming,
holding back only what could begin a placeholder (privacy.StreamRestorer), so a whole answer
and the same answer streamed restore to the same text.

A structured answer (``response_format`` JSON) was validated in placeholder form, so every
placeholder in it lies inside a JSON string: each value is restored JSON-escaped (quotes,
backslashes, control characters), and the restored answer is checked once more before its
final item is released (serving/pipeline/structured.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from models.engines.base import Delta
from privacy.pseudonymize import StreamRestorer
from serving.pipeline.stage import Stage
from serving.pipeline.state import Item, RequestState
from serving.pipeline.structured import check_restored, declared_schema

__all__ = ["Restore", "json_restorer"]


def json_escaped(value: str) -> str:
    """``value`` as the inside of a JSON string."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def json_restorer(mapping: dict[str, str]) -> StreamRestorer:
    """A stream restorer whose values come out JSON-escaped (for answers that are JSON)."""
    return StreamRestorer({key: json_escaped(value) for key, value in mapping.items()})


class Restore(Stage):
    """Owns ``output``: the answer as it reaches this stage — in placeholder form, after output
    redaction and the output guard — which is all that audit content capture may keep."""

    name = "restore"

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        structured = declared_schema(state) is not None
        restored: list[str] = []  # structured answers only: the text the client gets
        if state.redaction is None:  # nothing was redacted, nothing to restore
            async for item in items:
                if isinstance(item, Delta):
                    state.output.append(item.text)
                    if structured:
                        restored.append(item.text)
                        if item.finish_reason is not None:
                            check_restored(state, "".join(restored))
                yield item
            return
        if structured:
            # the private mapping is read here only to escape its values for JSON
            restorer = json_restorer(state.redaction._mapping)
        else:
            restorer = state.redaction.stream_restorer()
        async for item in items:
            if not isinstance(item, Delta):
                yield item
                continue
            state.output.append(item.text)
            text = restorer.feed(item.text)
            if item.finish_reason is not None:
                text += restorer.flush()
            if structured:
                restored.append(text)
                if item.finish_reason is not None:
                    check_restored(state, "".join(restored))
            yield Delta(text, item.finish_reason, item.usage)
