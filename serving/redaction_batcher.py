"""Cross-request batching of identifier detection inside one ingress replica.

Requests that arrive while a detection batch is running wait for it to finish and then go
together through one ``Redactor.redact_batch`` call (one spaCy ``pipe``). An idle replica starts
a request's detection at once, so batching adds no latency at low load.
"""

from __future__ import annotations

import asyncio
from typing import Any

from privacy import RedactionResult, Redactor

__all__ = ["RedactionBatcher"]


class RedactionBatcher:
    def __init__(self, redactor: Redactor, max_batch: int = 16) -> None:
        self.redactor = redactor
        self.max_batch = max_batch
        self._pending: list[tuple[list[str], str, asyncio.Future[Any]]] = []
        self._running = False
        self.batches = 0  # batches run (for tests and metrics)

    async def redact(self, texts: list[str], tenant: str) -> RedactionResult:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((texts, tenant, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                self.batches += 1
                try:
                    results = await asyncio.to_thread(
                        self.redactor.redact_batch,
                        [texts for texts, _, _ in batch],
                        [tenant for _, tenant, _ in batch],
                        return_exceptions=True,
                    )
                except Exception as exc:  # the whole batch failed: fail each request closed
                    results = [exc] * len(batch)
                for (_, _, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._running = False
