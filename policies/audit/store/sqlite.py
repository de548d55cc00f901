"""SQLite audit store: WAL, synchronous=FULL, append-only triggers."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..checkpoint import Checkpoint
from ..errors import AuditUnavailable, ContentKeyDestroyed, StoreConflict
from .base import ContentRow, DataKeyRow, LeafRow, RecordFilter

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_leaf (
    idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, time TEXT NOT NULL, tenant TEXT,
    event_type TEXT NOT NULL, outcome TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS audit_leaf_time ON audit_leaf (time);
CREATE INDEX IF NOT EXISTS audit_leaf_tenant_time ON audit_leaf (tenant, time);
CREATE TABLE IF NOT EXISTS audit_checkpoint (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tree_size INTEGER NOT NULL, root_hash BLOB NOT NULL,
    time TEXT NOT NULL, key_id TEXT NOT NULL, body BLOB NOT NULL, signature BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS audit_checkpoint_time ON audit_checkpoint (time);
CREATE TABLE IF NOT EXISTS audit_content (
    content_id TEXT PRIMARY KEY, idx INTEGER NOT NULL, tenant TEXT NOT NULL, dek_id TEXT NOT NULL,
    nonce BLOB NOT NULL, ciphertext BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_data_key (
    dek_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, kek_id TEXT NOT NULL, wrapped BLOB,
    created TEXT NOT NULL, shredded TEXT, period TEXT);
CREATE INDEX IF NOT EXISTS audit_data_key_tenant ON audit_data_key (tenant, created);
CREATE INDEX IF NOT EXISTS audit_content_dek ON audit_content (dek_id);
"""

# Logs created before keys had periods: add the column (legacy keys keep period NULL) and
# re-create the key trigger so that the period, too, can never change.
_MIGRATE_PERIOD = """
ALTER TABLE audit_data_key ADD COLUMN period TEXT;
DROP TRIGGER IF EXISTS audit_data_key_only_shred;
"""

_APPEND_ONLY = ("audit_leaf", "audit_checkpoint", "audit_content")

_TRIGGERS = (
    "".join(
        f"""
CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;
"""
        for t in _APPEND_ONLY
    )
    + """
CREATE TRIGGER IF NOT EXISTS audit_data_key_only_shred BEFORE UPDATE ON audit_data_key
WHEN NEW.wrapped IS NOT NULL OR NEW.dek_id IS NOT OLD.dek_id OR NEW.tenant IS NOT OLD.tenant
  OR NEW.kek_id IS NOT OLD.kek_id OR NEW.created IS NOT OLD.created
  OR NEW.period IS NOT OLD.period
BEGIN SELECT RAISE(ABORT, 'audit_data_key rows may only be shredded'); END;
CREATE TRIGGER IF NOT EXISTS audit_data_key_no_delete BEFORE DELETE ON audit_data_key
BEGIN SELECT RAISE(ABORT, 'audit_data_key rows are shredded, not deleted'); END;
"""
)

_LEAF_COLS = "idx, leaf_hash, time, tenant, event_type, outcome, body"


def _leaf(row: tuple) -> LeafRow:
    return LeafRow(row[0], bytes(row[1]), row[2], row[3], row[4], row[5], bytes(row[6]))


def _key(row: tuple) -> DataKeyRow:
    return DataKeyRow(row[0], row[1], row[2], None if row[3] is None else bytes(row[3]), *row[4:])


_KEY_COLS = "dek_id, tenant, kek_id, wrapped, created, shredded, period"


class SqliteStore:
    """One writer connection and one reader connection (WAL: readers never block the writer)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self._busy = busy_timeout_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._w = self._connect()
            self._w.executescript(_SCHEMA)
            columns = {r[1] for r in self._w.execute("PRAGMA table_info(audit_data_key)")}
            if "period" not in columns:
                self._w.executescript(f"BEGIN IMMEDIATE;{_MIGRATE_PERIOD}COMMIT;")
            self._w.executescript(_TRIGGERS)
            self._r = self._connect()
        except (sqlite3.Error, OSError) as e:
            raise AuditUnavailable(f"cannot open audit store {self.path}: {e}") from e
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self._busy
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")  # shredded key bytes are overwritten on disk
        conn.execute(f"PRAGMA busy_timeout={int(self._busy * 1000)}")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._wlock:
            c = self._w
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def size(self) -> int:
        with self._rlock:
            return self._r.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaf").fetchone()[0]

    def append_batch(
        self, start: int, leaves: Sequence[LeafRow], contents: Sequence[ContentRow] = ()
    ) -> None:
        with self._write() as c:
            actual = c.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaf").fetchone()[0]
            if actual != start:
                raise StoreConflict(start, actual)
            c.executemany(
                f"INSERT INTO audit_leaf ({_LEAF_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)", leaves
            )
            if contents:
                used = sorted({x.dek_id for x in contents})
                marks = ", ".join("?" * len(used))
                live = {
                    r[0]
                    for r in c.execute(
                        f"SELECT dek_id FROM audit_data_key WHERE dek_id IN ({marks})"
                        " AND wrapped IS NOT NULL",
                        used,
                    )
                }
                if len(live) != len(used):
                    raise ContentKeyDestroyed(set(used) - live)
                c.executemany(
                    "INSERT INTO audit_content VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (x.content_id, x.index, x.tenant, x.dek_id, x.nonce, x.ciphertext)
                        for x in contents
                    ],
                )

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        # A dedicated connection: a long scan must not hold the shared reader's lock.
        conn = self._connect()
        try:
            cur = conn.execute(
                "SELECT leaf_hash FROM audit_leaf WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, end if end is not None else 2**62),
            )
            while rows := cur.fetchmany(65536):
                for (h,) in rows:
                    yield bytes(h)
        finally:
            conn.close()

    def leaves(self, start: int, end: int) -> list[LeafRow]:
        with self._rlock:
            rows = self._r.execute(
                f"SELECT {_LEAF_COLS} FROM audit_leaf WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, end),
            ).fetchall()
        return [_leaf(r) for r in rows]

    def query(self, where: RecordFilter, after: int | None, limit: int) -> list[LeafRow]:
        clause, args = where.where("?")
        sql = f"SELECT {_LEAF_COLS} FROM audit_leaf WHERE {clause} AND idx > ? ORDER BY idx LIMIT ?"
        with self._rlock:
            rows = self._r.execute(sql, [*args, -1 if after is None else after, limit]).fetchall()
        return [_leaf(r) for r in rows]

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self._write() as c:
            c.execute(
                "INSERT INTO audit_checkpoint (tree_size, root_hash, time, key_id, body, signature)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    checkpoint.tree_size,
                    checkpoint.root_hash,
                    checkpoint.time,
                    checkpoint.key_id,
                    checkpoint.body,
                    checkpoint.signature,
                ),
            )

    def latest_checkpoint(self) -> Checkpoint | None:
        with self._rlock:
            row = self._r.execute(
                "SELECT body, signature FROM audit_checkpoint ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return Checkpoint.from_signed(bytes(row[0]), bytes(row[1])) if row else None

    def checkpoints(self, start: str | None = None, end: str | None = None) -> list[Checkpoint]:
        with self._rlock:
            rows = self._r.execute(
                "SELECT body, signature FROM audit_checkpoint WHERE time >= ? AND time < ?"
                " ORDER BY seq",
                (start or "", end or "\uffff"),
            ).fetchall()
        return [Checkpoint.from_signed(bytes(b), bytes(s)) for b, s in rows]

    def content(self, content_id: str) -> ContentRow | None:
        with self._rlock:
            row = self._r.execute(
                "SELECT content_id, idx, tenant, dek_id, nonce, ciphertext FROM audit_content"
                " WHERE content_id = ?",
                (content_id,),
            ).fetchone()
        return (
            ContentRow(row[0], row[1], row[2], row[3], bytes(row[4]), bytes(row[5]))
            if row
            else None
        )

    def add_data_key(self, row: DataKeyRow) -> None:
        with self._write() as c:
            c.execute(
                f"INSERT INTO audit_data_key ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.dek_id, row.tenant, row.kek_id, row.wrapped, row.created, row.shredded,
                 row.period),
            )  # fmt: skip

    def data_keys(self, tenant: str | None = None) -> list[DataKeyRow]:
        sql = f"SELECT {_KEY_COLS} FROM audit_data_key"
        args: tuple = ()
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args = (tenant,)
        with self._rlock:
            rows = self._r.execute(sql + " ORDER BY created, dek_id", args).fetchall()
        return [_key(r) for r in rows]

    def shred_data_keys(self, tenant: str, at: str) -> int:
        with self._write() as c:
            n = c.execute(
                "UPDATE audit_data_key SET wrapped = NULL, shredded = ?"
                " WHERE tenant = ? AND wrapped IS NOT NULL",
                (at, tenant),
            ).rowcount
        self.reclaim_shredded()
        return n

    def shred_keys(self, dek_ids: Sequence[str], at: str) -> int:
        if not dek_ids:
            return 0
        marks = ", ".join("?" * len(dek_ids))
        with self._write() as c:
            n = c.execute(
                "UPDATE audit_data_key SET wrapped = NULL, shredded = ?"
                f" WHERE dek_id IN ({marks}) AND wrapped IS NOT NULL",
                (at, *dek_ids),
            ).rowcount
        self.reclaim_shredded()
        return n

    def content_count(self, dek_ids: Sequence[str]) -> int:
        if not dek_ids:
            return 0
        marks = ", ".join("?" * len(dek_ids))
        with self._rlock:
            return self._r.execute(
                f"SELECT COUNT(*) FROM audit_content WHERE dek_id IN ({marks})", tuple(dek_ids)
            ).fetchone()[0]

    def key_last_used(self, dek_id: str) -> str | None:
        with self._rlock:
            return self._r.execute(
                "SELECT MAX(l.time) FROM audit_content c JOIN audit_leaf l ON l.idx = c.idx"
                " WHERE c.dek_id = ?",
                (dek_id,),
            ).fetchone()[0]

    def reclaim_shredded(self) -> bool:
        # secure_delete zeroed the old key bytes in the pages; move those pages out of the WAL
        # into the main file so that no copy of a destroyed key stays in the log file.
        with self._wlock:
            self._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True

    def close(self) -> None:
        with self._wlock, self._rlock:
            self._w.close()
            self._r.close()
