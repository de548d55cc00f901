"""Helpers shared by engines: stop-sequence handling and the thread → asyncio token bridge."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from models.engines.base import Delta

__all__ = ["StopMatcher", "stream_from_thread"]

_END = object()


class StopMatcher:
    """Feeds generated text and releases what cannot be the start of a stop sequence.

    ``feed`` returns ``(safe_text, stopped)``; once ``stopped`` is true the text after the stop
    sequence is dropped, as OpenAI's API does.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        if not self._stops:
            return text, False
        self._pending += text
        cut = min((i for i in (self._pending.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self._pending = self._pending[:cut], ""
            return out, True
        hold = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(self._pending)), 0, -1):
                if self._pending.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        split = len(self._pending) - hold
        out, self._pending = self._pending[:split], self._pending[split:]
        return out, False

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return out


async def stream_from_thread(
    executor: ThreadPoolExecutor,
    produce: Callable[[threading.Event], Iterator[Delta]],
) -> AsyncIterator[Delta]:
    """Run the blocking iterator ``produce(cancel)`` on ``executor`` and yield its deltas.

    Deltas that pile up while the consumer is busy are merged into one, so a slow consumer costs
    fewer hops instead of more latency. When the consumer stops early the ``cancel`` event is set;
    ``produce`` MUST check it after every token so the engine is freed promptly.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    cancel = threading.Event()

    def run() -> None:
        try:
            if cancel.is_set():
                return
            for delta in produce(cancel):
                loop.call_soon_threadsafe(queue.put_nowait, delta)
                if cancel.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _END)

    future = loop.run_in_executor(executor, run)
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Delta)
            text, last = [item.text], item
            while last.finish_reason is None and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is _END or isinstance(nxt, BaseException):
                    queue.put_nowait(nxt)  # handled on the next turn
                    break
                assert isinstance(nxt, Delta)
                text.append(nxt.text)
                last = nxt
            yield Delta("".join(text), last.finish_reason, last.usage)
    finally:
        cancel.set()
        if not future.done():
            future.add_done_callback(lambda f: f.exception())
