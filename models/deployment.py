"""ModelServer: hosts one engine for one model version (the Ray deployment is a thin shell).

The wire between the gateway and a ModelServer is typed (models/engines/base.py): a
:class:`GenerateRequest` in; out, a stream of :class:`Delta` (the last one with
``finish_reason`` and ``usage``) or, before any text, one :class:`EngineFailure`. Every log line
written while serving a request carries that request's Bastion id.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from models.engines import (
    ContextLengthExceeded,
    Delta,
    Engine,
    EngineError,
    EngineFailure,
    EngineUnavailable,
    FailureKind,
    GenerateRequest,
)
from models.engines.base import Background
from models.engines.chat_template import ChatTemplateError
from models.engines.priority import BACKGROUND, GATE

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
        self.engine.default_max_tokens = default_max_tokens
        self.active = 0
        self.cancelled = 0
        self.completed = 0
        self.background = 0  # background (Batch API) generations served
        self.ready = False

    async def start(self) -> None:
        await self.engine.start()
        self.ready = True
        log.info("model ready", extra={"model": self.engine.info.name})

    def _open(
        self, request: GenerateRequest, background: Background | None
    ) -> AsyncIterator[Delta]:
        mark = BACKGROUND.set(background)  # read by engines that pause between tokens
        try:
            if request.messages is not None:
                return self.engine.chat(request.messages, request.sampling)
            assert request.prompt is not None
            return self.engine.complete(request.prompt, request.sampling)
        finally:
            BACKGROUND.reset(mark)

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta | EngineFailure]:
        """Stream one generation. An interactive one counts on the priority gate until its
        stream ends; a background one first waits while the gate is busy (bounded by its
        ``max_wait_s``; the engine gets what is left of it), see models/engines/priority.py."""
        background = request.background
        if background is None:
            GATE.enter()
        else:
            self.background += 1
            waited = await GATE.wait_idle_async(background.max_wait_s)
            background = Background(max(0.0, background.max_wait_s - waited))
        try:
            async with contextlib.aclosing(self._generate(request, background)) as items:
                async for item in items:
                    yield item
        finally:
            if request.background is None:
                GATE.leave()

    async def _generate(
        self, request: GenerateRequest, background: Background | None
    ) -> AsyncIterator[Delta | EngineFailure]:
        ids = {"request_id": request.request_id}
        try:
            stream = self._open(request, background)
        except ContextLengthExceeded as exc:
            yield EngineFailure(FailureKind.CONTEXT_LENGTH, str(exc))
            return
        except ChatTemplateError as exc:
            yield EngineFailure(FailureKind.INVALID_MESSAGES, str(exc))
            return
        except EngineUnavailable as exc:
            log.error("engine unavailable", extra={**ids, "error_type": type(exc).__name__})
            yield EngineFailure(FailureKind.UNAVAILABLE, str(exc))
            return
        except EngineError as exc:
            log.error("generation refused", extra={**ids, "error_type": type(exc).__name__})
            yield EngineFailure(FailureKind.ENGINE, "the model failed to generate")
            return
        self.active += 1
        log.debug("generation started", extra=ids)
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
                    yield Delta("".join(pending))
                    pending.clear()
                    continue
                finished = True
                yield Delta("".join(pending), delta.finish_reason, delta.usage)
        except ContextLengthExceeded as exc:  # known only once a server answered (engine openai)
            yield EngineFailure(FailureKind.CONTEXT_LENGTH, str(exc))
        except EngineUnavailable as exc:
            log.error("engine unavailable", extra={**ids, "error_type": type(exc).__name__})
            yield EngineFailure(FailureKind.UNAVAILABLE, str(exc))
        except EngineError as exc:
            log.error("generation failed", extra={**ids, "error_type": type(exc).__name__})
            yield EngineFailure(FailureKind.ENGINE, "the model failed to generate")
        finally:
            self.active -= 1
            if finished:
                self.completed += 1
                log.debug("generation finished", extra=ids)
            else:
                self.cancelled += 1
                log.info("generation cancelled", extra=ids)
            await stream.aclose()  # type: ignore[attr-defined]

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
        return {
            "active": self.active,
            "cancelled": self.cancelled,
            "completed": self.completed,
            "background": self.background,
            "interactive": GATE.interactive,  # interactive work in flight in this process
        }
