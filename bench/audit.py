"""Audit log benchmark: durable appends/s, offline verification time, export time and size.

    python bench/audit.py [--appends 20000] [--verify-records 1000000] [--export-records 100000]

Each figure is reported with a ratio against a baseline measured in the same run:
- appends: the sequencer with group commit vs. one transaction per record (same store kind);
- verify: the full offline verification vs. merely SHA-256-hashing the same record lines;
- export: building the bundle vs. merely reading the same rows from the store.
PostgreSQL is measured when BASTION_TEST_PG_DSN (default the local test server) is reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.audit import AuditConfig, AuditLog, AuditRecord, open_store, verify_bundle
from policies.audit.bundle import write_bundle
from policies.audit.checkpoint import sign_checkpoint
from policies.audit.export import export_bundle
from policies.audit.merkle import MerkleTree, leaf_hash
from policies.audit.record import Actor, PolicyRef, Resource, Tokens
from policies.audit.signer import FileEd25519Signer
from policies.audit.store.base import RecordFilter

PG_DSN = os.environ.get("BASTION_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
APPENDERS = 1024  # concurrent requests awaiting their audit record
LOOP: dict[str, object] = {"factory": None}  # uvloop's loop factory when selected (as in Ray Serve)


def run(coro):
    with asyncio.Runner(loop_factory=LOOP["factory"]) as runner:  # type: ignore[arg-type]
        return runner.run(coro)


def record(i: int) -> AuditRecord:
    return AuditRecord(
        event_type="inference.chat",
        time=T0 + timedelta(milliseconds=i),
        request_id=f"req-{i:09d}",
        actor=Actor(key_id=f"key_{i % 50}", tenant=f"tenant{i % 7}", role="app"),
        origin="10.1.2.3",
        outcome="success",
        status_code=200,
        resource=Resource(model="smollm2-135m", version="2026-01-01", site="de-fra-1"),
        data_classes=("PHI",),
        entity_counts={"PERSON": 2, "MRN": 1},
        policy=PolicyRef(rule_id="phi-local", version="12", outcome="allow"),
        tokens=Tokens(prompt=120, completion=48),
        cost_micro_usd=310,
        latency_ms=840,
        cache_hit=False,
        stream=True,
    )


async def _appends(
    config: AuditConfig, data_dir: Path, signer, n: int, writers: int
) -> tuple[float, float]:
    """(durable appends per second, CPU microseconds of this process per append)."""
    store = open_store(config, data_dir)
    log = AuditLog(store, signer, config)
    await log.start()
    records = [record(i) for i in range(n)]
    per = [records[w::writers] for w in range(writers)]

    async def writer(rs: list[AuditRecord]) -> None:
        for r in rs:
            await log.append(r)

    t, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(writer(rs) for rs in per))
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    await log.close()
    store.close()
    return n / elapsed, cpu / n * 1e6


def bench_appends(kind: str, make: callable, data_dir: Path, signer, n: int, repeat: int) -> None:
    """Interleaved runs (the machine is shared): report the median of each."""
    base_n = max(200, n // 20)
    grouped, single, cpu = [], [], []
    for _ in range(repeat):
        rate, us = run(_appends(make(batch_max_wait_ms=1.0), data_dir, signer, n, APPENDERS))
        grouped.append(rate)
        cpu.append(us)
        one = make(batch_max_records=1, batch_max_wait_ms=0)
        single.append(run(_appends(one, data_dir, signer, base_n, APPENDERS))[0])
    g, s1, c = statistics.median(grouped), statistics.median(single), statistics.median(cpu)
    print(
        f"appends/{kind}: {g:,.0f} durable appends/s, group commit ({APPENDERS} appenders, "
        f"{n:,} records; median of {repeat}, range {min(grouped):,.0f}-{max(grouped):,.0f}) vs "
        f"{s1:,.0f}/s one transaction per record ({base_n:,} records): x{g / s1:.1f}; "
        f"{c:.0f} CPU-us per append in this process"
    )


def synthetic_bodies(n: int) -> list[bytes]:
    """Canonical bytes of ``record(i)`` for i < n, by template (pydantic would take minutes)."""
    template = record(0).canonical_bytes()
    for old, new in ((b"req-000000000", b"req-%09d"), (b'"key_0"', b'"key_%d"'),
                     (b"tenant0", b"tenant%d"),
                     (b"2026-01-01T00:00:00.000Z", b"%sZ")):  # fmt: skip
        assert template.count(old) == 1
        template = template.replace(old, new)
    out = []
    for i in range(n):
        t = (T0 + timedelta(milliseconds=i)).isoformat(timespec="milliseconds")[:-6].encode()
        out.append(template % (i % 50, i % 7, i, t))
    assert out[5] == record(5).canonical_bytes()
    return out


def bench_verify(tmp: Path, signer, n: int) -> None:
    t = time.perf_counter()
    bodies = synthetic_bodies(n)
    tree = MerkleTree(leaf_hash(b) for b in bodies)
    cps = [
        sign_checkpoint(signer, n // 2, tree.root(n // 2), T0),
        sign_checkpoint(signer, n, tree.root(n), T0 + timedelta(days=1)),
    ]
    out = write_bundle(
        tmp / "verify.zip",
        indices=range(n),
        bodies=bodies,
        tree=tree,
        checkpoints=cps,
        signer=signer,
        # A period filter, so the verifier also parses and checks every record.
        filters={
            "from": "2026-01-01T00:00:00.000Z",
            "to": "2027-01-01T00:00:00.000Z",
            "tenant": None,
            "event_type": None,
        },
        created="2027-01-02T00:00:00.000Z",
        compresslevel=1,
    )
    build = time.perf_counter() - t
    t = time.perf_counter()
    for b in bodies:
        hashlib.sha256(b"\x00" + b).digest()
    baseline = time.perf_counter() - t
    del bodies, tree
    t = time.perf_counter()
    result = verify_bundle(out.path, expected_key_id=signer.key_id)
    elapsed = time.perf_counter() - t
    assert result.ok, result.reason
    print(
        f"verify: {n:,} records in {elapsed:.1f} s ({n / elapsed:,.0f} records/s; bundle "
        f"{out.bundle_bytes / 1e6:.1f} MB, built in {build:.1f} s) vs {baseline:.2f} s to merely "
        f"hash the record lines: x{elapsed / baseline:.1f}"
    )


def bench_export(tmp: Path, signer, n: int) -> None:
    config = AuditConfig(sqlite_path=str(tmp / "export.db"), batch_max_wait_ms=1.0)
    run(_appends(config, tmp, signer, n, APPENDERS))
    store = open_store(config, tmp)
    t = time.perf_counter()
    after, rows = None, 0
    while page := store.query(RecordFilter(), after, 10000):
        rows += len(page)
        after = page[-1].index
    read = time.perf_counter() - t
    for fmt in ("jsonl", "csv"):
        t = time.perf_counter()
        s = export_bundle(store, tmp / f"export.{fmt}.zip", None, None, fmt=fmt, signer=signer)
        elapsed = time.perf_counter() - t
        print(
            f"export/{fmt}: {s.records:,} records in {elapsed:.1f} s, bundle "
            f"{s.bundle_bytes / 1e6:.1f} MB ({s.bundle_bytes / s.records:.0f} B/record) vs "
            f"{read:.2f} s to merely read the rows: x{elapsed / read:.1f}"
        )
    t = time.perf_counter()
    tenant = export_bundle(store, tmp / "tenant.zip", None, None, "tenant3", signer=signer)
    print(
        f"export/one-tenant: {tenant.records:,} of {n:,} records in "
        f"{time.perf_counter() - t:.1f} s, bundle {tenant.bundle_bytes / 1e6:.1f} MB"
    )
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=20000)
    ap.add_argument("--verify-records", type=int, default=1_000_000)
    ap.add_argument("--export-records", type=int, default=100_000)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="append runs per store (median)")
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = ap.parse_args()
    if args.loop == "uvloop":
        import uvloop

        LOOP["factory"] = uvloop.new_event_loop
    with tempfile.TemporaryDirectory(prefix="bastion-audit-bench-") as d:
        tmp = Path(d)
        signer = FileEd25519Signer(tmp / "audit-signing.key")

        def lite(**kw: object) -> AuditConfig:
            return AuditConfig(sqlite_path=str(tmp / f"a-{uuid.uuid4().hex}.db"), **kw)

        print(
            f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
            f"event loop: {args.loop}"
        )
        if args.appends:
            bench_appends("sqlite", lite, tmp, signer, args.appends, args.repeat)
            if not args.no_postgres:
                bench_postgres(tmp, signer, args.appends, args.repeat)
        if args.export_records:
            bench_export(tmp, signer, args.export_records)
        if args.verify_records:
            bench_verify(tmp, signer, args.verify_records)


def bench_postgres(tmp: Path, signer, n: int, repeat: int) -> None:
    try:
        import psycopg
        from psycopg import sql

        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except Exception as e:
        print(f"appends/postgres: SKIPPED, server not reachable at {PG_DSN}: {e}")
        return
    schemas: list[str] = []

    def pg(**kw: object) -> AuditConfig:
        schemas.append(f"audit_bench_{uuid.uuid4().hex[:10]}")
        return AuditConfig(store="postgres", dsn=PG_DSN, pg_schema=schemas[-1], **kw)

    try:
        bench_appends("postgres", pg, tmp, signer, n, repeat)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as c:
            for s in schemas:
                c.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))


if __name__ == "__main__":
    main()
