"""SQLite state store: one file in the data folder (WAL), shared by every process on the host.

Writes run in ``BEGIN IMMEDIATE`` transactions, so concurrent writers in several processes
serialize on SQLite's lock (waiting up to ``timeout_s``) instead of failing. The ``api_keys``
table has the layout of the former ``keys.db``, so an old key file is also a valid state file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from . import _sql
from . import claims as claims_
from .base import KeyRecord, StateConflict, StateUnavailable, StoredPolicy, check_name
from .claims import Claim

__all__ = ["SqliteStateStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    role        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE IF NOT EXISTS policy_version (
    version TEXT PRIMARY KEY, documents TEXT NOT NULL, published_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policy_active (
    id INTEGER PRIMARY KEY CHECK (id = 1), version TEXT NOT NULL, activated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state_kv (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires_at REAL,
    PRIMARY KEY (namespace, key));
CREATE TABLE IF NOT EXISTS state_counter (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL, expires_at REAL,
    PRIMARY KEY (namespace, key));
CREATE INDEX IF NOT EXISTS state_kv_expiry ON state_kv (expires_at);
CREATE INDEX IF NOT EXISTS state_counter_expiry ON state_counter (expires_at);
"""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqliteStateStore:
    """The embedded default. One connection per thread; safe across processes."""

    def __init__(self, path: Path, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._timeout = timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn().executescript(_SCHEMA)  # idempotent; runs in its own transaction
        except (OSError, sqlite3.Error) as exc:
            raise StateUnavailable(f"cannot open the state store: {type(exc).__name__}") from exc

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: the write lock is taken up front)."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StateUnavailable(f"state store write failed: {type(exc).__name__}") from exc

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StateUnavailable(f"state store read failed: {type(exc).__name__}") from exc

    # --- API keys -------------------------------------------------------------------------
    def insert_key(self, record: KeyRecord) -> None:
        try:
            with self._tx() as conn:
                conn.execute(_sql.INSERT_KEY, _sql.key_row(record))
        except sqlite3.IntegrityError as exc:
            raise StateConflict("key id exists") from exc

    def get_key(self, key_id: str) -> KeyRecord | None:
        rows = self._read(_sql.GET_KEY, (key_id,))
        return _sql.key_record(rows[0]) if rows else None

    def revoke_key(self, key_id: str, revoked_at: str) -> bool:
        with self._tx() as conn:
            return conn.execute(_sql.REVOKE_KEY, (revoked_at, key_id)).rowcount == 1

    def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        sql, args = _sql.LIST_KEYS, ()
        if tenant:
            sql, args = sql + " WHERE tenant = ?", (tenant,)
        return [_sql.key_record(r) for r in self._read(sql + _sql.LIST_KEYS_ORDER, args)]

    def count_keys(self) -> int:
        return int(self._read(_sql.COUNT_KEYS)[0][0])

    def import_keys(self, records: list[KeyRecord]) -> int:
        with self._tx() as conn:
            return sum(conn.execute(_sql.IMPORT_KEY, _sql.key_row(r)).rowcount for r in records)

    # --- the active policy ----------------------------------------------------------------
    def publish_policy(self, policy: StoredPolicy, *, only_if_none: bool = False) -> str:
        now = _now_iso()
        with self._tx() as conn:
            docs = _sql.encode_documents(policy.documents)
            conn.execute(_sql.INSERT_POLICY, (policy.version, docs, now))
            activate = _sql.ACTIVATE_IF_NONE if only_if_none else _sql.ACTIVATE
            conn.execute(activate, (policy.version, now))
            return str(conn.execute(_sql.ACTIVE_VERSION).fetchone()[0])

    def active_policy_version(self) -> str | None:
        rows = self._read(_sql.ACTIVE_VERSION)
        return str(rows[0][0]) if rows else None

    def active_policy(self) -> StoredPolicy | None:
        rows = self._read(_sql.ACTIVE_POLICY)
        return _sql.policy_record(rows[0]) if rows else None

    # --- generic values and counters ------------------------------------------------------
    def get(self, namespace: str, key: str) -> bytes | None:
        check_name(namespace, key)
        rows = self._read(_sql.KV_GET, (namespace, key, time.time()))
        return bytes(rows[0][0]) if rows else None

    def put(self, namespace: str, key: str, value: bytes, ttl_s: float | None = None) -> None:
        check_name(namespace, key)
        expires = _sql.expiry(time.time(), ttl_s)
        with self._tx() as conn:
            conn.execute(_sql.KV_PUT, (namespace, key, bytes(value), expires))

    def put_if_absent(
        self, namespace: str, key: str, value: bytes, ttl_s: float | None = None
    ) -> bool:
        check_name(namespace, key)
        now = time.time()
        args = (namespace, key, bytes(value), _sql.expiry(now, ttl_s), now)
        with self._tx() as conn:
            return conn.execute(_sql.KV_PUT_IF_ABSENT, args).rowcount == 1

    def delete(self, namespace: str, key: str) -> bool:
        check_name(namespace, key)
        with self._tx() as conn:
            return conn.execute(_sql.KV_DELETE, (namespace, key, time.time())).rowcount == 1

    def items(self, namespace: str, prefix: str = "", limit: int = 1000) -> list[tuple[str, bytes]]:
        check_name(namespace, prefix or "x")
        sql, args = _sql.KV_ITEMS, (namespace, time.time())
        bounds = _sql.prefix_range(prefix)
        if bounds:
            sql, args = sql + " AND key >= ? AND key < ?", (*args, *bounds)
        rows = self._read(sql + " ORDER BY key LIMIT ?", (*args, int(limit)))
        return [(str(k), bytes(v)) for k, v in rows]

    def incr(self, namespace: str, key: str, delta: int = 1, ttl_s: float | None = None) -> int:
        check_name(namespace, key)
        now = time.time()
        args = (namespace, key, int(delta), _sql.expiry(now, ttl_s), now, now)
        with self._tx() as conn:
            return int(conn.execute(_sql.COUNTER_INCR, args).fetchone()[0])

    def counter(self, namespace: str, key: str) -> int:
        check_name(namespace, key)
        rows = self._read(_sql.COUNTER_GET, (namespace, key, time.time()))
        return int(rows[0][0]) if rows else 0

    # --- atomic claims (state/claims.py) --------------------------------------------------
    @contextmanager
    def _claims_tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for counters, committed without an fsync (WAL, synchronous
        NORMAL: a power cut can lose the last moments of counter increments, never corrupt
        them); keys and policies keep synchronous=FULL."""
        conn = self._conn()
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StateUnavailable(f"state store write failed: {type(exc).__name__}") from exc
        try:
            with self._tx() as tx:
                yield tx
        finally:
            conn.execute("PRAGMA synchronous=FULL")

    def reserve(self, claims: Sequence[Claim], values: list[int] | None = None) -> int | None:
        refused = claims_.precheck(claims)
        if refused is not None or not claims:
            return refused
        try:
            with self._claims_tx() as conn:
                claims_.reserve_claims(conn, claims, time.time(), values=values)
        except claims_.ClaimRefused as exc:
            return exc.index
        return None

    def settle(self, claims: Sequence[Claim]) -> None:
        if claims:
            with self._claims_tx() as conn:
                claims_.settle_claims(conn, claims, time.time())

    def counters(
        self, namespace: str, prefix: str = "", limit: int = 100_000
    ) -> list[tuple[str, int]]:
        try:
            return claims_.list_counters(self._conn(), namespace, prefix, limit, time.time())
        except sqlite3.Error as exc:
            raise StateUnavailable(f"state store read failed: {type(exc).__name__}") from exc

    def purge_expired(self) -> int:
        now = time.time()
        with self._tx() as conn:
            kv = conn.execute(_sql.PURGE_KV, (now,)).rowcount
            return kv + conn.execute(_sql.PURGE_COUNTERS, (now,)).rowcount

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
