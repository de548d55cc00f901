"""Batch work yields to interactive traffic: a count of the interactive inference requests in
flight on this replica (an ASGI middleware keeps it), and a wait the worker takes before each
line. Same event loop as the app, so a plain counter is exact.

The middleware also holds this process's priority gate (models/engines/priority.py) while an
interactive request runs, so a batch line generating on an engine in this process pauses from
the request's arrival on; a model server in another process (Ray) keeps its own gate, counting
the interactive generations it serves."""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from models.engines.priority import GATE, PriorityGate

__all__ = ["INTERACTIVE", "InteractiveGauge", "InteractiveTraffic"]

PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings"})


class InteractiveTraffic:
    def __init__(self) -> None:
        self.in_flight = 0

    async def wait_idle(self, max_wait_s: float, step_s: float = 0.005) -> None:
        """Return once no interactive request is in flight, or after ``max_wait_s``."""
        deadline = time.monotonic() + max_wait_s
        while self.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(step_s)

    async def arrival(self, step_s: float = 0.002) -> None:
        """Return once an interactive request is in flight."""
        while self.in_flight == 0:
            await asyncio.sleep(step_s)


INTERACTIVE = InteractiveTraffic()


class InteractiveGauge:
    """Counts this replica's interactive inference requests while they run (streams included)."""

    def __init__(
        self, app: ASGIApp, traffic: InteractiveTraffic = INTERACTIVE, gate: PriorityGate = GATE
    ) -> None:
        self.app = app
        self.traffic = traffic
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in PATHS:
            await self.app(scope, receive, send)
            return
        self.traffic.in_flight += 1
        self.gate.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave()
            self.traffic.in_flight -= 1
