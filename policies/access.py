"""API keys (stored hashed), roles and tenants.

A key reads ``bst_<key id>_<secret>``. The key id is public (it names the key in logs and audit
records); the secret is 32 random bytes and only its SHA-256 is stored, so the store cannot
reveal a usable key. The secret MUST NOT be logged anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

__all__ = [
    "AuthenticationFailed",
    "KeyInfo",
    "KeyStore",
    "Principal",
    "Role",
]

_KEY = re.compile(r"^bst_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class Role(StrEnum):
    APP = "app"
    AUDITOR = "auditor"
    ADMIN = "admin"


class AuthenticationFailed(Exception):
    """The bearer key is missing, malformed, unknown or revoked."""


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant: str
    role: Role


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    tenant: str
    role: Role
    name: str
    created_at: str
    revoked_at: str | None


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
"""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class KeyStore:
    """API keys in a SQLite file; safe to share between processes on one host."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def create(self, tenant: str, role: Role | str, name: str = "") -> tuple[str, KeyInfo]:
        """Create a key; returns ``(plaintext key, info)``. The plaintext is shown only once."""
        if not _TENANT.match(tenant):
            raise ValueError("tenant: use lowercase letters, digits, '.', '_' or '-'")
        role = Role(role)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, tenant, role, name, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, _hash(secret), tenant, role.value, name, created),
            )
        return f"bst_{key_id}_{secret}", KeyInfo(key_id, tenant, role, name, created, None)

    def authenticate(self, bearer: str | None) -> Principal:
        if not bearer:
            raise AuthenticationFailed("missing API key")
        match = _KEY.match(bearer.strip())
        if match is None:
            raise AuthenticationFailed("malformed API key")
        key_id, secret = match.groups()
        row = (
            self._conn()
            .execute(
                "SELECT secret_hash, tenant, role, revoked_at FROM api_keys WHERE key_id = ?",
                (key_id,),
            )
            .fetchone()
        )
        if row is None or not hmac.compare_digest(row[0], _hash(secret)):
            raise AuthenticationFailed("invalid API key")
        if row[3] is not None:
            raise AuthenticationFailed("API key revoked")
        return Principal(key_id, row[1], Role(row[2]))

    def revoke(self, key_id: str) -> bool:
        revoked = datetime.now(UTC).isoformat(timespec="seconds")
        with self._conn() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (revoked, key_id),
            )
        return cur.rowcount == 1

    def list(self, tenant: str | None = None) -> list[KeyInfo]:
        sql = "SELECT key_id, tenant, role, name, created_at, revoked_at FROM api_keys"
        args: tuple[str, ...] = ()
        if tenant:
            sql, args = sql + " WHERE tenant = ?", (tenant,)
        rows = self._conn().execute(sql + " ORDER BY created_at, key_id", args).fetchall()
        return [KeyInfo(r[0], r[1], Role(r[2]), r[3], r[4], r[5]) for r in rows]

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM api_keys").fetchone()[0])

    @staticmethod
    def key_id_of(bearer: str | None) -> str | None:
        """The public key id of a well-formed bearer key (for audit of failed logins)."""
        match = _KEY.match((bearer or "").strip())
        return match.group(1) if match else None
