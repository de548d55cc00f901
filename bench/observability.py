"""Observability costs, in one run: the per-request metrics work (``serving/pipeline/metrics.py``
``observe``) and the compliance officer's summary (``serving/audit_summary.py``) aggregated in
the audit store over N records, on SQLite and (when reachable) PostgreSQL.

    .venv/bin/python bench/observability.py [--records 50000] [--runs 5]

Records are written straight into the store (leaf rows with their canonical bytes; no Merkle
tree or signatures, which the summary never reads), spread over tenants, outcomes, data
classes, denial rules, guardrail verdicts and token counts. Figures are medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/serving.py is not serving

from models.engines.base import Usage
from models.registry import DeployedModel
from policies.access import Principal, Role
from policies.audit import Actor, AuditRecord, PolicyRef, RecordFilter, Tokens
from policies.audit.store.base import LeafRow
from serving.audit_summary import summarize
from serving.pipeline.metrics import observe
from serving.pipeline.state import Outcome, RequestState, Route

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PG_DSN = os.environ.get("BASTION_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def record(i: int) -> AuditRecord:
    deny = i % 5 == 3
    return AuditRecord(
        event_type="inference.chat",
        time=T0 + timedelta(minutes=7 * i),
        outcome="denied" if deny else "failure" if i % 13 == 6 else "success",
        actor=Actor(key_id=f"{i % 50:016x}", role="app", tenant=("acme", "clinic", "bank")[i % 3]),
        request_id=uuid.UUID(int=i).hex,
        policy=PolicyRef(outcome="deny" if deny else "allow", rule_id=f"rule-{i % 4}", version="1"),
        status_code=403 if deny else 200,
        tokens=Tokens(prompt=20 + i % 50, completion=i % 64, cached=(i % 3) or None),
        data_classes=(("PHI",), ("PCI", "PII"), ())[i % 3],
        guardrails=None if deny else {"injection": ("pass", "flag", "block")[i % 3]},
    )


def rows(n: int) -> list[LeafRow]:
    out = []
    for i in range(n):
        r = record(i)
        body = r.canonical_bytes()
        leaf = hashlib.sha256(b"\x00" + body).digest()
        out.append(LeafRow(i, leaf, r.time, r.actor.tenant, r.event_type, r.outcome, body))
    return out


def every_record(store: Any, where: RecordFilter) -> dict[str, Any]:
    """The baseline: read every matching record out of the store (as the records API pages
    them) and count by outcome in Python."""
    outcomes: Counter[str] = Counter()
    after = None
    while True:
        page = store.query(where, after, 1000)
        for row in page:
            outcomes[json.loads(row.body)["outcome"]] += 1
        if len(page) < 1000:
            return {"records": sum(outcomes.values())}
        after = page[-1].index


def median_s(fn: Any, store: Any, where: RecordFilter, runs: int) -> tuple[float, int]:
    fn(store, where)  # warm caches
    times, records = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        records = fn(store, where)["records"]
        times.append(time.perf_counter() - t)
    return statistics.median(times), records


def bench_store(name: str, store: Any, leaves: list[LeafRow], runs: int) -> None:
    for start in range(0, len(leaves), 5000):
        store.append_batch(start, leaves[start : start + 5000])
    month = (T0 + timedelta(days=30)).isoformat(timespec="milliseconds")[:-6] + "Z"
    for label, where in (
        ("whole log", RecordFilter()),
        ("one tenant", RecordFilter(tenant="acme")),
        ("one tenant, 30 days", RecordFilter(start=leaves[0].time, end=month, tenant="acme")),
    ):
        s, n = median_s(summarize, store, where, runs)
        b, m = median_s(every_record, store, where, runs)
        assert n == m
        answer = len(json.dumps(summarize(store, where)))
        records = sum(len(r.body) for r in leaves if _matches(r, where))
        print(
            f"{name:10s} {label:20s} {n:7d} records: summary {s * 1000:7.1f} ms, "
            f"reading every record {b * 1000:7.1f} ms, ratio {s / b:.2f}; "
            f"answer {answer / 1024:.1f} KiB vs records {records / 1024:.0f} KiB"
        )


def _matches(row: LeafRow, where: RecordFilter) -> bool:
    return (
        (where.tenant is None or row.tenant == where.tenant)
        and (where.start is None or row.time >= where.start)
        and (where.end is None or row.time < where.end)
    )


def bench_observe(runs: int, n: int = 20000) -> None:
    model = DeployedModel("m", "v1", "local", "llamacpp", 2048)
    per = []
    for _ in range(runs):
        states = []
        for _ in range(n):
            st = RequestState(uuid.uuid4().hex, Route.CHAT)
            st.principal = Principal("k", "acme", Role.APP)
            st.model, st.usage = model, Usage(20, 16)
            st.first_token_at = st.started + 0.01
            states.append(st)
        t = time.perf_counter()
        for st in states:
            observe(st, Outcome(200))
        per.append((time.perf_counter() - t) / n * 1e6)
    print(f"observe() per request: {statistics.median(per):.1f} µs (median of {runs} x {n})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=50000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    bench_observe(args.runs)
    leaves = rows(args.records)
    from policies.audit.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "audit.db")
        bench_store("sqlite", store, leaves, args.runs)
        store.close()
    try:
        import psycopg
        from psycopg import sql

        from policies.audit.store.postgres import PostgresStore

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        pg = PostgresStore(PG_DSN, schema=schema)
    except Exception as exc:  # no PostgreSQL here: SQLite figures only
        print(f"postgresql skipped: {type(exc).__name__}")
        return
    try:
        bench_store("postgresql", pg, leaves, args.runs)
    finally:
        pg.close()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
