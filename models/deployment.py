"""ModelServer: hosts one engine for one model version (the Ray deployment is a thin shell).

The wire format between the gateway and a ModelServer is plain dicts so it crosses Ray process
boundaries without pickling exception classes:
- request: ``{"messages": [...]} | {"prompt": str}`` plus ``max_tokens`` (or None), ``temperature``,
  ``top_p``, ``stop`` (list), ``seed``;
- stream items: ``{"text": str}``, then a last ``{"text", "finish_reason", "usage": [p, c]}``;
  or, before any text, ``{"error": {"kind": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from models.engines import (
    ContextLengthExceeded,
    Engine,
    EngineError,
    EngineUnavailable,
    GenerationRequest,
)
from models.engines.chat_template import ChatTemplateError

__all__ = ["ModelServer"]

log = logging.getLogger("bastion.model")


class ModelServer:
    def __init__(
        self, engine: Engine, default_max_tokens: int = 256, min_chunk_interval_s: float = 0.02
    ) -> None:
        self.engine = engine
        # After the first delta, text is sent at most every `min_chunk_interval_s`: each chunk
        # crosses three processes (replica, ingress, proxy), so merging tokens that arrive
        # within one interval saves CPU the engine needs, at the cost of <= one interval.
        self.min_chunk_interval_s = min_chunk_interval_s
        self.default_max_tokens = default_max_tokens
        self.active = 0
        self.cancelled = 0
        self.completed = 0
        self.ready = False

    async def start(self) -> None:
        await self.engine.start()
        self.ready = True
        log.info("model ready", extra={"model": self.engine.info.name})

    def _request(self, payload: dict[str, Any]) -> GenerationRequest:
        if "messages" in payload:
            prompt = self.engine.render_chat(payload["messages"])
        else:
            prompt = payload["prompt"]
        max_tokens = payload.get("max_tokens")
        if max_tokens is None:
            room = self.engine.info.context_length - self.engine.count_tokens(prompt)
            max_tokens = max(1, min(self.default_max_tokens, room))
        return GenerationRequest(
            prompt=prompt,
            max_tokens=int(max_tokens),
            temperature=float(payload.get("temperature", 1.0)),
            top_p=float(payload.get("top_p", 1.0)),
            stop=tuple(payload.get("stop") or ()),
            seed=payload.get("seed"),
        )

    async def generate(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            stream = self.engine.generate(self._request(payload))
        except ContextLengthExceeded as exc:
            yield {"error": {"kind": "context_length", "message": str(exc)}}
            return
        except ChatTemplateError as exc:
            yield {"error": {"kind": "invalid_messages", "message": str(exc)}}
            return
        except EngineUnavailable as exc:
            yield {"error": {"kind": "unavailable", "message": str(exc)}}
            return
        self.active += 1
        finished = False
        pending: list[str] = []
        sent_at: float | None = None
        try:
            async for delta in stream:
                pending.append(delta.text)
                now = time.monotonic()
                if delta.finish_reason is None:
                    if sent_at is not None and now - sent_at < self.min_chunk_interval_s:
                        continue
                    sent_at = now
                    yield {"text": "".join(pending)}
                    pending.clear()
                    continue
                usage = delta.usage
                finished = True
                yield {
                    "text": "".join(pending),
                    "finish_reason": delta.finish_reason,
                    "usage": [usage.prompt_tokens, usage.completion_tokens] if usage else [0, 0],
                }
        except EngineError as exc:
            log.error("generation failed", extra={"error_type": type(exc).__name__})
            yield {"error": {"kind": "engine", "message": "the model failed to generate"}}
        finally:
            self.active -= 1
            if finished:
                self.completed += 1
            else:
                self.cancelled += 1
            await stream.aclose()

    async def info(self) -> dict[str, Any]:
        info = self.engine.info
        return {
            "name": info.name,
            "version": info.version,
            "engine": info.engine,
            "context_length": info.context_length,
            "ready": self.ready,
        }

    async def health(self) -> bool:
        await self.engine.check_health()
        return self.ready

    async def stats(self) -> dict[str, int]:
        return {"active": self.active, "cancelled": self.cancelled, "completed": self.completed}
