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
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from state.base import KeyRecord

if TYPE_CHECKING:
    from policies.audit.config import AuditConfig
    from state.base import StateStore

__all__ = [
    "AuthenticationFailed",
    "KeyInfo",
    "KeyStore",
    "Principal",
    "Role",
    "open_keystore",
]

_KEY = re.compile(r"^bst_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_CACHE_MAX = 10_000


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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KeyStore:
    """API keys in the shared state store (state/), so every ingress replica sees the same keys.

    ``store`` is a :class:`state.StateStore`, or a path, which opens a SQLite state file there
    (one host: tests, tools). ``cache_s`` > 0 keeps looked-up keys in memory for at most that
    long, so a key revoked elsewhere stops working here within ``cache_s`` seconds; keys
    created or revoked through this instance take effect here at once.
    """

    def __init__(self, store: StateStore | Path | str, *, cache_s: float = 0.0) -> None:
        if isinstance(store, str | Path):
            from state.sqlite import SqliteStateStore

            store = SqliteStateStore(Path(store))
        self.store: StateStore = store
        self.cache_s = cache_s
        self._cache: OrderedDict[str, tuple[float, KeyRecord]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def create(self, tenant: str, role: Role | str, name: str = "") -> tuple[str, KeyInfo]:
        """Create a key; returns ``(plaintext key, info)``. The plaintext is shown only once."""
        if not _TENANT.match(tenant):
            raise ValueError("tenant: use lowercase letters, digits, '.', '_' or '-'")
        role = Role(role)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        created = _now()
        self.store.insert_key(
            KeyRecord(key_id, _hash(secret), tenant, role.value, name, created, None)
        )
        self._forget(key_id)
        return f"bst_{key_id}_{secret}", KeyInfo(key_id, tenant, role, name, created, None)

    def _lookup(self, key_id: str) -> KeyRecord | None:
        if self.cache_s <= 0:
            return self.store.get_key(key_id)
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key_id)
            if hit is not None and hit[0] > now:
                self._cache.move_to_end(key_id)
                return hit[1]
        record = self.store.get_key(key_id)
        if record is not None:  # unknown ids are not cached: a new key works at once
            with self._cache_lock:
                self._cache[key_id] = (now + self.cache_s, record)
                self._cache.move_to_end(key_id)
                while len(self._cache) > _CACHE_MAX:
                    self._cache.popitem(last=False)
        return record

    def _forget(self, key_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(key_id, None)

    def authenticate(self, bearer: str | None) -> Principal:
        """The key's principal. Raises AuthenticationFailed, or state.StateUnavailable when the
        store cannot be read (fail closed)."""
        if not bearer:
            raise AuthenticationFailed("missing API key")
        match = _KEY.match(bearer.strip())
        if match is None:
            raise AuthenticationFailed("malformed API key")
        key_id, secret = match.groups()
        record = self._lookup(key_id)
        if record is None or not hmac.compare_digest(record.secret_hash, _hash(secret)):
            raise AuthenticationFailed("invalid API key")
        if record.revoked_at is not None:
            raise AuthenticationFailed("API key revoked")
        return Principal(key_id, record.tenant, Role(record.role))

    def revoke(self, key_id: str) -> bool:
        revoked = self.store.revoke_key(key_id, _now())
        self._forget(key_id)
        return revoked

    def list(self, tenant: str | None = None) -> list[KeyInfo]:
        return [
            KeyInfo(r.key_id, r.tenant, Role(r.role), r.name, r.created_at, r.revoked_at)
            for r in self.store.list_keys(tenant)
        ]

    def count(self) -> int:
        return self.store.count_keys()

    def close(self) -> None:
        self.store.close()

    @staticmethod
    def key_id_of(bearer: str | None) -> str | None:
        """The public key id of a well-formed bearer key (for audit of failed logins)."""
        match = _KEY.match((bearer or "").strip())
        return match.group(1) if match else None


def open_keystore(audit: AuditConfig, data_dir: Path, *, cache_s: float = 0.0) -> KeyStore:
    """The key store of a configuration: the state store the audit settings name (SQLite in
    ``data_dir`` or PostgreSQL), with keys of an old per-host ``keys.db`` moved into it."""
    from state import open_state

    return KeyStore(open_state(audit, data_dir), cache_s=cache_s)
