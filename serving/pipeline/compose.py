"""The one place the stage lists are composed.

Inference (chat, completions, embeddings)::

    authenticate → validate → redact → decide → input guard → route → [meter] → cache
      → generate → [settle] → output redaction → output guard → restore → audit

(meter and settle: usage, budgets and rate limits, when the replica meters usage)

Every other recorded route (models, admin, audit API, metrics)::

    authenticate(roles) → action → audit

and a route that takes no key (the audit page) or one that never matched (unknown path, wrong
method) is recorded by the audit stage alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from policies.access import Role
from serving.pipeline.action import Action
from serving.pipeline.audit import Audit, AuditSink
from serving.pipeline.authenticate import Authenticate
from serving.pipeline.cache import CacheLookup, CacheStore
from serving.pipeline.decide import Decide, PolicySource
from serving.pipeline.generate import Generate
from serving.pipeline.input_guard import InputGuard
from serving.pipeline.output_guard import OutputGuard
from serving.pipeline.output_redaction import OutputRedaction
from serving.pipeline.redact import Redact
from serving.pipeline.restore import Restore
from serving.pipeline.route import RouteToModel, SelectVersion
from serving.pipeline.stage import Pipeline, Stage
from serving.pipeline.state import RequestState
from serving.pipeline.structured import Structured
from serving.pipeline.usage import Meter, Settle, UsageControl
from serving.pipeline.validate import Validate

if TYPE_CHECKING:
    from serving.gateway import Gateway

__all__ = ["Pipelines"]

Work = Callable[[RequestState], Awaitable[Any]]


class Pipelines:
    """The pipelines of one ingress replica, built from its services."""

    def __init__(
        self,
        gateway: Gateway,
        audit: AuditSink | None,
        reloader: PolicySource | None = None,
        usage: UsageControl | None = None,
    ) -> None:
        self.gateway = gateway
        self.audit = Audit(audit, capture=gateway.capture)
        # usage, budgets and rate limits (serving/pipeline/usage.py): the host sets
        # ``gateway.usage``; without it these two stages are left out
        self.usage = usage if usage is not None else getattr(gateway, "usage", None)
        metered = self.usage is not None
        # the semantic cache (serving/semantic_cache/): the host sets ``gateway.cache``
        self.cache = getattr(gateway, "cache", None)
        self.inference = Pipeline(
            [
                Authenticate(gateway.keys),
                Validate(),
                SelectVersion(gateway.registry),
                Redact(gateway.batcher),
                Decide(gateway.policy, reloader),
                InputGuard(gateway.policy),
                RouteToModel(gateway.registry, gateway.sites),
                *([Meter(self.usage)] if metered else []),
                CacheLookup(self.cache),
                Generate(gateway.models, gateway.embedder),
                # response_format: validated, whole answers regenerated (bounded) before any
                # later stage sees them (serving/pipeline/structured.py)
                Structured(gateway.models, getattr(gateway, "structured_retries", 1)),
                *([Settle(self.usage)] if metered else []),
                OutputRedaction(gateway.redactor),
                OutputGuard(gateway.policy),
                *([CacheStore(self.cache)] if self.cache is not None else []),
                Restore(),
                self.audit,
            ]
        )
        self.unrouted = Pipeline([self.audit])

    def action(self, work: Work, roles: tuple[Role, ...] | None = ()) -> Pipeline:
        """A recorded route: ``roles`` are the roles it admits (empty: any key; None: no key)."""
        stages: list[Stage] = []
        if roles is not None:
            stages.append(Authenticate(self.gateway.keys, roles))
        stages += [Action(work), self.audit]
        return Pipeline(stages)
