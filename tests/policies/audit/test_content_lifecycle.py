"""Captured content over its life, on real SQLite and PostgreSQL: keys per tenant and per day,
erasure by age (injected clock), erasure of a tenant, content in the export bundle and its
offline verification, and the migration of logs written with per-tenant-only keys."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies.audit import (
    AuditConfig,
    AuditLog,
    ContentShredded,
    FileKek,
    RecordFilter,
    export_bundle,
    open_store,
    verify_bundle,
)
from policies.audit.content import ContentVault, _key_context
from policies.audit.store.base import DataKeyRow

from .conftest import T0, make_record

DAY = timedelta(days=1)


class Clock:
    """An injected clock (the test moves time; nothing waits for the real one)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _records(log: AuditLog) -> dict[str, tuple[int, object]]:
    page = await log.query(RecordFilter(), 1000)
    return {r.request_id: (i, r) for i, r in page.records if r.request_id}


def test_keys_are_per_tenant_and_day_and_age_expiry_destroys_exactly_the_old_days(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    # Injected clock: "now" is set by the test, so expiry is decided without waiting.
    clock = Clock(T0)
    overrides = {"globex": 30}  # a policy document keeps globex's content longer
    config = backend(capture="redacted", batch_max_wait_ms=1.0, capture_retention_days=1)

    async def run():
        store = open_store(config, tmp_path)
        log = AuditLog(
            store, signer, config, kek=FileKek(tmp_path / "kek"), clock=clock,
            retention=lambda: overrides,
        )  # fmt: skip
        await log.start()
        # Records of three days (their own times decide the key period).
        for n, (tenant, day) in enumerate(
            [("acme", 0), ("acme", 0), ("acme", 1), ("acme", 2), ("globex", 0)]
        ):
            rec = make_record(n, tenant=tenant, time=T0 + day * DAY + timedelta(seconds=n))
            await log.append(rec, content=f"<PERSON_1> day {day} n {n}")
        keys = {(k.tenant, k.period) for k in store.data_keys()}
        clock.now = T0 + 2 * DAY
        # Day 0 ended at T0's midnight + 1 day; retention 1 day: expired when now >= day 0 + 2.
        erased = await log.expire_content()
        recs = await _records(log)
        readable = {}
        for rid, (_, rec) in recs.items():
            try:
                readable[rid] = await log.read_content(rec)
            except ContentShredded:
                readable[rid] = None
        again = await log.expire_content()  # nothing left to do: no second record
        clock.now = T0 + 3 * DAY
        later = await log.expire_content()
        expired = RecordFilter(event_type="audit.content_expired")
        events = [r for _, r in (await log.query(expired, 100)).records]
        await log.close()
        summary = export_bundle(store, tmp_path / "b.zip", None, None, signer=signer)
        size = store.size()
        store.close()
        return keys, erased, readable, again, later, events, summary, size

    keys, erased, readable, again, later, events, summary, size = asyncio.run(run())
    assert keys == {("acme", "2026-03-01"), ("acme", "2026-03-02"), ("acme", "2026-03-03"),
                    ("globex", "2026-03-01")}  # fmt: skip
    assert [(e.tenant, e.keys, e.contents, e.periods) for e in erased] == [
        ("acme", 1, 2, ("2026-03-01",))
    ]
    assert readable == {
        "req-0": None, "req-1": None,  # day 0 of acme: its key is gone
        "req-2": "<PERSON_1> day 1 n 2", "req-3": "<PERSON_1> day 2 n 3",
        "req-4": "<PERSON_1> day 0 n 4",  # globex keeps 30 days (per-tenant override)
    }  # fmt: skip
    assert again == []
    assert [(e.tenant, e.periods) for e in later] == [("acme", ("2026-03-02",))]
    assert [(e.actor.tenant, e.detail["keys_destroyed"], e.detail["contents_unreadable"])
            for e in events] == [("acme", 1, 2), ("acme", 1, 1)]  # fmt: skip
    assert events[0].detail["oldest_period"] == "2026-03-01"
    # Records are never deleted: 5 + 2 expiry records, and the log still verifies.
    assert size == 7 and summary.records == 7
    assert verify_bundle(summary.path).ok


def test_expiry_runs_on_the_sequencer_schedule(tmp_path: Path, signer) -> None:
    clock = Clock(T0)  # injected: the test moves it 10 days on, nothing waits for real days
    config = AuditConfig(
        sqlite_path=str(tmp_path / "a.db"), capture="redacted", capture_retention_days=3,
        capture_expiry_check_seconds=0.05, batch_max_wait_ms=1.0,
    )  # fmt: skip

    async def run():
        store = open_store(config, tmp_path)
        log = AuditLog(store, signer, config, kek=FileKek(tmp_path / "kek"), clock=clock)
        await log.start()
        await log.append(make_record(0), content="<PERSON_1>")
        clock.now = T0 + 10 * DAY
        # The scheduled run (not a direct call) destroys the key and records it.
        for _ in range(400):
            page = await log.query(RecordFilter(event_type="audit.content_expired"), 10)
            if page.records:
                break
            await asyncio.sleep(0.05)
        (_, rec) = (await log.query(RecordFilter(event_type="inference.chat"), 10)).records[0]
        with pytest.raises(ContentShredded):
            await log.read_content(rec)
        await log.close()
        store.close()
        return page.records

    (only,) = asyncio.run(run())
    assert only[1].actor.role == "system" and only[1].detail["contents_unreadable"] == 1


def _bundle_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rewrite(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    return path


def test_shred_then_export_with_content_verifies_and_tampering_fails(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    config = backend(capture="redacted", batch_max_wait_ms=1.0)

    async def run():
        store = open_store(config, tmp_path)
        log = AuditLog(store, signer, config, kek=FileKek(tmp_path / "kek"))
        await log.start()
        await log.append(make_record(0, tenant="acme"), content='{"input":["<PERSON_1>"]}')
        await log.append(make_record(1, tenant="globex"), content="card <CREDIT_CARD_1>")
        await log.append(make_record(2, tenant="globex"), content="second <PERSON_1>")
        await log.append(make_record(3, tenant="globex"))  # no content
        erased = await log.erase_tenant("acme")
        summary = await log.export(tmp_path / "b.zip", None, None, with_content=True)
        await log.close()
        store.close()
        return erased, summary

    erased, summary = asyncio.run(run())
    assert (erased.keys, erased.contents) == (1, 1)
    assert summary.contents == {"present": 2, "shredded": 1, "absent": 0}
    assert summary.audit_detail()["contents"] == 2
    result = verify_bundle(summary.path, expected_key_id=signer.key_id)
    assert result.ok, result.reason
    assert result.content is not None
    assert (result.content.verified, result.content.shredded, result.content.absent) == (2, 1, 0)
    assert "content: 2 verified, 1 shredded, 0 absent" in result.reason

    members = _bundle_members(summary.path)
    files = sorted(n for n in members if n.startswith("content/"))
    assert files == ["content/0.json", "content/1.json", "content/2.json"]
    assert json.loads(members["content/0.json"])["status"] == "shredded"
    present = json.loads(members["content/1.json"])
    assert present["text"] == "card <CREDIT_CARD_1>"
    # The hashed records never hold content text.
    assert b"CREDIT_CARD" not in members["records.jsonl"]

    # Changed text: fails with the reason.
    changed = dict(members)
    changed["content/1.json"] = json.dumps({**present, "text": "card 4111"}).encode()
    bad = verify_bundle(_rewrite(tmp_path / "text.zip", changed))
    assert not bad.ok and "record 1: text differs from the committed content" in bad.reason

    # Changed ciphertext: fails against the commitment.
    ct = bytearray(base64.b64decode(present["ciphertext"]))
    ct[0] ^= 1
    changed["content/1.json"] = json.dumps(
        {**present, "ciphertext": base64.b64encode(bytes(ct)).decode()}
    ).encode()
    bad = verify_bundle(_rewrite(tmp_path / "ct.zip", changed))
    assert not bad.ok and "does not match its commitment" in bad.reason

    # Another record's content moved in: fails.
    changed = dict(members)
    changed["content/1.json"] = members["content/2.json"]
    bad = verify_bundle(_rewrite(tmp_path / "moved.zip", changed))
    assert not bad.ok and "names another content" in bad.reason

    # Absent content is reported, not a failure.
    absent = {n: d for n, d in members.items() if n != "content/2.json"}
    ok = verify_bundle(_rewrite(tmp_path / "absent.zip", absent))
    assert ok.ok and ok.content is not None and ok.content.absent == 1

    # A content file with no exported record: fails.
    extra = {**members, "content/99.json": members["content/1.json"]}
    bad = verify_bundle(_rewrite(tmp_path / "extra.zip", extra))
    assert not bad.ok and "content/99.json" in bad.reason


def test_a_key_destroyed_by_another_process_is_never_used_for_new_content(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    """`bastion audit shred` runs beside the sequencer: content the sequencer seals afterwards
    must go under a new key (readable), not the destroyed key it still holds in memory."""
    config = backend(capture="redacted", batch_max_wait_ms=1.0)

    async def run():
        store = open_store(config, tmp_path)
        log = AuditLog(store, signer, config, kek=FileKek(tmp_path / "kek"))
        await log.start()
        await log.append(make_record(0), content="before")
        other = open_store(config, tmp_path)  # the CLI's own connection
        assert other.shred_data_keys("acme", "2026-03-01T12:00:00.000Z") == 1
        other.close()
        await log.append(make_record(1), content="after")
        recs = await _records(log)
        with pytest.raises(ContentShredded):
            await log.read_content(recs["req-0"][1])
        after = await log.read_content(recs["req-1"][1])
        await log.close()
        keys = store.data_keys("acme")
        store.close()
        return after, keys

    after, keys = asyncio.run(run())
    assert after == "after"
    assert [k.wrapped is None for k in keys] in ([True, False], [False, True])


_LEGACY_KEYS = (
    "CREATE TABLE audit_data_key (dek_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
    "kek_id TEXT NOT NULL, wrapped {blob}, created TEXT NOT NULL, shredded TEXT)"
)


def _raw(config: AuditConfig, statement: str) -> None:
    """Run SQL on the store's database, bypassing the store."""
    if config.store == "sqlite":
        conn = sqlite3.connect(config.sqlite_path or "")
        try:
            conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(config.dsn or "", options=f"-c search_path={config.pg_schema}") as c:
        c.execute(statement)


def test_logs_with_per_tenant_keys_migrate_and_stay_readable(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    """A log written before keys had periods: old table layout, content sealed directly under
    the tenant's key. After the upgrade it is read as before, new content goes under day keys,
    and the legacy key expires once its newest content is past retention."""
    config = backend(capture="redacted", batch_max_wait_ms=1.0, capture_retention_days=5)
    kek = FileKek(tmp_path / "kek")
    # The former layout, as the earlier release created it.
    if config.store == "postgres":
        _raw(config.model_copy(update={"pg_schema": "public"}),
             f'CREATE SCHEMA "{config.pg_schema}"')  # fmt: skip
        _raw(config, _LEGACY_KEYS.format(blob="BYTEA"))
    else:
        _raw(config, _LEGACY_KEYS.format(blob="BLOB"))
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    legacy_id = uuid.uuid4().hex
    dek = AESGCM.generate_key(bit_length=256)

    class LegacyVault(ContentVault):
        """The former sealing: one key per tenant, content encrypted directly under it."""

        def seal(self, tenant, text, period=None):
            import hashlib
            import os

            from policies.audit.content import SealedContent, content_aad
            from policies.audit.record import ContentRef

            cid, nonce = uuid.uuid4().hex, os.urandom(12)
            ct = AESGCM(dek).encrypt(nonce, text.encode(), content_aad(cid, tenant))
            ref = ContentRef(
                id=cid, dek_id=legacy_id, sha256=hashlib.sha256(nonce + ct).hexdigest()
            )
            return SealedContent(ref, (cid, tenant, legacy_id, nonce, ct))

    clock = Clock(T0)

    async def run():
        store = open_store(config, tmp_path)  # migrates: adds the period column
        store.add_data_key(DataKeyRow(legacy_id, "acme", kek.kek_id,
                                      kek.wrap(dek, _key_context(legacy_id, "acme")),
                                      "2026-03-01T11:00:00.000Z", None))  # fmt: skip
        log = AuditLog(store, signer, config, kek=kek, clock=clock)
        log.vault = LegacyVault(store, kek)
        await log.start()
        await log.append(make_record(0), content="legacy <PERSON_1>")
        log.vault = ContentVault(store, kek)  # the upgraded release
        await log.append(make_record(1), content="new <PERSON_1>")
        recs = await _records(log)
        texts = [await log.read_content(recs[r][1]) for r in ("req-0", "req-1")]
        periods = sorted((k.period or "-") for k in store.data_keys("acme"))
        before = await log.export(tmp_path / "a.zip", None, None, with_content=True)
        clock.now = T0 + 5 * DAY  # legacy content of T0 is exactly 5 days old: due
        erased = await log.expire_content()
        with pytest.raises(ContentShredded):
            await log.read_content(recs["req-0"][1])
        export = await log.export(tmp_path / "b.zip", None, None, with_content=True)
        await log.close()
        store.close()
        return texts, periods, erased, export, before

    texts, periods, erased, export, before = asyncio.run(run())
    # Legacy content is exported with its ciphertext only (its tenant key is never exported):
    # the commitment is checked, the text cannot be, and the verifier says so.
    legacy = verify_bundle(before.path)
    assert legacy.ok and legacy.content is not None
    assert (legacy.content.verified, legacy.content.unbound) == (1, 1)
    assert "1 legacy (ciphertext only)" in legacy.reason
    assert texts == ["legacy <PERSON_1>", "new <PERSON_1>"]
    assert periods == ["-", "2026-03-01"]
    # The day key of 2026-03-01 ends on 03-02, later than the cutoff (T0): it stays.
    assert [(e.keys, e.contents, e.periods) for e in erased] == [(1, 1, ("legacy",))]
    assert export.contents == {"present": 1, "shredded": 1, "absent": 0}
    assert verify_bundle(export.path).ok
    # The period column cannot be changed either (the re-created trigger covers it).
    with pytest.raises(Exception, match="only be shredded"):
        _raw(config, "UPDATE audit_data_key SET period = '2030-01-01'")


def test_a_key_being_used_for_a_late_record_is_not_expired_before_its_content_lands(
    tmp_path: Path,
) -> None:
    """A late record (its day already past retention) gets a key now; the expiry must not
    destroy that key between sealing and commit, only once it seals something."""
    config = AuditConfig(sqlite_path=str(tmp_path / "a.db"), capture="redacted")
    store = open_store(config, tmp_path)
    vault = ContentVault(store, FileKek(tmp_path / "kek"))
    now = datetime.now(UTC)
    sealed = vault.seal("acme", "<PERSON_1>", "2020-01-01")  # sealed, not yet committed
    assert vault.expire(lambda _: 1, now) == []
    store.append_batch(0, [], [sealed.row(0)])  # the content lands
    (erased,) = vault.expire(lambda _: 1, now)
    assert (erased.keys, erased.contents, erased.periods) == (1, 1, ("2020-01-01",))
    with pytest.raises(ContentShredded):
        vault.open(sealed.ref)
    store.close()


def test_destroyed_key_bytes_are_gone_from_the_database_files(
    backend: Callable[..., AuditConfig], tmp_path: Path
) -> None:
    """SQLite overwrites a destroyed key (secure_delete, WAL truncated); PostgreSQL's store
    VACUUMs the key table after destroying (this test's role owns it)."""
    config = backend(capture="redacted")
    store = open_store(config, tmp_path)
    vault = ContentVault(store, FileKek(tmp_path / "kek"))
    for day in ("2026-03-01", "2026-03-02"):
        vault.seal("acme", "<PERSON_1>", day)
    wrapped = [k.wrapped for k in store.data_keys("acme")]
    assert len(wrapped) == 2 and all(w is not None and len(w) == 60 for w in wrapped)
    if config.store == "sqlite":

        def files() -> bytes:
            return b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))

        assert all(w in files() for w in wrapped)  # on disk before
        assert vault.shred_tenant("acme").keys == 2
        assert not any(w in files() for w in wrapped)  # overwritten, not just unlinked
    else:
        assert vault.shred_tenant("acme").keys == 2
        assert store.reclaim_shredded() is True
    assert all(k.wrapped is None for k in store.data_keys("acme"))
    store.close()
