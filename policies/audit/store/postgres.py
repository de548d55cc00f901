"""PostgreSQL audit store: same schema as SQLite, append-only enforced by triggers.

Appends take a transaction-scoped advisory lock, so several writers (a sequencer and the CLI's
``audit.exported`` record) serialize and detect each other through StoreConflict.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql

from ..checkpoint import Checkpoint
from ..errors import AuditUnavailable, ContentKeyDestroyed, StoreConflict
from .base import ContentRow, DataKeyRow, LeafRow, RecordFilter

__all__ = ["PostgresStore"]

logger = logging.getLogger(__name__)

_APPEND_LOCK = 0x62617374696F6E  # "bastion"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_leaf (
    idx BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL, time TEXT NOT NULL, tenant TEXT,
    event_type TEXT NOT NULL, outcome TEXT NOT NULL, body BYTEA NOT NULL);
CREATE INDEX IF NOT EXISTS audit_leaf_time ON audit_leaf (time);
CREATE INDEX IF NOT EXISTS audit_leaf_tenant_time ON audit_leaf (tenant, time);
CREATE TABLE IF NOT EXISTS audit_checkpoint (
    seq BIGSERIAL PRIMARY KEY, tree_size BIGINT NOT NULL, root_hash BYTEA NOT NULL,
    time TEXT NOT NULL, key_id TEXT NOT NULL, body BYTEA NOT NULL, signature BYTEA NOT NULL);
CREATE INDEX IF NOT EXISTS audit_checkpoint_time ON audit_checkpoint (time);
CREATE TABLE IF NOT EXISTS audit_content (
    content_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, tenant TEXT NOT NULL, dek_id TEXT NOT NULL,
    nonce BYTEA NOT NULL, ciphertext BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS audit_data_key (
    dek_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, kek_id TEXT NOT NULL, wrapped BYTEA,
    created TEXT NOT NULL, shredded TEXT, period TEXT);
CREATE INDEX IF NOT EXISTS audit_data_key_tenant ON audit_data_key (tenant, created);
CREATE INDEX IF NOT EXISTS audit_content_dek ON audit_content (dek_id);
CREATE OR REPLACE FUNCTION audit_reject() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE OR REPLACE FUNCTION audit_key_only_shred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.wrapped IS NOT NULL OR NEW.dek_id IS DISTINCT FROM OLD.dek_id
     OR NEW.tenant IS DISTINCT FROM OLD.tenant OR NEW.kek_id IS DISTINCT FROM OLD.kek_id
     OR NEW.created IS DISTINCT FROM OLD.created OR NEW.period IS DISTINCT FROM OLD.period THEN
    RAISE EXCEPTION 'audit_data_key rows may only be shredded';
  END IF;
  RETURN NEW;
END $$;
"""

_TRIGGERS = (
    "".join(
        f"""
CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
    FOR EACH ROW EXECUTE FUNCTION audit_reject();
CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject();
"""
        for t in ("audit_leaf", "audit_checkpoint", "audit_content")
    )
    + """
CREATE OR REPLACE TRIGGER audit_data_key_only_shred BEFORE UPDATE OR DELETE ON audit_data_key
    FOR EACH ROW EXECUTE FUNCTION audit_key_only_shred();
CREATE OR REPLACE TRIGGER audit_data_key_no_truncate BEFORE TRUNCATE ON audit_data_key
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject();
"""
)

# ALTER TABLE locks the table even when the column exists: add it only when it is missing.
_HAS_PERIOD = (
    "SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
    " AND table_name = 'audit_data_key' AND column_name = 'period'"
)

_LEAF_COLS = "idx, leaf_hash, time, tenant, event_type, outcome, body"


_KEY_COLS = "dek_id, tenant, kek_id, wrapped, created, shredded, period"


def _leaf(row: tuple) -> LeafRow:
    return LeafRow(row[0], bytes(row[1]), row[2], row[3], row[4], row[5], bytes(row[6]))


class PostgresStore:
    """A writer and a reader connection, reconnected after failures."""

    def __init__(self, dsn: str, *, schema: str = "bastion_audit", connect_timeout: int = 5):
        self.dsn = dsn
        self.schema = schema
        self._timeout = connect_timeout
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._w: psycopg.Connection | None = None
        self._r: psycopg.Connection | None = None
        try:
            with self._wlock:
                c = self._conn("w")
                with c.transaction():
                    c.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))
                    c.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                    )
                    c.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
                    c.execute(_SCHEMA)
                    if not c.execute(_HAS_PERIOD, (schema,)).fetchone():
                        # A log from before keys had periods: legacy keys keep period NULL.
                        c.execute("ALTER TABLE audit_data_key ADD COLUMN period TEXT")
                    c.execute(_TRIGGERS)
        except psycopg.Error as e:
            raise AuditUnavailable(f"cannot open PostgreSQL audit store: {e}") from e

    def _conn(self, which: str) -> psycopg.Connection:
        cur = self._w if which == "w" else self._r
        if cur is None or cur.closed or cur.broken:
            cur = psycopg.connect(
                self.dsn,
                connect_timeout=self._timeout,
                options=f"-c search_path={self.schema}",
            )
            if which == "w":
                self._w = cur
            else:
                self._r = cur
        return cur

    @contextmanager
    def _write(self) -> Iterator[psycopg.Cursor]:
        with self._wlock:
            c = self._conn("w")
            with c.transaction(), c.cursor() as cur:
                yield cur

    @contextmanager
    def _read(self) -> Iterator[psycopg.Cursor]:
        with self._rlock:
            c = self._conn("r")
            with c.transaction(), c.cursor() as cur:
                yield cur

    def size(self) -> int:
        with self._read() as cur:
            return cur.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaf").fetchone()[0]

    def append_batch(
        self, start: int, leaves: Sequence[LeafRow], contents: Sequence[ContentRow] = ()
    ) -> None:
        with self._write() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))
            actual = cur.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaf").fetchone()[0]
            if actual != start:
                raise StoreConflict(start, actual)
            with cur.copy(f"COPY audit_leaf ({_LEAF_COLS}) FROM STDIN") as cp:
                for r in leaves:
                    cp.write_row(r)
            if contents:
                used = sorted({x.dek_id for x in contents})
                # FOR SHARE: a concurrent shred waits for this batch (or this batch sees it).
                live = {
                    r[0]
                    for r in cur.execute(
                        "SELECT dek_id FROM audit_data_key WHERE dek_id = ANY(%s)"
                        " AND wrapped IS NOT NULL FOR SHARE",
                        (used,),
                    ).fetchall()
                }
                if len(live) != len(used):
                    raise ContentKeyDestroyed(set(used) - live)
                with cur.copy(
                    "COPY audit_content (content_id, idx, tenant, dek_id, nonce, ciphertext)"
                    " FROM STDIN"
                ) as cp:
                    for x in contents:
                        cp.write_row(
                            (x.content_id, x.index, x.tenant, x.dek_id, x.nonce, x.ciphertext)
                        )

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        conn = psycopg.connect(
            self.dsn, connect_timeout=self._timeout, options=f"-c search_path={self.schema}"
        )
        try:
            with conn.transaction(), conn.cursor(name="audit_leaf_scan") as cur:
                cur.itersize = 65536
                cur.execute(
                    "SELECT leaf_hash FROM audit_leaf WHERE idx >= %s AND idx < %s ORDER BY idx",
                    (start, end if end is not None else 2**62),
                )
                for (h,) in cur:
                    yield bytes(h)
        finally:
            conn.close()

    def leaves(self, start: int, end: int) -> list[LeafRow]:
        with self._read() as cur:
            rows = cur.execute(
                f"SELECT {_LEAF_COLS} FROM audit_leaf WHERE idx >= %s AND idx < %s ORDER BY idx",
                (start, end),
            ).fetchall()
        return [_leaf(r) for r in rows]

    def query(self, where: RecordFilter, after: int | None, limit: int) -> list[LeafRow]:
        clause, args = where.where("%s")
        q = f"SELECT {_LEAF_COLS} FROM audit_leaf WHERE {clause} AND idx > %s ORDER BY idx LIMIT %s"
        with self._read() as cur:
            rows = cur.execute(q, [*args, -1 if after is None else after, limit]).fetchall()
        return [_leaf(r) for r in rows]

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO audit_checkpoint (tree_size, root_hash, time, key_id, body, signature)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
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
        with self._read() as cur:
            row = cur.execute(
                "SELECT body, signature FROM audit_checkpoint ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return Checkpoint.from_signed(bytes(row[0]), bytes(row[1])) if row else None

    def checkpoints(self, start: str | None = None, end: str | None = None) -> list[Checkpoint]:
        with self._read() as cur:
            rows = cur.execute(
                "SELECT body, signature FROM audit_checkpoint WHERE time >= %s AND time < %s"
                " ORDER BY seq",
                (start or "", end or "\uffff"),
            ).fetchall()
        return [Checkpoint.from_signed(bytes(b), bytes(s)) for b, s in rows]

    def content(self, content_id: str) -> ContentRow | None:
        with self._read() as cur:
            row = cur.execute(
                "SELECT content_id, idx, tenant, dek_id, nonce, ciphertext FROM audit_content"
                " WHERE content_id = %s",
                (content_id,),
            ).fetchone()
        return (
            ContentRow(row[0], row[1], row[2], row[3], bytes(row[4]), bytes(row[5]))
            if row
            else None
        )

    def add_data_key(self, row: DataKeyRow) -> None:
        with self._write() as cur:
            cur.execute(
                f"INSERT INTO audit_data_key ({_KEY_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (row.dek_id, row.tenant, row.kek_id, row.wrapped, row.created, row.shredded,
                 row.period),
            )  # fmt: skip

    def data_keys(self, tenant: str | None = None) -> list[DataKeyRow]:
        q = f"SELECT {_KEY_COLS} FROM audit_data_key"
        args: tuple = ()
        if tenant is not None:
            q += " WHERE tenant = %s"
            args = (tenant,)
        with self._read() as cur:
            rows = cur.execute(q + " ORDER BY created, dek_id", args).fetchall()
        return [
            DataKeyRow(r[0], r[1], r[2], None if r[3] is None else bytes(r[3]), r[4], r[5], r[6])
            for r in rows
        ]

    def shred_data_keys(self, tenant: str, at: str) -> int:
        """Destroy the wrapped keys. Dead row versions remain until VACUUM (see docs/audit.md)."""
        with self._write() as cur:
            n = cur.execute(
                "UPDATE audit_data_key SET wrapped = NULL, shredded = %s"
                " WHERE tenant = %s AND wrapped IS NOT NULL",
                (at, tenant),
            ).rowcount
        self.reclaim_shredded()
        return n

    def shred_keys(self, dek_ids: Sequence[str], at: str) -> int:
        if not dek_ids:
            return 0
        with self._write() as cur:
            n = cur.execute(
                "UPDATE audit_data_key SET wrapped = NULL, shredded = %s"
                " WHERE dek_id = ANY(%s) AND wrapped IS NOT NULL",
                (at, list(dek_ids)),
            ).rowcount
        self.reclaim_shredded()
        return n

    def content_count(self, dek_ids: Sequence[str]) -> int:
        if not dek_ids:
            return 0
        with self._read() as cur:
            return cur.execute(
                "SELECT COUNT(*) FROM audit_content WHERE dek_id = ANY(%s)", (list(dek_ids),)
            ).fetchone()[0]

    def key_last_used(self, dek_id: str) -> str | None:
        with self._read() as cur:
            return cur.execute(
                "SELECT MAX(l.time) FROM audit_content c JOIN audit_leaf l ON l.idx = c.idx"
                " WHERE c.dek_id = %s",
                (dek_id,),
            ).fetchone()[0]

    def reclaim_shredded(self) -> bool:
        """VACUUM audit_data_key, so the dead row versions holding destroyed keys are removed.

        VACUUM needs its own (autocommit) connection and the table's owner or a superuser; where
        the role may not, this returns False and the operator runs it (docs/audit.md, section 7).
        """
        try:
            with psycopg.connect(
                self.dsn,
                connect_timeout=self._timeout,
                options=f"-c search_path={self.schema}",
                autocommit=True,
            ) as conn:
                conn.execute("VACUUM audit_data_key")
        except psycopg.Error as e:
            logger.warning("VACUUM audit_data_key failed (%s): run it as owner", type(e).__name__)
            return False
        return True

    def close(self) -> None:
        with self._wlock, self._rlock:
            for c in (self._w, self._r):
                if c is not None:
                    c.close()
