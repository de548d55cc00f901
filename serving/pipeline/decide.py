"""Stage 3: policy decides (principal, requested model, data classes, purpose) → allow, deny or
reroute, naming the rule and the policy version. MUST run before any model sees the request."""

from __future__ import annotations

from typing import Protocol

from models.registry import ModelNotFound
from policies.decide import DecisionInput, PolicyDenied, PolicyEngine
from serving.observability import METRICS
from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState

__all__ = ["Decide", "PolicySource"]


class PolicySource(Protocol):
    """Picks up a requested policy reload before a decision (serving/policy_reload.py)."""

    def poll(self) -> None: ...


class Decide(Stage):
    """Owns ``decision``."""

    name = "decide"

    def __init__(self, policy: PolicyEngine, reloader: PolicySource | None = None) -> None:
        self.policy = policy
        self.reloader = reloader

    async def before(self, state: RequestState) -> None:
        principal, request = state.principal, state.request
        assert principal is not None and request is not None, "authenticate and validate first"
        if self.reloader is not None:
            self.reloader.poll()
        data_classes = state.redaction.data_classes if state.redaction else frozenset()
        decision = self.policy.decide(
            DecisionInput(
                principal.tenant,
                principal.role.value,
                principal.key_id,
                state.alias_version or request.model,  # an alias's chosen version (select)
                data_classes,
                state.purpose,
            )
        )
        state.decision = decision
        METRICS.decisions.labels(decision.outcome, decision.rule_id).inc()
        if not decision.allowed:
            if decision.rule_id == "default-deny/unknown-model":
                raise ModelNotFound(request.model)
            raise PolicyDenied(decision)
