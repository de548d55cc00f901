"""Stage 5: the model version that serves the request, within what policy allowed; it must be
deployed here and its site must have capacity (otherwise 503 at once, never a queue)."""

from __future__ import annotations

from typing import Protocol

from models.registry import ModelNotFound, Registry
from serving.pipeline.errors import ModelUnavailable
from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState, Route

__all__ = ["RouteToModel", "Sites", "StaticSites"]


class Sites(Protocol):
    """Which sites currently have capacity (nodes advertising ``site:<id>``)."""

    def available(self, site: str) -> bool: ...


class StaticSites:
    def __init__(self, sites: set[str]) -> None:
        self.sites = sites

    def available(self, site: str) -> bool:
        return site in self.sites


class RouteToModel(Stage):
    """Owns ``model``."""

    name = "route"

    def __init__(self, registry: Registry, sites: Sites) -> None:
        self.registry = registry
        self.sites = sites

    async def before(self, state: RequestState) -> None:
        decision, request = state.decision, state.request
        assert decision is not None and request is not None, "decide first"
        kind = "embed" if state.route is Route.EMBEDDING else "generate"
        model = self.registry.get(decision.model_version or "")
        if model is None or model.kind != kind:
            if model is None and kind == "generate":
                raise ModelUnavailable("the model version policy selected is not deployed here")
            raise ModelNotFound(request.model)
        state.model = model
        if not self.sites.available(model.site):
            raise ModelUnavailable(
                f"model version {model.key} is pinned to site {model.site}, which has no "
                "capacity in this cluster"
            )
