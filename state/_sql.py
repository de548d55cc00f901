"""SQL shared by both backends (``?`` placeholders; the PostgreSQL store rewrites them).

Times are passed in by the caller (``time.time()``), so the statements are the same text on
both engines. Expired values and counters read as absent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .base import KeyRecord, StoredPolicy

KEY_COLS = "key_id, secret_hash, tenant, role, name, created_at, revoked_at"
INSERT_KEY = f"INSERT INTO api_keys ({KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
IMPORT_KEY = INSERT_KEY + " ON CONFLICT (key_id) DO NOTHING"
GET_KEY = f"SELECT {KEY_COLS} FROM api_keys WHERE key_id = ?"
REVOKE_KEY = "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"
LIST_KEYS = f"SELECT {KEY_COLS} FROM api_keys"
LIST_KEYS_ORDER = " ORDER BY created_at, key_id"
COUNT_KEYS = "SELECT COUNT(*) FROM api_keys"

INSERT_POLICY = (
    "INSERT INTO policy_version (version, documents, published_at) VALUES (?, ?, ?)"
    " ON CONFLICT (version) DO NOTHING"
)
ACTIVATE = (
    "INSERT INTO policy_active (id, version, activated_at) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET version = excluded.version,"
    " activated_at = excluded.activated_at WHERE policy_active.version <> excluded.version"
)
ACTIVATE_IF_NONE = (
    "INSERT INTO policy_active (id, version, activated_at) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)
ACTIVE_VERSION = "SELECT version FROM policy_active WHERE id = 1"
ACTIVE_POLICY = (
    "SELECT p.version, p.documents, p.published_at FROM policy_active a"
    " JOIN policy_version p ON p.version = a.version WHERE a.id = 1"
)

_LIVE = "(expires_at IS NULL OR expires_at > ?)"
KV_GET = f"SELECT value FROM state_kv WHERE namespace = ? AND key = ? AND {_LIVE}"
KV_PUT = (
    "INSERT INTO state_kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
    " expires_at = excluded.expires_at"
)
KV_PUT_IF_ABSENT = (
    "INSERT INTO state_kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
    " expires_at = excluded.expires_at"
    " WHERE state_kv.expires_at IS NOT NULL AND state_kv.expires_at <= ?"
)
KV_DELETE = f"DELETE FROM state_kv WHERE namespace = ? AND key = ? AND {_LIVE}"
KV_ITEMS = f"SELECT key, value FROM state_kv WHERE namespace = ? AND {_LIVE}"

COUNTER_INCR = (
    "INSERT INTO state_counter (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET"
    " value = CASE WHEN state_counter.expires_at IS NOT NULL AND state_counter.expires_at <= ?"
    " THEN excluded.value ELSE state_counter.value + excluded.value END,"
    " expires_at = CASE WHEN state_counter.expires_at IS NOT NULL"
    " AND state_counter.expires_at <= ? THEN excluded.expires_at"
    " ELSE state_counter.expires_at END"
    " RETURNING value"
)
COUNTER_GET = f"SELECT value FROM state_counter WHERE namespace = ? AND key = ? AND {_LIVE}"

# Expired rows read as absent; the purge deletes them for good (StatePurger, state/purge.py).
PURGE_KV = "DELETE FROM state_kv WHERE expires_at IS NOT NULL AND expires_at <= ?"
PURGE_COUNTERS = "DELETE FROM state_counter WHERE expires_at IS NOT NULL AND expires_at <= ?"


def key_row(record: KeyRecord) -> tuple[Any, ...]:
    return (
        record.key_id,
        record.secret_hash,
        record.tenant,
        record.role,
        record.name,
        record.created_at,
        record.revoked_at,
    )


def key_record(row: Sequence[Any]) -> KeyRecord:
    return KeyRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def encode_documents(documents: Sequence[tuple[str, str]]) -> str:
    return json.dumps([[name, text] for name, text in documents], ensure_ascii=False)


def policy_record(row: Sequence[Any]) -> StoredPolicy:
    docs = tuple((str(name), str(text)) for name, text in json.loads(row[1]))
    return StoredPolicy(row[0], docs, row[2])


def expiry(now: float, ttl_s: float | None) -> float | None:
    if ttl_s is None:
        return None
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    return now + ttl_s


def prefix_range(prefix: str) -> tuple[str, str] | None:
    """``[prefix, upper)`` covering every key that starts with ``prefix`` (ASCII keys)."""
    if not prefix:
        return None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
