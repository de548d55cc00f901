"""Upgrade path: API keys from the per-host ``keys.db`` of earlier releases move into the store.

The old file is read, every key whose id is new is inserted (a key revoked in the store stays
revoked), and the file is renamed ``keys.db.migrated`` so that it is visibly no longer read.
An unreadable old file stops start-up rather than silently dropping the operator's keys.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

from .base import KeyRecord, StateError, StateStore

__all__ = ["LEGACY_KEYS_FILE", "migrate_legacy_keys"]

LEGACY_KEYS_FILE = "keys.db"

log = logging.getLogger("bastion.state")


def _read_legacy(path: Path) -> list[KeyRecord]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        rows = conn.execute(
            "SELECT key_id, secret_hash, tenant, role, name, created_at, revoked_at FROM api_keys"
        ).fetchall()
    finally:
        conn.close()
    return [KeyRecord(*row) for row in rows]


def migrate_legacy_keys(store: StateStore, legacy: Path) -> int:
    """Import the keys of ``legacy`` (if it exists) into ``store``; returns how many were new."""
    legacy = Path(legacy)
    if not legacy.is_file():
        return 0
    own = getattr(store, "path", None)
    if own is not None and Path(own).resolve() == legacy.resolve():
        return 0  # the store itself lives in that file
    try:
        records = _read_legacy(legacy)
    except sqlite3.Error as exc:
        raise StateError(
            f"cannot read the API keys in {legacy} to move them into the state store "
            f"({type(exc).__name__}); fix or move the file and start again"
        ) from exc
    inserted = store.import_keys(records)
    with contextlib.suppress(FileNotFoundError):  # another process on this host renamed it
        legacy.rename(legacy.with_name(legacy.name + ".migrated"))
    log.warning(
        "API keys moved from the per-host key file into the state store",
        extra={"keys_found": len(records), "keys_imported": inserted},
    )
    return inserted
