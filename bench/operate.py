"""Usage, budgets and rate limits: what they cost per request, and how far concurrent clients can
push a budget past its hard limit. One run measures both, with real components in-process (no
Ray, no HTTP): the bundled SmolLM2 GGUF, real redaction, a real SQLite audit log, and the state
store (SQLite in a temporary folder; ``--pg DSN`` uses PostgreSQL instead).

1. Added latency. The same pipeline with and without the ``meter`` and ``settle`` stages (a
   tenant with two budgets and two rate limits, none ever reached), requests alternating
   A B B A ... so both sides see the same machine. Reported: p50 of each side's end-to-end
   latency and their difference, and the p50 of the time spent inside the two stages per
   request (the direct measure; the difference of two noisy p50s is only a cross-check).
   Target: <= 2 ms.
2. Overshoot. Two pipelines ("replicas", each with its own store connection) share one store;
   32 concurrent clients send requests until every one of them is refused by the tenant's daily
   token budget. Reported: tokens settled - limit, against one request's reservation.
   Target: <= one reservation.

    .venv/bin/python bench/operate.py [--requests 200] [--clients 32] [--limit 3000]
        [--max-tokens 16] [--pg DSN] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "smollm2-135m-instruct"
POLICY = """
sites: [{id: local, jurisdiction: DE, region: EU}]
models: [{id: smollm2-135m-instruct@v1, site: local, approved_data_classes: [PHI, PCI, PII]}]
tenants:
  - id: metered
    sites: [local]
    models: [smollm2-135m-instruct]
    usage:
      budgets:
        - {id: month, period: month, unit: currency, limit: 1000000}
        - {id: key-day, period: day, unit: tokens, limit: 1000000000, scope: key}
      rate_limits:
        - {scope: key, requests_per_minute: 1000000, tokens_per_minute: 1000000000}
        - {scope: tenant, requests_per_minute: 1000000}
  - id: spender
    sites: [local]
    models: [smollm2-135m-instruct]
    usage:
      budgets:
        - {id: daily, period: day, unit: tokens, limit: LIMIT, soft: null}
"""


def _store(pg: str | None, folder: Path) -> Any:
    if pg:
        from state.postgres import PostgresStateStore

        return PostgresStateStore(pg, schema=f"bench_operate_{uuid.uuid4().hex[:8]}")
    from state.sqlite import SqliteStateStore

    return SqliteStateStore(folder / "state.db")


class Timed:
    """Adds up the time spent inside the meter's ``before`` and the settle bookkeeping."""

    def __init__(self) -> None:
        self.current = 0.0

    def patch(self, meter: Any, settle: Any) -> None:
        before, book = meter.before, settle._settle

        async def timed_before(state: Any) -> None:
            t = time.perf_counter()
            try:
                await before(state)
            finally:
                self.current += time.perf_counter() - t

        def timed_settle(*args: Any, **kw: Any) -> None:
            t = time.perf_counter()
            try:
                book(*args, **kw)
            finally:
                self.current += time.perf_counter() - t

        meter.before, settle._settle = timed_before, timed_settle


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from models.deployment import ModelServer
    from models.engines.llamacpp import LlamaCppEngine
    from models.registry import Registry
    from policies.access import KeyStore, Role
    from policies.audit import AuditConfig, build_audit_log
    from policies.decide import PolicyEngine
    from policies.ratelimit import BUDGET_NS
    from policies.usage import CostModel, UsageSettings, query_usage
    from privacy import PrivacyConfig, Redactor
    from serving.audit_client import LocalAuditClient
    from serving.config import ModelConfig, Settings
    from serving.gateway import Gateway, StaticSites
    from serving.pipeline import Pipelines, RequestState, Route
    from serving.pipeline.usage import ModelTerms, UsageControl

    tmp = Path(tempfile.mkdtemp(prefix="bench-operate-"))
    (tmp / "policy.yaml").write_text(POLICY.replace("LIMIT", str(args.limit)))
    prices = CostModel(prompt_per_1k=0.5, completion_per_1k=1.5)
    settings = Settings(data_dir=tmp, models=[ModelConfig(name=MODEL, cost=prices)])
    first = _store(args.pg, tmp)
    if args.pg:  # the second "replica" connects to the same schema
        from state.postgres import PostgresStateStore

        second: Any = PostgresStateStore(args.pg, schema=first.schema)
    else:
        second = _store(None, tmp)  # the same file, its own connections
    stores = [first, second]
    keystore = KeyStore(stores[0])
    metered_key = keystore.create("metered", Role.APP)[0]
    spender_key = keystore.create("spender", Role.APP)[0]
    engine = LlamaCppEngine(MODEL, "v1", context_length=2048, threads=args.threads)
    await engine.start()
    server = ModelServer(engine, default_max_tokens=16)
    server.ready = True
    redactor = Redactor(PrivacyConfig())
    redactor.warmup()
    policy = PolicyEngine.from_paths(settings.policy_files())
    gateway = Gateway(
        keystore,
        Registry(settings.models, settings.embeddings),
        policy,
        StaticSites({"local"}),
        {f"{MODEL}@v1": server},
        None,
        redactor,
    )
    audit_log = await build_audit_log(AuditConfig(), tmp)
    sink = LocalAuditClient(audit_log)
    terms = {f"{MODEL}@v1": ModelTerms(prices, 16, 0.0)}
    controls = [UsageControl(s, policy, terms, UsageSettings()) for s in stores]
    plain = Pipelines(gateway, sink)
    metered = Pipelines(gateway, sink, usage=controls[0])
    metered_b = Pipelines(gateway, sink, usage=controls[1])
    timer = Timed()
    stages = {s.name: s for s in metered.inference.stages}
    timer.patch(stages["meter"], stages["settle"])

    async def one(pipelines: Any, key: str, n: int, max_tokens: int) -> tuple[float, Any]:
        body = json.dumps(
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": f"Note {n}. Count to ten."}],
                "max_tokens": max_tokens,
                "temperature": 0,
            }
        ).encode()

        async def read_body() -> bytes:
            return body

        state = RequestState(str(uuid.uuid4()), Route.CHAT, bearer=key, read_body=read_body)
        t = time.perf_counter()
        items = await pipelines.inference.open(state)
        async for _ in items:
            pass
        return time.perf_counter() - t, state

    # 1. added latency, alternating A B B A
    for n in range(5):  # warm-up: model, redaction, store connections
        await one(plain, metered_key, n, 1)
        await one(metered, metered_key, n, 1)
    with_stages: list[float] = []
    without: list[float] = []
    inside: list[float] = []
    for n in range(args.requests):
        order = [(plain, without), (metered, with_stages)]
        if n % 2:
            order.reverse()
        for pipelines, out in order:
            timer.current = 0.0
            out.append((await one(pipelines, metered_key, 1000 + n, 1))[0])
            if pipelines is metered:
                inside.append(timer.current)
    p50_with, p50_without = statistics.median(with_stages), statistics.median(without)
    latency = {
        "requests_per_side": args.requests,
        "p50_without_ms": round(p50_without * 1000, 3),
        "p50_with_ms": round(p50_with * 1000, 3),
        "p50_difference_ms": round((p50_with - p50_without) * 1000, 3),
        "p50_inside_stages_ms": round(statistics.median(inside) * 1000, 3),
        "p95_inside_stages_ms": round(sorted(inside)[int(0.95 * len(inside))] * 1000, 3),
        "claims_per_request": 6,
    }

    # 2. overshoot: 32 clients over two "replicas" until the budget refuses each of them
    from policies.budgets import BudgetExceeded

    served = refused = 0
    reservation = 0

    async def client(i: int) -> None:
        nonlocal served, refused, reservation
        pipelines = metered if i % 2 else metered_b
        for n in range(1000):
            try:
                _, state = await one(pipelines, spender_key, i * 1000 + n, args.max_tokens)
            except BudgetExceeded:
                refused += 1
                return
            served += 1
            held = state.reservation
            reservation = max(reservation, held.prompt + held.max_tokens)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(args.clients)))
    elapsed = time.perf_counter() - t0
    day = datetime.now(UTC).date()
    today = day.isoformat()
    (row,) = query_usage(stores[0], "spender", day, day, "tenant")
    settled = row.prompt + row.completion
    counter = stores[0].counter(BUDGET_NS, f"spender/daily/-/{today}")
    overshoot = {
        "clients": args.clients,
        "replicas": 2,
        "limit_tokens": args.limit,
        "served": served,
        "refused": refused,
        "settled_tokens": settled,
        "budget_counter": counter,
        "overshoot_tokens": settled - args.limit,
        "one_reservation_tokens": reservation,
        "seconds": round(elapsed, 1),
    }
    await audit_log.close()
    for store in stores:
        store.close()
    if args.pg:
        import psycopg
        from psycopg import sql

        with psycopg.connect(args.pg, autocommit=True) as conn:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(first.schema))
            conn.execute(drop)
    return {
        "store": "postgres" if args.pg else "sqlite",
        "latency": latency,
        "overshoot": overshoot,
    }


def report(result: dict[str, Any]) -> None:
    lat, over = result["latency"], result["overshoot"]
    print(f"store: {result['store']}")
    print(
        f"added latency (usage + budgets + rate limits), {lat['requests_per_side']} requests "
        f"per side, alternating:"
    )
    print(f"  p50 inside the meter and settle stages: {lat['p50_inside_stages_ms']} ms "
          f"(p95 {lat['p95_inside_stages_ms']} ms)  target <= 2 ms")  # fmt: skip
    print(
        f"  end-to-end p50 without {lat['p50_without_ms']} ms, with {lat['p50_with_ms']} ms "
        f"(difference {lat['p50_difference_ms']} ms)"
    )
    print(
        f"overshoot: {over['clients']} clients on {over['replicas']} pipelines, limit "
        f"{over['limit_tokens']} tokens: settled {over['settled_tokens']} "
        f"({over['served']} served, {over['refused']} refused) -> overshoot "
        f"{over['overshoot_tokens']} tokens; one reservation = {over['one_reservation_tokens']} "
        f"tokens  target <= one reservation"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pg", default=None, help="PostgreSQL DSN (default: SQLite)")
    parser.add_argument("--json", type=Path, default=None)
    ns = parser.parse_args()
    out = asyncio.run(main(ns))
    report(out)
    if ns.json:
        ns.json.write_text(json.dumps(out, indent=2))
