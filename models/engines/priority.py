"""Interactive work first: background generations (Batch API lines) yield to interactive ones.

``GATE`` counts the interactive work in flight in this process: a model server counts its
interactive generations from their arrival to the end of their stream (models/deployment.py),
and an ingress running in the same process counts its interactive requests from their arrival
(serving/batch/priority.py), so that a background generation on an in-process engine yields
before the interactive request's own redaction has even finished.

A generation is background when its :class:`~models.engines.base.GenerateRequest` carries a
:class:`~models.engines.base.Background` (the mark travels with the request to the model
server, over Ray or in process). The model server holds it back before it starts while the
gate is busy; an engine that can pause between tokens (llama.cpp) also stops after its current
token, or its current prefill chunk, when interactive work arrives, gives the engine up, and
resumes once the gate is idle. All of it is bounded: a background generation waits at most
``Background.max_wait_s`` seconds in all; after that it runs to its end like any other.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextvars import ContextVar

from models.engines.base import Background

__all__ = ["BACKGROUND", "GATE", "PriorityGate"]


class PriorityGate:
    """A count of interactive work in flight; thread-safe (engines read it on their thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._interactive = 0

    @property
    def interactive(self) -> int:
        return self._interactive

    def busy(self) -> bool:
        return self._interactive > 0

    def enter(self) -> None:
        with self._lock:
            self._interactive += 1

    def leave(self) -> None:
        with self._lock:
            self._interactive -= 1

    async def wait_idle_async(self, timeout_s: float, step_s: float = 0.002) -> float:
        """Wait on the event loop (polling every ``step_s``) until no interactive work is in
        flight, at most ``timeout_s``; the seconds waited."""
        start = time.monotonic()
        deadline = start + max(0.0, timeout_s)
        while self._interactive > 0 and time.monotonic() < deadline:
            await asyncio.sleep(step_s)
        return time.monotonic() - start


GATE = PriorityGate()

# The background mark of the generation being opened: set by the model server around the
# engine's (synchronous) ``chat``/``complete`` call, read by engines that pause between tokens.
BACKGROUND: ContextVar[Background | None] = ContextVar("bastion_background", default=None)
