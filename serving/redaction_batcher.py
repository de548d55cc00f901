"""Cross-request batching of identifier detection inside one ingress replica.

Requests that arrive while a detection batch is running wait for it to finish and then go
together through one ``Redactor.redact_batch`` call (one spaCy ``pipe``). An idle replica starts
a request's detection at once, so batching adds no latency at low load.

Batching is fair: a batch holds at most ``max_texts`` texts and ``max_chars`` characters (and
``max_batch`` requests). A request larger than that is redacted alone, in a lane of its own that
runs beside the lane of ordinary requests, so one huge request never holds a small one back
(a request is indivisible: its texts share one placeholder mapping).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from privacy import RedactionResult, Redactor

__all__ = ["RedactionBatcher"]


@dataclass
class _Lane:
    name: str
    pending: deque[tuple[list[str], str, asyncio.Future[Any]]] = field(default_factory=deque)
    running: bool = False


class RedactionBatcher:
    def __init__(
        self,
        redactor: Redactor,
        max_batch: int = 16,
        max_texts: int = 64,
        max_chars: int = 32_768,
    ) -> None:
        self.redactor = redactor
        self.max_batch = max_batch
        self.max_texts = max_texts
        self.max_chars = max_chars
        self._small = _Lane("small")
        self._large = _Lane("large")
        self.batches = 0  # batches run (for tests and metrics)
        # Recent batch events, oldest first: ("start" | "end", lane, texts per request).
        self.events: deque[tuple[str, str, tuple[int, ...]]] = deque(maxlen=1024)

    def _fits(self, texts: list[str]) -> bool:
        return len(texts) <= self.max_texts and sum(map(len, texts)) <= self.max_chars

    async def redact(self, texts: list[str], tenant: str) -> RedactionResult:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        lane = self._small if self._fits(texts) else self._large
        lane.pending.append((texts, tenant, future))
        if not lane.running:
            lane.running = True
            asyncio.get_running_loop().create_task(self._drain(lane))
        return await future

    def _next_batch(self, lane: _Lane) -> list[tuple[list[str], str, asyncio.Future[Any]]]:
        batch = [lane.pending.popleft()]
        if lane is self._large:
            return batch  # alone
        texts, chars = len(batch[0][0]), sum(map(len, batch[0][0]))
        while lane.pending and len(batch) < self.max_batch:
            nxt = lane.pending[0][0]
            texts, chars = texts + len(nxt), chars + sum(map(len, nxt))
            if texts > self.max_texts or chars > self.max_chars:
                break
            batch.append(lane.pending.popleft())
        return batch

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.pending:
                batch = self._next_batch(lane)
                self.batches += 1
                sizes = tuple(len(texts) for texts, _, _ in batch)
                self.events.append(("start", lane.name, sizes))
                try:
                    results = await asyncio.to_thread(
                        self.redactor.redact_batch,
                        [texts for texts, _, _ in batch],
                        [tenant for _, tenant, _ in batch],
                        return_exceptions=True,
                    )
                except Exception as exc:  # the whole batch failed: fail each request closed
                    results = [exc] * len(batch)
                self.events.append(("end", lane.name, sizes))
                for (_, _, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            lane.running = False
