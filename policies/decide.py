"""One decision per request: allow, deny or reroute, naming the rule and the policy version.

`PolicyEngine` compiles a `PolicySet` into per-tenant indexes once, so `decide` is a few dict
lookups and set operations. The compiled state is immutable and swapped in one assignment, so
`decide` is thread-safe and every decision is consistent with exactly one policy version.

Reasons and rule ids are built only from the policy documents: they MUST NOT contain anything
the client sent (model string, purpose, key id), so they are safe in 403 bodies, logs and audit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from policies.documents import DenyRule, ModelVersion, PolicySet, Site, Tenant, load_documents

__all__ = ["Decision", "DecisionInput", "PolicyDenied", "PolicyEngine"]

Outcome = Literal["allow", "deny", "reroute"]


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """What the gateway knows when it decides. `model` is what the client asked for."""

    tenant: str
    role: str
    key_id: str
    model: str
    data_classes: frozenset[str]
    purpose: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.data_classes, frozenset):
            object.__setattr__(self, "data_classes", frozenset(self.data_classes))


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, where the request may run (allow/reroute), and the rule that decided."""

    outcome: Outcome
    model_version: str | None
    site: str | None
    rule_id: str
    policy_version: str
    reason: str

    @property
    def allowed(self) -> bool:
        return self.outcome != "deny"


class PolicyDenied(Exception):
    """Raised by callers that turn a deny decision into an error; carries the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"{decision.rule_id}: {decision.reason}")
        self.decision = decision


@dataclass(frozen=True, slots=True)
class _Check:
    """A deny rule narrowed to one (tenant, model version): only request conditions remain."""

    classes: frozenset[str] | None
    roles: frozenset[str] | None
    purposes: frozenset[str] | None
    denial: Decision


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One model version as seen by one tenant, with its decisions prepared."""

    model_version: str
    approved: frozenset[str]
    site_denial: Decision | None
    checks: tuple[_Check, ...]
    where: str
    allow: Decision


@dataclass(frozen=True, slots=True)
class _Entry:
    direct: tuple[_Candidate, ...]
    alternates: tuple[_Candidate, ...]


@dataclass(frozen=True, slots=True)
class _TenantIndex:
    defaults: frozenset[str]
    purposes: frozenset[str] | None
    entries: dict[str, _Entry]
    visible: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _State:
    policy: PolicySet
    version: str
    classes: frozenset[str]
    known_models: frozenset[str]
    sites: dict[str, str]
    tenants: dict[str, _TenantIndex]
    fixed: dict[str, Decision]


_FIXED = {
    "default-deny/unknown-tenant": "the tenant is not named in any policy document",
    "default-deny/unknown-model": "the model is not named in any policy document",
    "default-deny/unknown-data-class": "the request carries a data class no policy document names",
    "tenant/model-not-allowed": "the tenant may not use this model",
    "tenant/purpose-required": "the tenant's requests must state an allowed purpose",
    "tenant/purpose-not-allowed": "the purpose is not allowed for the tenant",
}


# When every candidate is blocked, the denial reported is the one that got furthest:
# an explicit rule (deny/...) over a missing approval over a site the tenant may not use.
_RANK = {"residency/site-not-allowed": 0, "residency/data-class-not-approved": 1}


class PolicyEngine:
    """Decides requests against one policy set at a time; `reload` swaps sets atomically."""

    def __init__(self, policy_set: PolicySet) -> None:
        self._state = _compile(policy_set)
        self._reload_lock = threading.Lock()

    @classmethod
    def from_paths(cls, paths: Iterable[Path]) -> PolicyEngine:
        return cls(load_documents(list(paths)))

    @property
    def version(self) -> str:
        return self._state.version

    @property
    def policy_set(self) -> PolicySet:
        return self._state.policy

    def reload(self, paths: Iterable[Path]) -> str:
        """Load and compile new documents, then swap. On any error the old set stays in force."""
        with self._reload_lock:
            state = _compile(load_documents(list(paths)))
            self._state = state
            return state.version

    def install(self, policy_set: PolicySet) -> str:
        """Compile an already-validated set (e.g. from the state store) and swap it in."""
        with self._reload_lock:
            state = _compile(policy_set)
            self._state = state
            return state.version

    def model_site(self, model_version: str) -> str | None:
        """The site of a `name@version` id, or None when no document names it."""
        return self._state.sites.get(model_version)

    def models_for_tenant(self, tenant: str) -> list[str]:
        """Sorted name@version ids the tenant may call that run on one of its allowed sites."""
        index = self._state.tenants.get(tenant)
        return list(index.visible) if index else []

    def decide(self, request: DecisionInput) -> Decision:
        """Pure and thread-safe: the same input and policy version give the same decision."""
        state = self._state
        fixed = state.fixed
        tenant = state.tenants.get(request.tenant)
        if tenant is None:
            return fixed["default-deny/unknown-tenant"]
        classes = request.data_classes | tenant.defaults
        if not classes <= state.classes:
            return fixed["default-deny/unknown-data-class"]
        purpose = request.purpose
        if tenant.purposes is not None:
            if purpose is None:
                return fixed["tenant/purpose-required"]
            if purpose not in tenant.purposes:
                return fixed["tenant/purpose-not-allowed"]
        entry = tenant.entries.get(request.model)
        if entry is None:
            if request.model in state.known_models:
                return fixed["tenant/model-not-allowed"]
            return fixed["default-deny/unknown-model"]
        denial: Decision | None = None
        for candidate in entry.direct:
            blocked = _blocked(candidate, classes, request.role, purpose, state.version)
            if blocked is None:
                return candidate.allow
            if denial is None or _RANK.get(blocked.rule_id, 2) > _RANK.get(denial.rule_id, 2):
                denial = blocked
        if denial is None:  # unreachable: compiled entries always have a direct candidate
            return fixed["tenant/model-not-allowed"]
        for candidate in entry.alternates:
            if _blocked(candidate, classes, request.role, purpose, state.version) is None:
                allow = candidate.allow
                return Decision(
                    "reroute",
                    allow.model_version,
                    allow.site,
                    "reroute/approved-alias",
                    state.version,
                    f"requested model blocked by {denial.rule_id}; rerouted to {candidate.where}",
                )
        return denial


def _blocked(
    candidate: _Candidate, classes: frozenset[str], role: str, purpose: str | None, version: str
) -> Decision | None:
    if candidate.site_denial is not None:
        return candidate.site_denial
    if not classes <= candidate.approved:
        missing = ", ".join(sorted(classes - candidate.approved))
        return Decision(
            "deny",
            None,
            None,
            "residency/data-class-not-approved",
            version,
            f"{candidate.model_version} is not approved for {missing}",
        )
    for check in candidate.checks:
        if (
            (check.classes is None or not check.classes.isdisjoint(classes))
            and (check.roles is None or role in check.roles)
            and (check.purposes is None or purpose in check.purposes)
        ):
            return check.denial
    return None


def _rule_applies(rule: DenyRule, tenant: Tenant, model: ModelVersion, site: Site) -> bool:
    """The rule's tenant, model and site conditions, which are known before any request."""
    w = rule.when
    return (
        (w.tenants is None or tenant.id in w.tenants)
        and (w.models is None or any(r in (model.id, model.name, *model.aliases) for r in w.models))
        and (w.sites is None or site.id in w.sites)
        and (w.jurisdictions is None or site.jurisdiction in w.jurisdictions)
        and (w.outside_jurisdictions is None or site.jurisdiction not in w.outside_jurisdictions)
        and (w.regions is None or site.region in w.regions)
        and (w.outside_regions is None or site.region not in w.outside_regions)
        and (w.external is None or site.external == w.external)
    )


def _opt(values: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _compile(policy: PolicySet) -> _State:
    version = policy.version
    sites = {s.id: s for s in policy.sites}
    fixed = {rid: Decision("deny", None, None, rid, version, why) for rid, why in _FIXED.items()}
    denials = {
        r.id: Decision("deny", None, None, f"deny/{r.id}", version, r.reason) for r in policy.deny
    }
    refs: dict[str, list[ModelVersion]] = {}
    for m in policy.models:
        for ref in dict.fromkeys((m.id, m.name, *m.aliases)):
            refs.setdefault(ref, []).append(m)

    tenants: dict[str, _TenantIndex] = {}
    for t in policy.tenants:
        candidates: dict[str, _Candidate] = {}
        for m in policy.models:
            if not t.permits(m):
                continue
            site = sites[m.site]
            where = f"{m.id} on {m.site}"
            checks = tuple(
                _Check(
                    _opt(r.when.data_classes),
                    _opt(r.when.roles),
                    _opt(r.when.purposes),
                    denials[r.id],
                )
                for r in policy.deny
                if _rule_applies(r, t, m, site)
            )
            site_denial = None
            if m.site not in t.sites:
                site_denial = Decision(
                    "deny",
                    None,
                    None,
                    "residency/site-not-allowed",
                    version,
                    f"{m.id} runs on a site the tenant may not use",
                )
            candidates[m.id] = _Candidate(
                m.id,
                frozenset(m.approved_data_classes),
                site_denial,
                checks,
                where,
                Decision("allow", m.id, m.site, "allow/approved", version, f"approved: {where}"),
            )
        entries: dict[str, _Entry] = {}
        for ref, versions in refs.items():
            direct = tuple(candidates[m.id] for m in versions if m.id in candidates)
            if not direct:
                continue
            targets = list(t.reroute.get(ref, ()))
            targets += [
                a for m in versions if m.id in candidates for a in m.aliases if a in t.models
            ]
            seen = {c.model_version for c in direct}
            alternates = []
            for target in targets:
                for m in refs.get(target, ()):
                    if m.id in candidates and m.id not in seen:
                        seen.add(m.id)
                        alternates.append(candidates[m.id])
            entries[ref] = _Entry(direct, tuple(alternates))
        visible = tuple(sorted(c.model_version for c in candidates.values() if not c.site_denial))
        tenants[t.id] = _TenantIndex(
            frozenset(t.default_data_classes), _opt(t.purposes), entries, visible
        )
    return _State(
        policy=policy,
        version=version,
        classes=frozenset(policy.data_classes),
        known_models=frozenset(refs),
        sites={m.id: m.site for m in policy.models},
        tenants=tenants,
        fixed=fixed,
    )
