"""Decision tables over the reference policy: every rule kind, residency, reroute, default deny."""

from __future__ import annotations

import pytest

from policies.decide import Decision, DecisionInput, PolicyDenied, PolicyEngine
from policies.documents import load_texts
from tests.policies.policy_docs import ALL

FRA, BER, US, EXT = "de-fra-1", "de-ber-1", "us-east-1", "ext-upstream"
L8_07, L8_09 = "llama-3.1-8b@q4-2024-07", "llama-3.1-8b@q4-2024-09"
MISTRAL, L70, GPT = "mistral-7b@v0.3", "llama-3.1-70b@fp8-2024-07", "gpt-4o@2024-08"


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_texts([("policy.yaml", ALL)]))


def ask(
    engine: PolicyEngine,
    tenant: str,
    model: str,
    classes: str = "",
    purpose: str | None = None,
    role: str = "app",
) -> Decision:
    data_classes = frozenset(c for c in classes.split(",") if c)
    return engine.decide(DecisionInput(tenant, role, "key-1", model, data_classes, purpose))


# (case id, tenant, model, classes, purpose, role) -> (outcome, rule id, model version, site)
TABLE = [
    # default deny
    (
        "unknown tenant",
        ("clinic", "chat", "", None, "app"),
        ("deny", "default-deny/unknown-tenant", None, None),
    ),
    (
        "unknown model",
        ("hospital", "gpt-5", "", None, "app"),
        ("deny", "default-deny/unknown-model", None, None),
    ),
    (
        "unknown data class",
        ("hospital", "chat-secure", "PHI,GENOMIC", None, "app"),
        ("deny", "default-deny/unknown-data-class", None, None),
    ),
    # tenant grants: models
    (
        "model not granted",
        ("research", "mistral-7b", "", None, "app"),
        ("deny", "tenant/model-not-allowed", None, None),
    ),
    (
        "version not granted",
        ("hospital", L8_09, "", None, "app"),
        ("deny", "tenant/model-not-allowed", None, None),
    ),
    (
        "granted by name",
        ("research", "llama-3.1-70b", "", None, "app"),
        ("allow", "allow/approved", L70, US),
    ),
    (
        "granted by alias",
        ("research", "chat-external", "PII", None, "app"),
        ("allow", "allow/approved", GPT, EXT),
    ),
    (
        "granted through an alias the version serves",
        ("hospital", "llama-3.1-8b", "PHI", None, "app"),
        ("allow", "allow/approved", L8_07, FRA),
    ),
    # tenant grants: purposes
    (
        "purpose required",
        ("bank-fra", "chat-secure", "", None, "app"),
        ("deny", "tenant/purpose-required", None, None),
    ),
    (
        "purpose not allowed",
        ("bank-fra", "chat-secure", "", "marketing", "app"),
        ("deny", "tenant/purpose-not-allowed", None, None),
    ),
    (
        "purpose allowed",
        ("bank-fra", "chat-secure", "", "support", "app"),
        ("allow", "allow/approved", L8_07, FRA),
    ),
    # residency: sites and approvals; a name takes its first compliant version
    (
        "first version by name",
        ("bank-fra", "llama-3.1-8b", "", "support", "app"),
        ("allow", "allow/approved", L8_07, FRA),
    ),
    (
        "exact version on second site",
        ("bank-fra", L8_09, "", "support", "app"),
        ("allow", "allow/approved", L8_09, BER),
    ),
    (
        "data class not approved",
        ("bank-fra", L8_09, "PCI", "support", "app"),
        ("deny", "residency/data-class-not-approved", None, None),
    ),
    (
        "alias skips a version on a site the tenant may not use",
        ("hospital", "chat", "PII", None, "app"),
        ("allow", "allow/approved", L70, US),
    ),
    (
        "site not allowed",
        ("hospital", "mistral-7b", "PCI", None, "app"),
        ("deny", "residency/site-not-allowed", None, None),
    ),
    # explicit deny rules, one per condition kind
    (
        "rule: data class + site",
        ("bank-fra", MISTRAL, "PCI", "support", "app"),
        ("deny", "deny/pci-not-on-ber", None, None),
    ),
    (
        "rule: data class + region",
        ("hospital", L70, "PCI", None, "app"),
        ("deny", "deny/pci-not-in-na", None, None),
    ),
    (
        "rule: data class + external",
        ("research", "chat-external", "PHI", None, "app"),
        ("deny", "deny/no-external-phi", None, None),
    ),
    (
        "rule: tenant + outside jurisdiction",
        ("hospital", "chat", "PHI", None, "app"),
        ("deny", "deny/hospital-phi-in-de", None, None),
    ),
    (
        "rule: outside region",
        ("research", "llama-3.1-70b", "CONFIDENTIAL", None, "app"),
        ("deny", "deny/confidential-eu-only", None, None),
    ),
    (
        "rule: purpose + jurisdiction",
        ("research", "llama-3.1-70b", "", "marketing", "app"),
        ("deny", "deny/no-us-marketing", None, None),
    ),
    (
        "rule: model + purpose",
        ("research", "llama-3.1-70b", "", "fraud-review", "app"),
        ("deny", "deny/no-70b-fraud-review", None, None),
    ),
    (
        "rule: role",
        ("research", "llama-3.1-70b", "", None, "auditor"),
        ("deny", "deny/auditors-do-not-infer", None, None),
    ),
    (
        "rule does not apply elsewhere",
        ("research", "llama-3.1-70b", "PHI", "support", "admin"),
        ("allow", "allow/approved", L70, US),
    ),
    # reroute: explicit per-tenant map, and aliases the tenant is granted
    (
        "reroute by tenant map (rule)",
        ("hospital", "gpt-4o", "PHI", None, "app"),
        ("reroute", "reroute/approved-alias", L8_07, FRA),
    ),
    (
        "no reroute needed",
        ("hospital", "gpt-4o", "PII", None, "app"),
        ("allow", "allow/approved", GPT, EXT),
    ),
    (
        "reroute by tenant map (approval)",
        ("bank-fra", "chat", "PHI", "support", "app"),
        ("reroute", "reroute/approved-alias", L8_07, FRA),
    ),
    (
        "reroute by tenant map (site rule)",
        ("bank-fra", "chat", "PCI", "fraud-review", "app"),
        ("reroute", "reroute/approved-alias", L8_07, FRA),
    ),
    (
        "reroute by granted alias (site)",
        ("hospital", "mistral-7b", "PII", None, "app"),
        ("reroute", "reroute/approved-alias", L70, US),
    ),
    (
        "granted alias has no compliant version",
        ("hospital", L70, "CONFIDENTIAL", None, "app"),
        ("deny", "deny/confidential-eu-only", None, None),
    ),
    (
        "reroute target blocked too",
        ("hospital", "gpt-4o", "PHI", None, "auditor"),
        ("deny", "deny/no-external-phi", None, None),
    ),
]


@pytest.mark.parametrize(
    ("request_", "expected"), [c[1:] for c in TABLE], ids=[c[0] for c in TABLE]
)
def test_decision_table(engine: PolicyEngine, request_: tuple, expected: tuple) -> None:
    decision = ask(engine, *request_)
    got = (decision.outcome, decision.rule_id, decision.model_version, decision.site)
    assert got == expected, decision.reason
    assert decision.policy_version == engine.version


def test_reroute_through_an_alias_the_requested_version_serves() -> None:
    # hospital asks for a version by id; it is blocked, and the version serves an alias the
    # hospital is granted (chat-secure), whose other version is compliant.
    text = ALL.replace(
        "  - id: llama-3.1-8b@q4-2024-09\n    site: de-ber-1\n    approved_data_classes: [PII]\n",
        "  - id: llama-3.1-8b@q4-2024-09\n    site: de-ber-1\n    approved_data_classes: [PII]\n"
        "    aliases: [chat-secure]\n",
    ).replace(
        "sites: [de-fra-1, us-east-1, ext-upstream]",
        "sites: [de-fra-1, de-ber-1, us-east-1, ext-upstream]",
    )
    engine = PolicyEngine(load_texts([("p.yaml", text)]))
    decision = ask(engine, "hospital", L8_09, "PHI")
    assert (decision.outcome, decision.model_version, decision.site) == ("reroute", L8_07, FRA)
    assert "residency/data-class-not-approved" in decision.reason
    assert ask(engine, "hospital", L8_09, "PII").outcome == "allow"


def test_tenant_default_classes_always_apply() -> None:
    text = ALL.replace("  - id: research\n", "  - id: research\n    default_data_classes: [PHI]\n")
    engine = PolicyEngine(load_texts([("p.yaml", text)]))
    assert ask(engine, "research", "chat-external").rule_id == "deny/no-external-phi"
    assert ask(engine, "research", "llama-3.1-70b").outcome == "allow"


def test_denial_reports_the_most_specific_block(engine: PolicyEngine) -> None:
    # "chat" for the hospital: mistral is on a site it may not use, the 70b is blocked by a
    # rule; the rule is the more useful answer.
    decision = ask(engine, "hospital", "chat", "PHI")
    assert decision.rule_id == "deny/hospital-phi-in-de"
    assert decision.reason == "the hospital's PHI stays in Germany"


def test_residency_across_two_sites() -> None:
    text = """
sites:
  - {id: de-fra-1, jurisdiction: DE, region: EU}
  - {id: fr-par-1, jurisdiction: FR, region: EU}
models:
  - {id: m@de, site: de-fra-1, approved_data_classes: [PHI], aliases: [chat]}
  - {id: m@fr, site: fr-par-1, approved_data_classes: [PHI], aliases: [chat]}
tenants:
  - {id: berlin-clinic, sites: [de-fra-1], models: [m]}
  - {id: paris-clinic, sites: [fr-par-1], models: [chat]}
  - {id: eu-lab, sites: [de-fra-1, fr-par-1], models: [m]}
"""
    engine = PolicyEngine(load_texts([("two-sites.yaml", text)]))
    assert (ask(engine, "berlin-clinic", "m", "PHI").model_version, engine.model_site("m@de")) == (
        "m@de",
        "de-fra-1",
    )
    assert ask(engine, "berlin-clinic", "m@fr", "PHI").rule_id == "residency/site-not-allowed"
    assert ask(engine, "paris-clinic", "chat", "PHI").site == "fr-par-1"
    rerouted = ask(engine, "paris-clinic", "m@de", "PHI")
    assert (rerouted.outcome, rerouted.model_version) == ("reroute", "m@fr")
    assert "residency/site-not-allowed" in rerouted.reason
    assert ask(engine, "eu-lab", "m@fr", "PHI").site == "fr-par-1"
    assert engine.models_for_tenant("berlin-clinic") == ["m@de"]
    assert engine.models_for_tenant("paris-clinic") == ["m@fr"]
    assert engine.models_for_tenant("eu-lab") == ["m@de", "m@fr"]


def test_models_for_tenant_and_model_site(engine: PolicyEngine) -> None:
    assert engine.models_for_tenant("bank-fra") == [L8_07, L8_09, MISTRAL]
    assert engine.models_for_tenant("research") == [GPT, L70]
    assert engine.models_for_tenant("nobody") == []
    assert engine.model_site(MISTRAL) == BER
    assert engine.model_site("mistral-7b") is None
    assert engine.model_site("unknown@1") is None


def test_reasons_and_rule_ids_never_echo_the_request(engine: PolicyEngine) -> None:
    probes = ["jane.doe@example.com", "4111 1111 1111 1111", "MRN-00123456"]
    for probe in probes:
        for decision in (
            ask(engine, probe, "chat"),
            ask(engine, "hospital", probe),
            ask(engine, "bank-fra", "chat", "", probe),
            ask(engine, "research", "llama-3.1-70b", "", probe, probe),
            engine.decide(DecisionInput("hospital", "app", probe, "chat", frozenset({"PHI"}))),
        ):
            assert probe not in decision.reason and probe not in decision.rule_id
            assert probe not in str(PolicyDenied(decision))


def test_decision_input_accepts_any_iterable_of_classes(engine: PolicyEngine) -> None:
    request = DecisionInput("hospital", "app", "k", "chat-secure", {"PHI"}, None)  # type: ignore[arg-type]
    assert request.data_classes == frozenset({"PHI"})
    assert engine.decide(request).allowed


def test_policy_denied_carries_the_decision(engine: PolicyEngine) -> None:
    decision = ask(engine, "research", "mistral-7b")
    error = PolicyDenied(decision)
    assert error.decision is decision
    assert str(error) == "tenant/model-not-allowed: the tenant may not use this model"
    assert not decision.allowed


def test_same_input_same_decision(engine: PolicyEngine) -> None:
    assert ask(engine, "hospital", "gpt-4o", "PHI") == ask(engine, "hospital", "gpt-4o", "PHI")
