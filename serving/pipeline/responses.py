"""OpenAI response shapes from the pipeline's item stream: ``chunks`` for a streamed answer,
``whole`` for the same stream collected. One code path: a whole answer is never produced any
other way than by reading the stream to its end."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from models.engines.base import Delta, Usage
from serving import protocol
from serving.pipeline.errors import UpstreamError
from serving.pipeline.state import Embeddings, Item, RequestState, Route

__all__ = ["chunks", "whole"]


def _usage(usage: Usage, state: RequestState | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    spent = state.spent if state is not None else None
    if spent is not None:  # settled by serving/pipeline/usage.py: cached tokens known
        body["prompt_tokens_details"] = {"cached_tokens": spent.cached}
    return body


def _response_id(state: RequestState) -> str:
    return ("chatcmpl-" if state.route is Route.CHAT else "cmpl-") + state.request_id


def _model(state: RequestState) -> str:
    assert state.request is not None
    return state.request.model


async def chunks(state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[dict[str, Any]]:
    """Stream chunks: (chat) the assistant role first, then text, one chunk with the finish
    reason, and (``stream_options.include_usage``) a last chunk with the usage."""
    chat = state.route is Route.CHAT
    rid, model, created = _response_id(state), _model(state), int(time.time())
    request = state.request
    include_usage = isinstance(
        request, protocol.ChatCompletionRequest | protocol.CompletionRequest
    ) and bool(request.include_usage())

    def chunk(text: str | None, finish: str | None = None, usage: Usage | None = None) -> dict:
        body: dict[str, Any] = {
            "id": rid,
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": created,
            "model": model,
        }
        if text is None:
            body["choices"] = []
        elif chat:
            delta = {"content": text} if text else {}
            body["choices"] = [
                {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            ]
        else:
            body["choices"] = [
                {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
            ]
        if usage is not None:
            body["usage"] = _usage(usage, state)
        return body

    if chat:
        role = chunk("")
        role["choices"][0]["delta"] = {"role": "assistant", "content": ""}
        yield role
    first = True
    async for item in items:
        assert isinstance(item, Delta)
        if item.finish_reason is None:
            if item.text or first:  # the first piece goes out at once, even if held back
                yield chunk(item.text)
            first = False
            continue
        if item.text:
            yield chunk(item.text)
        yield chunk("", item.finish_reason)
        if include_usage:
            yield chunk(None, usage=item.usage or Usage(0, 0))
        return


def _encode(vector: list[float], fmt: str) -> list[float] | str:
    if fmt == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


async def whole(state: RequestState, items: AsyncIterator[Item]) -> dict[str, Any]:
    """The whole response: the stream, collected."""
    parts: list[str] = []
    last: Item | None = None
    async for item in items:
        last = item
        if isinstance(item, Delta):
            parts.append(item.text)
    if isinstance(last, Embeddings):
        request = state.request
        assert isinstance(request, protocol.EmbeddingRequest)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(v, request.encoding_format)}
            for i, v in enumerate(last.vectors)
        ]
        tokens = last.usage.prompt_tokens
        return {
            "object": "list",
            "data": data,
            "model": request.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    if not isinstance(last, Delta) or last.finish_reason is None:
        raise UpstreamError("the model stream ended early")
    usage = _usage(last.usage or Usage(0, 0), state)
    text = "".join(parts)
    if state.route is Route.CHAT:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": last.finish_reason,
            "logprobs": None,
        }
        kind = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "finish_reason": last.finish_reason, "logprobs": None}
        kind = "text_completion"
    return {
        "id": _response_id(state),
        "object": kind,
        "created": int(time.time()),
        "model": _model(state),
        "choices": [choice],
        "usage": usage,
    }
