"""Policy decision benchmark: decisions/s per core and p50/p99 latency.

A realistic document is generated here (50 tenants, 20 model versions, 5 sites, deny rules) and
a seeded request mix is decided three ways in the same process, on one thread:

- engine:   PolicyEngine.decide (indexes compiled at load)
- baseline: a naive evaluator of the same semantics that scans the document's lists per request
- floor:    a dict lookup of precomputed decisions (the least any evaluator could cost)

Every engine decision is checked against the baseline before timing. Figures are medians over
repeats. Target (issue 4): >= 50,000 decisions/s per core, p99 < 100 us.

    .venv/bin/python bench/policy.py [--requests 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies.decide import Decision, DecisionInput, PolicyEngine
from policies.documents import ModelVersion, PolicySet, Site, Tenant, load_texts

CLASSES = ["PHI", "PCI", "PII"]
PURPOSES = ["care", "billing", "support", "fraud-review", "research", "marketing"]
SITES = [
    ("de-fra-1", "DE", "EU", False),
    ("de-ber-1", "DE", "EU", False),
    ("fr-par-1", "FR", "EU", False),
    ("us-east-1", "US", "NA", False),
    ("upstream-1", "US", "NA", True),
]
FAMILIES = ["llama-3.1-8b", "llama-3.1-70b", "mistral-7b", "qwen2.5-14b", "phi-3-mini"]
ALIASES = ["chat", "chat-secure", "chat-eu", "summarize", "code"]


def generate_document(rng: random.Random) -> dict:
    """5 sites, 20 model versions (5 families x 4), 50 tenants, 10 deny rules."""
    models = []
    for i in range(20):
        site = SITES[i % 5]
        models.append(
            {
                "id": f"{FAMILIES[i // 4]}@v{i % 4}",
                "site": site[0],
                "approved_data_classes": rng.sample(CLASSES, rng.randint(2, 3)),
                "aliases": rng.sample(ALIASES, rng.randint(0, 2)),
            }
        )
    refs = sorted({m["id"] for m in models} | set(FAMILIES) | set(ALIASES))
    tenants = []
    for i in range(50):
        sites = [s[0] for s in rng.sample(SITES, rng.randint(1, 3))]
        # Mostly models that run on the tenant's own sites, plus one from anywhere.
        local = sorted(
            {
                r
                for m in models
                if m["site"] in sites
                for r in (m["id"], m["id"].split("@")[0], *m["aliases"])
            }
        )
        granted = sorted({*rng.sample(local, min(len(local), rng.randint(3, 6))), rng.choice(refs)})
        tenant = {
            "id": f"tenant-{i:02d}",
            "sites": sites,
            "models": granted,
            "default_data_classes": rng.sample(CLASSES, rng.randint(0, 1)),
            "reroute": {rng.choice(granted): rng.sample(granted, 2)},
        }
        if i % 3 == 0:
            tenant["purposes"] = rng.sample(PURPOSES, 3)
        tenants.append(tenant)
    deny = [
        {"id": "pci-not-on-ber", "when": {"data_classes": ["PCI"], "sites": ["de-ber-1"]}},
        {"id": "pci-not-in-na", "when": {"data_classes": ["PCI"], "regions": ["NA"]}},
        {"id": "no-external-phi", "when": {"data_classes": ["PHI"], "external": True}},
        {"id": "eu-phi", "when": {"data_classes": ["PHI"], "outside_regions": ["EU"]}},
        {
            "id": "de-tenants",
            "when": {"tenants": ["tenant-01", "tenant-07"], "outside_jurisdictions": ["DE"]},
        },
        {"id": "us-marketing", "when": {"purposes": ["marketing"], "jurisdictions": ["US"]}},
        {"id": "70b-fraud", "when": {"models": ["llama-3.1-70b"], "purposes": ["fraud-review"]}},
        {"id": "auditors", "when": {"roles": ["auditor"]}},
        {"id": "phi3-no-pii", "when": {"models": ["phi-3-mini"], "data_classes": ["PII"]}},
        {"id": "research-fr", "when": {"purposes": ["research"], "sites": ["fr-par-1"]}},
    ]
    for rule in deny:
        rule["reason"] = f"rule {rule['id']}"
    sites = [{"id": i, "jurisdiction": j, "region": r, "external": e} for i, j, r, e in SITES]
    return {"label": "bench", "sites": sites, "models": models, "tenants": tenants, "deny": deny}


def generate_requests(rng: random.Random, policy: PolicySet, n: int) -> list[DecisionInput]:
    refs = sorted(
        {m.id for m in policy.models}
        | {m.name for m in policy.models}
        | {a for m in policy.models for a in m.aliases}
    )
    out = []
    for i in range(n):
        tenant = rng.choice(policy.tenants)
        model = rng.choice(tenant.models) if rng.random() < 0.7 else rng.choice(refs)
        if i % 50 == 0:
            model = "not-a-model"
        purpose = rng.choice(tenant.purposes) if tenant.purposes and rng.random() < 0.9 else None
        out.append(
            DecisionInput(
                tenant.id if i % 97 else "unknown-tenant",
                "auditor" if i % 101 == 0 else "app",
                f"key-{i % 40}",
                model,
                frozenset(rng.sample(CLASSES, rng.choice([0, 0, 0, 1, 1, 2]))),
                purpose,
            )
        )
    return out


class NaiveEvaluator:
    """The documented semantics evaluated directly over the PolicySet's lists, no indexes."""

    RANK = {"residency/site-not-allowed": 0, "residency/data-class-not-approved": 1}

    def __init__(self, policy: PolicySet) -> None:
        self.p = policy

    def _deny(self, rule_id: str, reason: str = "") -> Decision:
        return Decision("deny", None, None, rule_id, self.p.version, reason)

    def _blocked(
        self, t: Tenant, m: ModelVersion, classes: frozenset[str], r: DecisionInput
    ) -> str | None:
        site: Site = next(s for s in self.p.sites if s.id == m.site)
        if m.site not in t.sites:
            return "residency/site-not-allowed"
        if not classes <= set(m.approved_data_classes):
            return "residency/data-class-not-approved"
        for rule in self.p.deny:
            w = rule.when
            if all(
                (
                    w.data_classes is None or any(c in classes for c in w.data_classes),
                    w.tenants is None or t.id in w.tenants,
                    w.roles is None or r.role in w.roles,
                    w.purposes is None or r.purpose in w.purposes,
                    w.models is None or any(x in (m.id, m.name, *m.aliases) for x in w.models),
                    w.sites is None or site.id in w.sites,
                    w.jurisdictions is None or site.jurisdiction in w.jurisdictions,
                    w.outside_jurisdictions is None
                    or site.jurisdiction not in w.outside_jurisdictions,
                    w.regions is None or site.region in w.regions,
                    w.outside_regions is None or site.region not in w.outside_regions,
                    w.external is None or site.external == w.external,
                )
            ):
                return f"deny/{rule.id}"
        return None

    def decide(self, r: DecisionInput) -> Decision:
        t = next((t for t in self.p.tenants if t.id == r.tenant), None)
        if t is None:
            return self._deny("default-deny/unknown-tenant")
        classes = r.data_classes | set(t.default_data_classes)
        if any(c not in self.p.data_classes for c in classes):
            return self._deny("default-deny/unknown-data-class")
        if t.purposes is not None and r.purpose is None:
            return self._deny("tenant/purpose-required")
        if t.purposes is not None and r.purpose not in t.purposes:
            return self._deny("tenant/purpose-not-allowed")
        resolved = self.p.resolve(r.model)
        if not resolved:
            return self._deny("default-deny/unknown-model")
        direct = [m for m in resolved if t.permits(m)]
        if not direct:
            return self._deny("tenant/model-not-allowed")
        worst: str | None = None
        for m in direct:
            blocked = self._blocked(t, m, classes, r)
            if blocked is None:
                return Decision("allow", m.id, m.site, "allow/approved", self.p.version, "")
            if worst is None or self.RANK.get(blocked, 2) > self.RANK.get(worst, 2):
                worst = blocked
        targets = list(t.reroute.get(r.model, ()))
        targets += [a for m in direct for a in m.aliases if a in t.models]
        tried = {m.id for m in direct}
        for target in targets:
            for m in self.p.resolve(target):
                if m.id in tried or not t.permits(m):
                    continue
                tried.add(m.id)
                if self._blocked(t, m, classes, r) is None:
                    return Decision(
                        "reroute", m.id, m.site, "reroute/approved-alias", self.p.version, ""
                    )
        return self._deny(worst or "")


def throughput(fn: Callable[[DecisionInput], object], requests: list[DecisionInput]) -> float:
    start = time.perf_counter()
    for r in requests:
        fn(r)
    return len(requests) / (time.perf_counter() - start)


def latencies_us(
    fn: Callable[[DecisionInput], object], requests: list[DecisionInput]
) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    for r in requests:
        t0 = clock()
        fn(r)
        out.append((clock() - t0) / 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    text = yaml.safe_dump(generate_document(rng), sort_keys=False)
    load_times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        policy = load_texts([("bench.yaml", text)])
        engine = PolicyEngine(policy)
        load_times.append(time.perf_counter() - t0)
    requests = generate_requests(rng, policy, args.requests)
    naive = NaiveEvaluator(policy)
    floor_table = {
        (r.tenant, r.role, r.model, r.data_classes, r.purpose): engine.decide(r) for r in requests
    }

    def floor(r: DecisionInput) -> Decision:
        return floor_table[(r.tenant, r.role, r.model, r.data_classes, r.purpose)]

    outcomes: dict[str, int] = {}
    for r in requests:
        got, want = engine.decide(r), naive.decide(r)
        assert (got.outcome, got.rule_id, got.model_version) == (
            want.outcome,
            want.rule_id,
            want.model_version,
        ), r
        outcomes[got.outcome] = outcomes.get(got.outcome, 0) + 1

    naive_requests = requests[: max(1, args.requests // 5)]
    rows = []
    for name, fn, reqs in (
        ("floor (dict lookup)", floor, requests),
        ("engine", engine.decide, requests),
        ("baseline (naive scan)", naive.decide, naive_requests),
    ):
        rates = [throughput(fn, reqs) for _ in range(args.repeats)]
        lat = sorted(x for _ in range(args.repeats) for x in latencies_us(fn, reqs))
        rows.append(
            (
                name,
                statistics.median(rates),
                lat[len(lat) // 2],
                lat[int(len(lat) * 0.99)],
                lat[int(len(lat) * 0.999)],
            )
        )

    print(
        f"policy {policy.version}: {len(policy.sites)} sites, {len(policy.tenants)} tenants, "
        f"{len(policy.models)} model versions, {len(policy.deny)} deny rules"
    )
    print(
        f"load+compile median {statistics.median(load_times) * 1000:.1f} ms; "
        f"{args.requests} requests, outcomes {dict(sorted(outcomes.items()))}; "
        f"engine == baseline on every request"
    )
    print(f"python {sys.version.split()[0]}, one thread, medians of {args.repeats} repeats")
    print(f"{'evaluator':<24}{'decisions/s':>14}{'p50 us':>10}{'p99 us':>10}{'p99.9 us':>10}")
    for name, rate, p50, p99, p999 in rows:
        print(f"{name:<24}{rate:>14,.0f}{p50:>10.2f}{p99:>10.2f}{p999:>10.2f}")
    by = {row[0]: row for row in rows}
    eng, base, flo = by["engine"], by["baseline (naive scan)"], by["floor (dict lookup)"]
    print(
        f"engine vs baseline: {eng[1] / base[1]:.1f}x throughput, p99 {base[3] / eng[3]:.1f}x lower"
    )
    print(f"engine vs floor: {flo[1] / eng[1]:.1f}x the cost of a dict lookup")
    ok = eng[1] >= 50_000 and eng[3] < 100
    print(f"target >= 50,000/s and p99 < 100 us: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
