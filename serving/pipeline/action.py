"""The work of a non-inference route (model listing, admin, audit API, metrics) as a stage:
it runs after authentication and before the audit stage, so these routes are authenticated
and recorded exactly like inference."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState

__all__ = ["Action"]


class Action(Stage):
    """Owns ``result`` and ``detail``: ``work(state)`` returns the route's result and may set
    ``state.detail`` (facts for the audit record: tokens and counts only)."""

    name = "action"

    def __init__(self, work: Callable[[RequestState], Awaitable[Any]]) -> None:
        self.work = work

    async def before(self, state: RequestState) -> None:
        state.result = await self.work(state)
