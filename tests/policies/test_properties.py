"""Property: over random policies and requests, no allowed or rerouted decision ever puts a data
class on a model version not approved for it, on a site the tenant may not use, past a matching
deny rule; and a request that some requested version could serve is never denied.

The oracle below is written from docs/policy.md, independently of the engine's indexes.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.decide import DecisionInput, PolicyEngine
from policies.documents import DenyRule, ModelVersion, PolicySet, Site, Tenant, load_texts

CLASSES = ["PHI", "PCI", "PII"]
PURPOSES = ["care", "billing", "research"]
ROLES = ["app", "admin", "auditor"]
SITE_POOL = [
    ("de-fra-1", "DE", "EU", False),
    ("de-ber-1", "DE", "EU", False),
    ("fr-par-1", "FR", "EU", False),
    ("us-east-1", "US", "NA", False),
    ("upstream", "US", "NA", True),
]


def subset(items: list, min_size: int = 0) -> st.SearchStrategy[list]:
    return st.lists(st.sampled_from(items), min_size=min_size, max_size=len(items), unique=True)


@st.composite
def documents(draw: st.DrawFn) -> dict:
    sites = draw(subset(SITE_POOL, 1))
    site_ids = [s[0] for s in sites]
    models = []
    for i in range(draw(st.integers(1, 6))):
        models.append(
            {
                "id": f"{draw(st.sampled_from(['m', 'n', 'o']))}@v{i}",
                "site": draw(st.sampled_from(site_ids)),
                "approved_data_classes": draw(subset(CLASSES)),
                "aliases": draw(subset(["chat", "secure"])),
            }
        )
    refs = sorted(
        {m["id"] for m in models}
        | {m["id"].split("@")[0] for m in models}
        | {a for m in models for a in m["aliases"]}
    )
    tenants = []
    for i in range(draw(st.integers(1, 3))):
        granted = draw(subset(refs, 1))
        tenant = {
            "id": f"t{i}",
            "sites": draw(subset(site_ids, 1)),
            "models": granted,
            "default_data_classes": draw(subset(CLASSES)),
            "reroute": draw(st.dictionaries(st.sampled_from(refs), subset(granted, 1), max_size=2)),
        }
        if draw(st.booleans()):
            tenant["purposes"] = draw(subset(PURPOSES, 1))
        tenants.append(tenant)
    site_facts = {
        "sites": site_ids,
        "jurisdictions": sorted({s[1] for s in sites}),
        "outside_jurisdictions": sorted({s[1] for s in sites}),
        "regions": sorted({s[2] for s in sites}),
        "outside_regions": sorted({s[2] for s in sites}),
        "data_classes": CLASSES,
        "tenants": [t["id"] for t in tenants],
        "roles": ROLES,
        "purposes": PURPOSES,
        "models": refs,
    }
    rules = []
    for i in range(draw(st.integers(0, 4))):
        keys = draw(subset([*site_facts, "external"], 1))
        when = {
            k: draw(st.booleans()) if k == "external" else draw(subset(site_facts[k], 1))
            for k in keys
        }
        rules.append({"id": f"r{i}", "reason": "test rule", "when": when})
    return {
        "sites": [{"id": i, "jurisdiction": j, "region": r, "external": e} for i, j, r, e in sites],
        "models": models,
        "tenants": tenants,
        "deny": rules,
    }


def rule_matches(
    rule: DenyRule,
    tenant: Tenant,
    model: ModelVersion,
    site: Site,
    classes: frozenset[str],
    role: str,
    purpose: str | None,
) -> bool:
    w = rule.when
    checks = [
        w.data_classes is None or bool(classes & set(w.data_classes)),
        w.tenants is None or tenant.id in w.tenants,
        w.roles is None or role in w.roles,
        w.purposes is None or purpose in w.purposes,
        w.models is None or bool({model.id, model.name, *model.aliases} & set(w.models)),
        w.sites is None or site.id in w.sites,
        w.jurisdictions is None or site.jurisdiction in w.jurisdictions,
        w.outside_jurisdictions is None or site.jurisdiction not in w.outside_jurisdictions,
        w.regions is None or site.region in w.regions,
        w.outside_regions is None or site.region not in w.outside_regions,
        w.external is None or site.external == w.external,
    ]
    return all(checks)


def compliant(
    policy: PolicySet,
    tenant: Tenant,
    model: ModelVersion,
    classes: frozenset[str],
    role: str,
    purpose: str | None,
) -> bool:
    site = next(s for s in policy.sites if s.id == model.site)
    return (
        tenant.permits(model)
        and model.site in tenant.sites
        and classes <= set(model.approved_data_classes)
        and (tenant.purposes is None or purpose in tenant.purposes)
        and not any(
            rule_matches(r, tenant, model, site, classes, role, purpose) for r in policy.deny
        )
    )


requests = st.tuples(
    st.sampled_from(["t0", "t1", "t2", "t9"]),
    st.sampled_from(["m", "n", "o", "m@v0", "n@v1", "o@v2", "chat", "secure", "zzz"]),
    subset([*CLASSES, "GENOMIC"]),
    st.sampled_from([None, *PURPOSES]),
    st.sampled_from(ROLES),
)


@settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(document=documents(), batch=st.lists(requests, min_size=1, max_size=25))
def test_no_allowed_decision_breaks_residency_or_approval(document: dict, batch: list) -> None:
    policy = load_texts([("random.yaml", yaml.safe_dump(document))])
    engine = PolicyEngine(policy)
    tenants = {t.id: t for t in policy.tenants}
    models = {m.id: m for m in policy.models}
    for tenant_id, model, classes, purpose, role in batch:
        decision = engine.decide(
            DecisionInput(tenant_id, role, "k", model, frozenset(classes), purpose)
        )
        assert decision.policy_version == policy.version
        tenant = tenants.get(tenant_id)
        if tenant is None:
            assert decision.rule_id == "default-deny/unknown-tenant"
            continue
        effective = frozenset(classes) | set(tenant.default_data_classes)
        if decision.outcome == "deny":
            assert decision.model_version is None and decision.site is None
            direct = [m for m in policy.resolve(model) if tenant.permits(m)]
            assert not any(compliant(policy, tenant, m, effective, role, purpose) for m in direct)
            continue
        chosen = models[decision.model_version]
        assert decision.site == chosen.site
        assert chosen.site in tenant.sites
        assert effective <= set(chosen.approved_data_classes)
        assert compliant(policy, tenant, chosen, effective, role, purpose)
        if decision.outcome == "allow":
            assert chosen in policy.resolve(model)
