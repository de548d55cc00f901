"""Shared fixtures: one event loop thread, the bundled models loaded once per session."""

from __future__ import annotations

import asyncio
import os
import threading
import time
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


@pytest.fixture(autouse=True)
def _interactive_work_is_not_left_counted(request: pytest.FixtureRequest) -> Iterator[None]:
    """Interactive work counted on this process's priority gate (models/engines/priority.py)
    must be uncounted by the end of the test that started it: a count left behind would hold
    every later batch line back (the batch tests found it so)."""
    from models.engines.priority import GATE

    before = GATE.interactive
    yield
    for _ in range(200):  # a stream closed by the garbage collector leaves on the loop shortly
        if GATE.interactive == before:
            return
        time.sleep(0.01)
    pytest.fail(
        f"{request.node.nodeid} left interactive work counted on the priority gate "
        f"({before} before, {GATE.interactive} after): a model stream was not closed"
    )
