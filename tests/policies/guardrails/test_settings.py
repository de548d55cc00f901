"""Per-tenant guardrail settings in the policy documents: defaults, validation, and the policy
version of a document without them unchanged."""

from __future__ import annotations

import pytest

from policies.documents import PolicyDocumentError, load_texts
from policies.guardrails import Action, GuardrailSettings, LeakageAction

BASE = """
sites: [{id: s, jurisdiction: DE, region: EU}]
models: [{id: m@v1, site: s}]
tenants:
  - id: t
    sites: [s]
    models: [m]
"""


def test_defaults_screen_and_block() -> None:
    settings = GuardrailSettings()
    assert settings.injection.action is Action.BLOCK and settings.injection.threshold is None
    assert settings.leakage.action is LeakageAction.BLOCK
    assert not settings.topics.phrases and not settings.blocked_output.patterns


def test_a_tenant_without_guardrails_keeps_its_policy_version() -> None:
    plain = load_texts([("p.yaml", BASE)])
    assert plain.tenants[0].guardrails is None
    explicit = load_texts([("p.yaml", BASE + "    guardrails: {injection: {action: flag}}\n")])
    assert explicit.tenants[0].guardrails.injection.action is Action.FLAG
    assert explicit.version != plain.version


@pytest.mark.parametrize(
    ("yaml", "field"),
    [
        ("{injection: {action: maybe}}", "guardrails.injection.action"),
        ("{injection: {threshold: 1.5}}", "guardrails.injection.threshold"),
        ("{limits: {max_messages: 0}}", "guardrails.limits.max_messages"),
        ("{blocked_output: {patterns: ['(unclosed']}}", "guardrails.blocked_output.patterns"),
        ("{topics: {phrases: ['  ']}}", "guardrails.topics.phrases"),
        ("{leakage: {min_words: 2}}", "guardrails.leakage.min_words"),
        ("{unknown: true}", "guardrails.unknown"),
    ],
)
def test_invalid_settings_name_the_field_not_the_value(yaml: str, field: str) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        load_texts([("p.yaml", BASE + f"    guardrails: {yaml}\n")])
    (issue,) = caught.value.issues
    assert issue.field is not None and issue.field.endswith(field)
    assert "unclosed" not in str(caught.value)
