"""Guardrails: prompt-injection screening (rules + a classifier on MiniLM embeddings), limits,
blocked topics, and the output checks (system-prompt leakage, blocked content).

The pipeline stages are serving/pipeline/input_guard.py and output_guard.py; per-tenant settings
are ``tenants[].guardrails`` in the policy documents (:mod:`policies.guardrails.settings`).
"""

from policies.guardrails.settings import (
    Action,
    BlockedOutput,
    BlockedTopics,
    GuardrailSettings,
    InjectionSettings,
    LeakageAction,
    LeakageSettings,
    Limits,
)

__all__ = [
    "Action",
    "BlockedOutput",
    "BlockedTopics",
    "GuardrailSettings",
    "InjectionSettings",
    "LeakageAction",
    "LeakageSettings",
    "Limits",
]
