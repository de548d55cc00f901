"""Each tenant's guardrail settings from the active policy documents, compiled once per policy
version (a reload swaps them in one assignment)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.guardrails.settings import GuardrailSettings
from policies.guardrails.topics import TopicMatcher

if TYPE_CHECKING:
    from policies.decide import PolicyEngine

__all__ = ["TenantGuardrails", "TenantGuards"]

DEFAULTS = GuardrailSettings()


@dataclass(frozen=True)
class TenantGuards:
    settings: GuardrailSettings
    topics: TopicMatcher


class TenantGuardrails:
    """``for_tenant(id)``: that tenant's settings (the defaults when it sets none)."""

    def __init__(self, policy: PolicyEngine) -> None:
        self.policy = policy
        self._compiled: tuple[str, dict[str, TenantGuards]] | None = None
        self._default: TenantGuards | None = None
        self._lock = threading.Lock()

    def _index(self) -> dict[str, TenantGuards]:
        policy_set = self.policy.policy_set
        compiled = self._compiled
        if compiled is not None and compiled[0] == policy_set.version:
            return compiled[1]
        with self._lock:
            index = {
                t.id: TenantGuards(t.guardrails, TopicMatcher(t.guardrails.topics))
                for t in policy_set.tenants
                if getattr(t, "guardrails", None) is not None
            }
            self._compiled = (policy_set.version, index)
            return index

    def for_tenant(self, tenant: str) -> TenantGuards:
        found = self._index().get(tenant)
        if found is not None:
            return found
        if self._default is None:
            self._default = TenantGuards(DEFAULTS, TopicMatcher(DEFAULTS.topics))
        return self._default
