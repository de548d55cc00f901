"""Selection and routing: which model version (and prompt template) serves the request.

- **select** (after validate, before redact): a model named by a registry alias (``prod``,
  ``canary``…) becomes one version of the alias's split, sticky per end user (the OpenAI
  ``user`` field, else the ``x-bastion-user`` header, else the key id); a ``prompt`` reference
  becomes one template version (directly, newest by name, or through a prompt alias), rendered
  with its variables into a first system message *before* redaction, so variables are redacted
  like any message. Policy then decides on the chosen version (decide stage), so an alias never
  reaches a version the tenant may not use: it is denied or rerouted as a direct request would be.
- **route** (stage 5): the version policy allowed must be deployed here and its site must have
  capacity (otherwise 503 at once, never a queue).

The end user's value is only hashed to pick an arm; it is never stored, logged or recorded.
"""

from __future__ import annotations

from typing import Protocol

from models.aliases import choose
from models.prompts import PromptError, PromptRef, render
from models.registry import ModelNotFound, Registry
from serving import protocol
from serving.pipeline.errors import InvalidRequest, ModelUnavailable
from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState, Route

__all__ = ["RouteToModel", "SelectVersion", "Sites", "StaticSites"]


class Sites(Protocol):
    """Which sites currently have capacity (nodes advertising ``site:<id>``)."""

    def available(self, site: str) -> bool: ...


class StaticSites:
    def __init__(self, sites: set[str]) -> None:
        self.sites = sites

    def available(self, site: str) -> bool:
        return site in self.sites


def _subject(state: RequestState) -> str:
    """Who a split is sticky for: the end user the client names, else its key."""
    user = getattr(state.request, "user", None)
    if user:
        return user
    if state.end_user:
        return state.end_user
    return state.principal.key_id if state.principal is not None else ""


class SelectVersion(Stage):
    """Owns ``alias_version``, ``variant``, ``prompt_version``; writes ``request`` once, to put
    the rendered prompt template first (before anything is redacted or decided)."""

    name = "select"

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def before(self, state: RequestState) -> None:
        request = state.request
        assert request is not None, "validate first"
        arms: list[str] = []
        assignment = self.registry.aliases.get(request.model)
        if assignment is not None and self.registry.targets().get(assignment.arms[0][0]) == (
            "model"
        ):
            version = choose(assignment, _subject(state))
            state.alias_version = version
            arms.append(f"{assignment.alias}/{version}")
        # Only a chat request names a template (a completion's `prompt` is its text).
        chat = isinstance(request, protocol.ChatCompletionRequest)
        ref: PromptRef | None = request.prompt if chat else None  # type: ignore[union-attr]
        if ref is not None:
            template, arm = self._template(ref, state)
            if arm is not None:
                arms.append(arm)
            try:
                text = render(template, ref.variables)
            except PromptError as exc:
                raise InvalidRequest(str(exc), exc.param) from None
            system = protocol.ChatMessage(role="system", content=text)
            state.prompt_version = template.key
            state.request = request.model_copy(update={"messages": [system, *request.messages]})
        state.variant = "+".join(arms) or None

    def _template(self, ref: PromptRef, state: RequestState):  # type: ignore[no-untyped-def]
        prompts = self.registry.prompts
        key = f"{ref.id}@{ref.version}" if ref.version else ref.id
        if "@" in key:
            template = prompts.get(key)
            arm = None
        elif (assignment := self.registry.aliases.get(key)) is not None and all(
            v in prompts for v in assignment.versions
        ):
            chosen = choose(assignment, _subject(state))
            template, arm = prompts.get(chosen), f"{assignment.alias}/{chosen}"
        else:
            template, arm = prompts.latest(key), None
        if template is None:
            # The id is client text: never echoed.
            raise InvalidRequest("the prompt template does not exist", "prompt", "prompt_not_found")
        return template, arm


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
