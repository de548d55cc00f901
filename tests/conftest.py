"""Shared fixtures: one event loop thread, the bundled models loaded once per session."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

T = TypeVar("T")


class LoopThread:
    """A persistent event loop on a background thread, so session-scoped async objects (engines,
    gateways) can be shared by plain synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="session")
def aio() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def llama_engine(aio: LoopThread) -> Any:
    from models.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine("smollm2-135m-instruct", "v1", context_length=2048, threads=2)
    aio.run(engine.start())
    return engine


@pytest.fixture(scope="session")
def embedder() -> Any:
    from models.embeddings import Embedder

    emb = Embedder()
    emb.start()
    return emb


async def collect(stream: Any) -> list[Any]:
    return [item async for item in stream]


Collect = Callable[[Any], Awaitable[list[Any]]]
