"""The stage protocol and the runner that drives an ordered list of stages over one request.

A stage may act before the model is called (``before``: read the state, fill its own fields, or
stop the request by raising a typed error) and may wrap the stream of items on the way back
(``wrap``). The runner calls every ``before`` in list order, then composes the ``wrap``s in list
order: the stream produced by one stage is what the next stage wraps, so the last stage (audit)
sees what the client will get. A whole response is the same stream, collected.

Exactly one stage records the request (:class:`Recorder`, the audit stage) and it is the last one:
when a ``before`` stops the request, the runner hands it the stage and the error first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any, Protocol, runtime_checkable

from serving.pipeline.state import Item, RequestState

__all__ = ["Pipeline", "Recorder", "Stage", "StageFailure", "outlive_cancellation"]

log = logging.getLogger("bastion.gateway")


async def outlive_cancellation(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end although the task awaiting it is being cancelled.

    A client's disconnect reaches the request as a cancellation, and under Starlette's task
    group (anyio) a cancelled task is cancelled again at every later await: one
    ``asyncio.shield`` survives only the first, and a record written after it never was. So
    the work runs as its own task, and this waits for it through every cancellation (the
    caller re-raises its own once it returns)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue  # cancelled again while the work runs: keep waiting


class Stage:
    """Base class of every stage; the default hooks do nothing."""

    name: str = "stage"

    async def before(self, state: RequestState) -> None:
        """Act before the model is called; raise a typed error to stop the request."""

    def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        """Transform the stream of items on the way back (default: unchanged)."""
        return items

    async def release(self, state: RequestState) -> None:
        """Free what ``before`` acquired, when a later stage stops the request."""


@runtime_checkable
class Recorder(Protocol):
    """The stage that records every request (durably, before the final item is released)."""

    async def stopped(self, state: RequestState, stage: str, error: BaseException) -> None:
        """Record a request that ``stage`` stopped with ``error``; raises if it cannot."""
        ...

    async def disconnected(self, state: RequestState, stage: str | None = None) -> None:
        """Record a request whose client went away (never raises: nobody is left to tell)."""
        ...


class StageFailure(Exception):
    """Carries which stage's ``wrap`` raised ``error`` (the recorder unwraps it)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage)
        self.stage = stage
        self.error = error


async def _nothing() -> AsyncIterator[Item]:
    return
    yield  # an empty async generator


async def _named(
    name: str, items: AsyncIterator[Item], inner: AsyncIterator[Item] | None = None
) -> AsyncIterator[Item]:
    """The stage's stream, its failures named; closing it closes the stage's stream, then the
    stream the stage wrapped (``inner``), so every stage finalises in order, at once."""
    try:
        async for item in items:
            yield item
    except StageFailure:
        raise
    except Exception as exc:
        raise StageFailure(name, exc) from exc
    finally:
        for stream in (items, inner):
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


class Pipeline:
    """An ordered list of stages, the last of which records the request."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages or not isinstance(stages[-1], Recorder):
            raise ValueError("the last stage of a pipeline records the request (audit)")
        self.stages = tuple(stages)
        self.recorder: Recorder = stages[-1]  # type: ignore[assignment]

    @property
    def names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    async def open(self, state: RequestState) -> AsyncIterator[Item]:
        """Run every stage's ``before``; return the wrapped stream of items.

        When a stage stops the request, the request is recorded (stage and error type) and the
        stage's error is raised; if it cannot be recorded, the recorder's error is raised.
        """
        ran: list[Stage] = []
        for stage in self.stages:
            try:
                await stage.before(state)
            except Exception as exc:
                for done in reversed(ran):
                    await done.release(state)
                await self.recorder.stopped(state, stage.name, exc)
                raise
            except BaseException:  # cancelled: the client went away before the stream began
                await outlive_cancellation(self._abandoned(state, [*ran, stage], stage.name))
                raise
            ran.append(stage)
        items: AsyncIterator[Item] = _nothing()
        last = len(self.stages) - 1
        for i, stage in enumerate(self.stages):
            if type(stage).wrap is Stage.wrap:
                continue
            wrapped = stage.wrap(state, items)
            if i != last:  # the recorder unwraps failures; it is never named itself
                wrapped = _named(stage.name, wrapped, items)
            items = wrapped
        return items

    async def abandon(self, state: RequestState) -> None:
        """Record a request whose stream was opened but never read (the server dropped the
        response before its first byte, the client having gone), and free what every stage
        acquired: no stage's ``wrap`` ran, so nothing else would."""
        await self._abandoned(state, list(self.stages), None)

    async def _abandoned(self, state: RequestState, ran: list[Stage], stage: str | None) -> None:
        """Free what the stages hold (the interrupted one included: its ``release`` frees
        whatever it got as far as acquiring) and record the request as disconnected."""
        for done in reversed(ran):
            try:
                await done.release(state)
            except Exception as exc:  # the record still comes first; the type only, no text
                log.error("release failed", extra={"error_type": type(exc).__name__})
        await self.recorder.disconnected(state, stage)

    async def reject(self, state: RequestState, stage: str, error: BaseException) -> None:
        """Record a request stopped before it reached the pipeline (unknown path, bad method)."""
        await self.recorder.stopped(state, stage, error)
