"""The sequencer: group commit, durability, restart, checkpoints, fail-closed behaviour."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.audit import (
    AuditConfig,
    AuditIntegrityError,
    AuditLog,
    AuditUnavailable,
    FileKek,
    RecordFilter,
    append_direct,
    open_store,
)
from policies.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from policies.audit.store.sqlite import SqliteStore

from .conftest import make_record
from .test_store import raw_execute

FAST = dict(batch_max_wait_ms=1.0, checkpoint_every_seconds=60.0)


async def started(store, signer, config: AuditConfig, **kw) -> AuditLog:
    log = AuditLog(store, signer, config, **kw)
    await log.start()
    return log


def test_concurrent_appends_are_group_committed_durable_and_distinct(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    config = backend(**FAST)

    async def run() -> tuple[list[int], AuditLog]:
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        records = [make_record(i, tenant=f"t{i % 3}") for i in range(400)]
        indices = await asyncio.gather(*(log.append(r) for r in records))
        await log.close()
        store.close()
        return indices, log

    indices, log = asyncio.run(run())
    assert sorted(indices) == list(range(400))
    assert log.stats.records == 400 and log.stats.commits < 400  # batched, not one per record
    # Durable: a fresh store connection sees every record at the index append returned.
    store = open_store(config, tmp_path)
    rows = store.leaves(0, 400)
    store.close()
    by_request = {AuditRecordId(r.body): r.index for r in rows}
    for i, index in enumerate(indices):
        assert by_request[f"req-{i}"] == index


def AuditRecordId(body: bytes) -> str:
    import json

    return json.loads(body)["request_id"]


def test_restart_recovers_the_tree_and_continues(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    config = backend(**FAST)

    async def first() -> tuple[bytes, int]:
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        await asyncio.gather(*(log.append(make_record(i)) for i in range(37)))
        await log.close()  # signs a final checkpoint
        store.close()
        cp = log.latest_checkpoint()
        assert cp is not None
        return cp.root_hash, cp.tree_size

    async def second() -> tuple[AuditLog, int]:
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        index = await log.append(make_record(100))
        await log.close()
        store.close()
        return log, index

    root, size = asyncio.run(first())
    log, index = asyncio.run(second())
    assert size == 37 and index == 37 and log.size == 38
    assert log.root(37) == root
    cp = log.latest_checkpoint()
    assert cp is not None and cp.tree_size == 38
    proof = log.consistency_proof(37, 38)
    assert verify_consistency(37, 38, root, cp.root_hash, proof)


def test_checkpoints_every_n_records_and_when_idle(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    config = backend(batch_max_wait_ms=0, checkpoint_every_records=10, checkpoint_every_seconds=0.3)

    async def run():
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        for i in range(25):  # sequential: 25 commits, checkpoints due at 10 and 20
            await log.append(make_record(i))
        await asyncio.sleep(0.05)
        sizes_after_load = [c.tree_size for c in store.checkpoints()]
        await asyncio.sleep(1.0)  # idle: checkpoints keep coming, same size, later times
        cps = store.checkpoints()
        await log.close()
        store.close()
        return sizes_after_load, cps

    sizes, cps = asyncio.run(run())
    assert any(10 <= s < 20 for s in sizes) and any(20 <= s <= 25 for s in sizes)
    idle = [c for c in cps if c.tree_size == 25]
    assert len(idle) >= 2, "an idle log must keep signing checkpoints"
    assert len({c.time for c in idle}) == len(idle)
    assert all(c.verify(signer.public_key_pem()) for c in cps)


def test_proofs_from_the_log_verify_against_its_checkpoint(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    config = backend(**FAST)

    async def run():
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        await asyncio.gather(*(log.append(make_record(i)) for i in range(21)))
        cp = await log.checkpoint_now()
        page1 = await log.query(RecordFilter(tenant="acme"), limit=15)
        page2 = await log.query(RecordFilter(tenant="acme"), limit=15, cursor=page1.next_cursor)
        await log.close()
        store.close()
        return log, cp, page1, page2

    log, cp, page1, page2 = asyncio.run(run())
    for i in range(21):
        assert verify_inclusion(i, 21, log._tree.leaf(i), log.inclusion_proof(i, 21), cp.root_hash)
    assert [i for i, _ in page1.records] == list(range(15)) and page1.next_cursor == 14
    assert [i for i, _ in page2.records] == list(range(15, 21)) and page2.next_cursor is None
    assert page2.records[0][1].request_id == "req-15"


def test_sqlite_locked_store_fails_closed_then_recovers(tmp_path: Path, signer) -> None:
    path = tmp_path / "audit.db"
    config = AuditConfig(sqlite_path=str(path), **FAST)

    async def run():
        store = SqliteStore(path, busy_timeout_s=0.2)
        log = await started(store, signer, config)
        assert await log.append(make_record(0)) == 0
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # a real competing lock: the store cannot write
        results = await asyncio.gather(
            *(log.append(make_record(i)) for i in range(1, 6)), return_exceptions=True
        )
        blocker.execute("ROLLBACK")
        blocker.close()
        after = await log.append(make_record(9))
        await log.close()
        return results, after, store.size()

    results, after, size = asyncio.run(run())
    assert all(isinstance(r, AuditUnavailable) for r in results)
    assert after == 1 and size == 2  # nothing of the failed batch was written


def test_failure_inside_the_transaction_leaves_nothing_half_written(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    """A database fault after the leaves were inserted (content insert fails) rolls back all."""
    config = backend(capture="redacted", **FAST)
    kek = FileKek(tmp_path / "kek")

    async def run():
        store = open_store(config, tmp_path)
        log = await started(store, signer, config, kek=kek)
        await log.append(make_record(0), content="<PERSON_1> asked about <MRN_1>")
        if config.store == "sqlite":
            raw_execute(store, "CREATE TRIGGER fault BEFORE INSERT ON audit_content "
                               "BEGIN SELECT RAISE(ABORT, 'injected disk fault'); END")  # fmt: skip
        else:
            raw_execute(store, "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS "
                               "$$ BEGIN RAISE EXCEPTION 'injected disk fault'; END $$; "
                               "CREATE TRIGGER fault BEFORE INSERT ON audit_content "
                               "FOR EACH ROW EXECUTE FUNCTION fault()")  # fmt: skip
        results = await asyncio.gather(
            *(log.append(make_record(i), content=f"text {i}") for i in range(1, 8)),
            return_exceptions=True,
        )
        size_during = store.size()
        raw_execute(
            store, "DROP TRIGGER fault" + ("" if config.store == "sqlite" else " ON audit_content")
        )
        after = await log.append(make_record(20), content="later")
        await log.close()
        tree = MerkleTree(store.leaf_hashes())
        bodies = [leaf_hash(r.body) for r in store.leaves(0, store.size())]
        store.close()
        return results, size_during, after, tree, bodies, log

    results, size_during, after, tree, bodies, log = asyncio.run(run())
    assert all(isinstance(r, AuditUnavailable) for r in results)
    assert size_during == 1 and after == 1
    assert tree.root() == log.root() and [tree.leaf(i) for i in range(2)] == bodies


@pytest.mark.postgres
def test_postgres_connection_killed_fails_closed_then_reconnects(
    pg_schema: str, tmp_path: Path, signer
) -> None:
    import psycopg

    from .conftest import PG_DSN

    config = AuditConfig(store="postgres", dsn=PG_DSN, pg_schema=pg_schema, **FAST)

    async def run():
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        assert await log.append(make_record(0)) == 0
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s",
                (store._w.info.backend_pid,),  # type: ignore[attr-defined]
            )
        failed = await asyncio.gather(log.append(make_record(1)), return_exceptions=True)
        after = await log.append(make_record(2))
        await log.close()
        size = store.size()
        store.close()
        return failed, after, size

    failed, after, size = asyncio.run(run())
    assert isinstance(failed[0], AuditUnavailable)
    assert after == 1 and size == 2


@pytest.mark.postgres
def test_postgres_unreachable_is_audit_unavailable(tmp_path: Path) -> None:
    config = AuditConfig(store="postgres", dsn="postgresql://postgres@127.0.0.1:1/none")
    with pytest.raises(AuditUnavailable):
        open_store(config, tmp_path)


def test_foreign_append_is_caught_up(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    """The CLI appends audit.exported beside a running sequencer; indices stay consistent."""
    config = backend(**FAST)

    async def run():
        store = open_store(config, tmp_path)
        other = open_store(config, tmp_path)
        log = await started(store, signer, config)
        await log.append(make_record(0))
        foreign = append_direct(other, make_record(1, event_type="audit.exported"))
        mine = await log.append(make_record(2))
        await log.close()
        tree = MerkleTree(other.leaf_hashes())
        other.close()
        store.close()
        return foreign, mine, tree, log

    foreign, mine, tree, log = asyncio.run(run())
    assert (foreign, mine) == (1, 2)
    assert log.root() == tree.root() and log.latest_checkpoint().root_hash == tree.root()


def test_tampered_store_is_refused_at_start(tmp_path: Path, signer) -> None:
    path = tmp_path / "audit.db"
    config = AuditConfig(sqlite_path=str(path), **FAST)

    async def fill():
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        await asyncio.gather(*(log.append(make_record(i)) for i in range(5)))
        await log.close()
        store.close()

    asyncio.run(fill())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_leaf_no_delete")  # an attacker with file access
    conn.execute("DELETE FROM audit_leaf WHERE idx = 4")
    conn.close()

    async def restart():
        store = open_store(config, tmp_path)
        try:
            await AuditLog(store, signer, config).start()
        finally:
            store.close()

    with pytest.raises(AuditIntegrityError):
        asyncio.run(restart())


def test_append_refuses_when_not_started(tmp_path: Path, signer) -> None:
    config = AuditConfig(sqlite_path=str(tmp_path / "a.db"))
    store = open_store(config, tmp_path)
    log = AuditLog(store, signer, config)
    with pytest.raises(AuditUnavailable):
        asyncio.run(log.append(make_record(0)))
    store.close()


def test_inconsistent_foreign_leaf_halts_the_log_and_fails_closed(tmp_path: Path, signer) -> None:
    """A leaf appended behind the sequencer's back whose hash does not match its record."""
    path = tmp_path / "audit.db"
    config = AuditConfig(sqlite_path=str(path), **FAST)

    async def run():
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        await log.append(make_record(0))
        conn = sqlite3.connect(path, isolation_level=None)
        body = make_record(1).canonical_bytes()
        conn.execute(
            "INSERT INTO audit_leaf VALUES (1, ?, 't', 'acme', 'inference.chat', 'success', ?)",
            (leaf_hash(b"something else"), body),
        )
        conn.close()
        first = await asyncio.gather(log.append(make_record(2)), return_exceptions=True)
        second = await asyncio.gather(log.append(make_record(3)), return_exceptions=True)
        await log.close()
        store.close()
        return first[0], second[0]

    first, second = asyncio.run(run())
    assert isinstance(first, AuditUnavailable) and "halted" in str(first)
    assert isinstance(second, AuditUnavailable) and "halted" in str(second)


def test_build_audit_log_from_configuration(tmp_path: Path) -> None:
    from policies.audit import build_audit_log

    config = AuditConfig(capture="redacted", **FAST)

    async def run():
        log = await build_audit_log(config, tmp_path)
        index = await log.append(make_record(0), content="<PERSON_1> called")
        ((_, rec),) = (await log.query(RecordFilter())).records
        text = await log.read_content(rec)
        await log.close()
        log.store.close()
        return index, text

    assert asyncio.run(run()) == (0, "<PERSON_1> called")
    for name in ("audit.db", "audit-signing.key", "audit-kek.key"):
        assert (tmp_path / name).exists()
    assert (tmp_path / "audit-kek.key").stat().st_mode & 0o777 == 0o600


def test_export_through_the_running_log(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    from policies.audit import verify_bundle

    config = backend(**FAST)

    async def run():
        store = open_store(config, tmp_path)
        log = await started(store, signer, config)
        await asyncio.gather(*(log.append(make_record(i, tenant=f"t{i % 2}")) for i in range(9)))
        summary = await log.export(tmp_path / "b.zip", None, None, tenant="t1", fmt="csv")
        exported = make_record(99, event_type="audit.exported", detail=summary.audit_detail())
        index = await log.append(exported)
        await log.close()
        store.close()
        return summary, index

    summary, index = asyncio.run(run())
    assert summary.records == 4 and summary.anchor_tree_size == 9 and index == 9
    result = verify_bundle(summary.path, expected_key_id=signer.key_id)
    assert result.ok and result.records == 4, result.reason
