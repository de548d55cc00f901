"""Shared state for every ingress replica: API keys, the active policy, counters and metadata.

``open_state(audit_config, data_dir)`` opens the configured backend: the state lives where the
audit log lives (``audit.store``, ``audit.dsn``; ``BASTION_AUDIT__STORE`` / ``BASTION_AUDIT__DSN``
in the environment win, as for the audit sequencer). SQLite: ``<data_dir>/state.db``;
PostgreSQL: schema ``bastion_state`` of the audit database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .base import (
    KeyRecord,
    StateConflict,
    StateError,
    StateStore,
    StateUnavailable,
    StoredPolicy,
)
from .migrate import LEGACY_KEYS_FILE, migrate_legacy_keys

if TYPE_CHECKING:
    from policies.audit.config import AuditConfig

__all__ = [
    "STATE_FILE",
    "KeyRecord",
    "StateConflict",
    "StateError",
    "StateStore",
    "StateUnavailable",
    "StoredPolicy",
    "migrate_legacy_keys",
    "open_state",
]

STATE_FILE = "state.db"
PG_SCHEMA = "bastion_state"


def open_state(audit: AuditConfig, data_dir: Path, *, migrate: bool = True) -> StateStore:
    """Open (creating its schema) the store the configuration names; with ``migrate``, move
    the keys of an old ``<data_dir>/keys.db`` into it. Raises StateUnavailable / StateError."""
    backend = os.environ.get("BASTION_AUDIT__STORE") or audit.store
    dsn = os.environ.get("BASTION_AUDIT__DSN") or audit.dsn
    store: StateStore
    if backend == "postgres":
        if not dsn:
            raise StateUnavailable(
                "audit.store is postgres but no DSN is configured (audit.dsn or BASTION_AUDIT__DSN)"
            )
        from .postgres import PostgresStateStore

        store = PostgresStateStore(dsn, schema=PG_SCHEMA)
    else:
        from .sqlite import SqliteStateStore

        store = SqliteStateStore(Path(data_dir) / STATE_FILE)
    if migrate:
        try:
            migrate_legacy_keys(store, Path(data_dir) / LEGACY_KEYS_FILE)
        except BaseException:
            store.close()
            raise
    return store
