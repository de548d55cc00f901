"""Captured content costs, each against its baseline in the same run (SQLite, this machine):

- sealing: a per-content key (HKDF of the day key, what Bastion does) vs encrypting directly
  under the day key (the former scheme);
- export and verify of the same records with ``--with-content`` vs without;
- destroying a tenant's keys (shred) and expiring days by age.

Usage: python bench/audit_content.py [--records 5000] [--seals 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from policies.audit import (
    Actor,
    AuditConfig,
    AuditLog,
    AuditRecord,
    FileEd25519Signer,
    FileKek,
    open_store,
    verify_bundle,
)
from policies.audit.content import content_aad, content_key

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TEXT = json.dumps(
    {"input": ["Patient [PERSON_1] (MRN [MRN_1]) reports chest pain since Monday. " * 8],
     "output": "Advise [PERSON_1] to see a cardiologist; call [PHONE_NUMBER_1]. " * 6}
)  # fmt: skip


def seal_figures(n: int) -> dict[str, float]:
    dek = AESGCM.generate_key(bit_length=256)
    data = TEXT.encode()

    def direct() -> None:
        cid = os.urandom(16).hex()
        AESGCM(dek).encrypt(os.urandom(12), data, content_aad(cid, "acme"))

    def per_content() -> None:
        cid = os.urandom(16).hex()
        AESGCM(content_key(dek, cid)).encrypt(os.urandom(12), data, content_aad(cid, "acme"))

    out = {}
    for name, fn in (("direct", direct), ("per_content", per_content)) * 2:  # interleaved
        start = time.perf_counter()
        for _ in range(n):
            fn()
        out[name] = (time.perf_counter() - start) / n * 1e6
    return out


async def fill(tmp: Path, n: int) -> tuple[AuditLog, object]:
    config = AuditConfig(sqlite_path=str(tmp / "audit.db"), capture="redacted",
                         batch_max_wait_ms=1.0, capture_retention_days=30)  # fmt: skip
    store = open_store(config, tmp)
    log = AuditLog(store, FileEd25519Signer(tmp / "sign.key"), config,
                   kek=FileKek(tmp / "kek"), clock=lambda: T0 + timedelta(days=60))  # fmt: skip
    await log.start()
    for chunk in range(0, n, 500):
        await asyncio.gather(*(
            log.append(
                AuditRecord(event_type="inference.chat", outcome="success",
                            time=T0 + timedelta(minutes=10 * i),
                            actor=Actor(key_id="k", tenant=("acme", "globex")[i % 2], role="app")),
                content=TEXT,
            )
            for i in range(chunk, min(n, chunk + 500))
        ))  # fmt: skip
    return log, store


async def log_figures(n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        log, store = await fill(tmp, n)
        for with_content in (False, True, False, True):
            name = "with_content" if with_content else "records_only"
            t = time.perf_counter()
            summary = await log.export(tmp / f"{name}.zip", None, None, with_content=with_content)
            out[f"export_s_{name}"] = time.perf_counter() - t
            out[f"bundle_mb_{name}"] = summary.bundle_bytes / 1e6
            t = time.perf_counter()
            result = verify_bundle(summary.path)
            out[f"verify_s_{name}"] = time.perf_counter() - t
            assert result.ok, result.reason
        days = len({k.period for k in store.data_keys("acme")})
        t = time.perf_counter()
        erased = await log.erase_tenant("globex")
        out["shred_s"] = time.perf_counter() - t
        out["shred_keys"], out["shred_contents"] = erased.keys, erased.contents
        t = time.perf_counter()
        expired = await log.expire_content()  # injected clock: 60 days on, retention 30
        out["expire_s"] = time.perf_counter() - t
        out["expired_keys"] = sum(e.keys for e in expired)
        out["acme_days"] = days
        await log.close()
        store.close()  # type: ignore[attr-defined]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--seals", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    seals = [seal_figures(args.seals) for _ in range(args.runs)]
    logs = [asyncio.run(log_figures(args.records)) for _ in range(args.runs)]

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    d, p = med(seals, "direct"), med(seals, "per_content")
    print(f"content text: {len(TEXT)} bytes; median of {args.runs} runs")
    print(f"seal: direct under the day key {d:.1f} us, per-content key {p:.1f} us ({p / d:.2f}x)")
    for what in ("export_s", "verify_s", "bundle_mb"):
        a, b = med(logs, f"{what}_records_only"), med(logs, f"{what}_with_content")
        print(f"{what} ({args.records} records): records only {a:.3f}, with content {b:.3f} "
              f"({b / a:.2f}x)")  # fmt: skip
    keys, secs = med(logs, "expired_keys"), med(logs, "expire_s")
    print(f"expire by age (injected clock): {keys:.0f} day keys in {secs:.3f} s (audited)")
    keys, n, secs = med(logs, "shred_keys"), med(logs, "shred_contents"), med(logs, "shred_s")
    print(f"shred tenant: {keys:.0f} keys, {n:.0f} contents unreadable, in {secs:.3f} s")


if __name__ == "__main__":
    main()
