"""The bootstrap policy `bastion serve` writes: valid, and it lets the bootstrap tenant work."""

from __future__ import annotations

import pytest

from policies.decide import DecisionInput, PolicyEngine
from policies.defaults import bootstrap_policy_yaml
from policies.documents import load_texts

MODELS = ["smollm2-135m-instruct@q4_1", "smollm2-135m-instruct@f16", "minilm-l6@v2"]


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    text = bootstrap_policy_yaml("local", "default", MODELS)
    return PolicyEngine(load_texts([("bootstrap.yaml", text)]))


@pytest.mark.parametrize("classes", [set(), {"PHI"}, {"PCI"}, {"PHI", "PCI", "PII"}])
@pytest.mark.parametrize("model", [*MODELS, "smollm2-135m-instruct", "minilm-l6"])
def test_bootstrap_tenant_may_use_every_model_for_every_class(
    engine: PolicyEngine, model: str, classes: set[str]
) -> None:
    decision = engine.decide(DecisionInput("default", "app", "k", model, frozenset(classes)))
    assert (decision.outcome, decision.site) == ("allow", "local")
    assert decision.model_version in MODELS


def test_everything_else_is_denied(engine: PolicyEngine) -> None:
    other = engine.decide(DecisionInput("other", "app", "k", MODELS[0], frozenset()))
    unknown = engine.decide(DecisionInput("default", "app", "k", "llama@1", frozenset()))
    assert other.rule_id == "default-deny/unknown-tenant"
    assert unknown.rule_id == "default-deny/unknown-model"


def test_bootstrap_policy_shape(engine: PolicyEngine) -> None:
    policy = engine.policy_set
    assert engine.version.startswith("bootstrap+sha256:")
    assert [(s.id, s.jurisdiction, s.region) for s in policy.sites] == [("local", "ZZ", "local")]
    assert sorted(engine.models_for_tenant("default")) == sorted(MODELS)
    assert all(engine.model_site(m) == "local" for m in MODELS)


def test_site_facts_can_be_given() -> None:
    text = bootstrap_policy_yaml("de-fra-1", "bank", MODELS[:1], jurisdiction="DE", region="EU")
    (site,) = load_texts([("b.yaml", text)]).sites
    assert (site.id, site.jurisdiction, site.region) == ("de-fra-1", "DE", "EU")


@pytest.mark.parametrize("models", [[], ["smollm2"], ["a@b@c"]])
def test_rejects_bad_model_lists(models: list[str]) -> None:
    with pytest.raises(ValueError):
        bootstrap_policy_yaml("local", "default", models)
