"""Store behaviour on both backends: round trip, append-only enforcement, conflict detection."""

from __future__ import annotations

import sqlite3

import pytest

from policies.audit import StoreConflict
from policies.audit.checkpoint import sign_checkpoint
from policies.audit.merkle import MerkleTree, leaf_hash
from policies.audit.record import format_time
from policies.audit.store.base import AuditStore, DataKeyRow, LeafRow, RecordFilter
from policies.audit.store.sqlite import SqliteStore

from .conftest import T0, make_record


def rows(start: int, n: int, tenant: str = "acme") -> list[LeafRow]:
    out = []
    for i in range(start, start + n):
        r = make_record(i, tenant=tenant)
        body = r.canonical_bytes()
        out.append(LeafRow(i, leaf_hash(body), r.time, tenant, r.event_type,
                           r.outcome, body))  # fmt: skip
    return out


def raw_execute(store: AuditStore, statement: str) -> None:
    """Run SQL through a fresh connection of the store's own database (bypassing the store)."""
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path, isolation_level=None)
        try:
            conn.execute(statement)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(store.dsn, options=f"-c search_path={store.schema}") as c:  # type: ignore[attr-defined]
        c.execute(statement)


def test_append_and_read_back(store: AuditStore) -> None:
    store.append_batch(0, rows(0, 5))
    store.append_batch(5, rows(5, 3, tenant="globex"))
    assert store.size() == 8
    assert [r.index for r in store.leaves(2, 6)] == [2, 3, 4, 5]
    assert list(store.leaf_hashes()) == [r.leaf_hash for r in rows(0, 5) + rows(5, 3, "globex")]
    page = store.query(RecordFilter(tenant="globex"), after=None, limit=2)
    assert [r.index for r in page] == [5, 6]
    assert [r.index for r in store.query(RecordFilter(tenant="globex"), 6, 10)] == [7]
    t = format_time(T0)
    assert (
        len(store.query(RecordFilter(start=t, end=format_time(T0.replace(second=3))), None, 99))
        == 3
    )


def test_conflicting_start_writes_nothing(store: AuditStore) -> None:
    store.append_batch(0, rows(0, 2))
    with pytest.raises(StoreConflict):
        store.append_batch(1, rows(1, 3))
    assert store.size() == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_leaf SET outcome = 'failure' WHERE idx = 0",
        "DELETE FROM audit_leaf WHERE idx = 0",
        "UPDATE audit_checkpoint SET tree_size = 99",
        "DELETE FROM audit_checkpoint",
    ],
)
def test_append_only_is_enforced_by_the_database(store: AuditStore, signer, statement: str) -> None:
    store.append_batch(0, rows(0, 2))
    tree = MerkleTree(r.leaf_hash for r in rows(0, 2))
    store.add_checkpoint(sign_checkpoint(signer, 2, tree.root(), T0))
    with pytest.raises(Exception, match="append-only"):
        raw_execute(store, statement)
    assert store.size() == 2
    assert store.leaves(0, 1)[0].outcome == "success"
    assert store.latest_checkpoint().tree_size == 2  # type: ignore[union-attr]


@pytest.mark.postgres
def test_postgres_rejects_truncate(pg_schema: str) -> None:
    from policies.audit.store.postgres import PostgresStore

    from .conftest import PG_DSN

    store = PostgresStore(PG_DSN, schema=pg_schema)
    store.append_batch(0, rows(0, 1))
    with pytest.raises(Exception, match="append-only"):
        raw_execute(store, "TRUNCATE audit_leaf")
    assert store.size() == 1
    store.close()


def test_data_keys_may_only_be_shredded(store: AuditStore) -> None:
    store.add_data_key(DataKeyRow("a" * 32, "acme", "k" * 32, b"wrapped", "2026", None))
    with pytest.raises(Exception, match="shredded"):
        raw_execute(store, "UPDATE audit_data_key SET tenant = 'globex'")
    with pytest.raises(Exception, match="shredded"):
        raw_execute(store, "DELETE FROM audit_data_key")
    assert store.shred_data_keys("acme", "2027") == 1
    (key,) = store.data_keys("acme")
    assert key.wrapped is None and key.shredded == "2027"
    assert store.shred_data_keys("acme", "2028") == 0
