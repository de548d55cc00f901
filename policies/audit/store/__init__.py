"""Audit stores: ``open_store(config, data_dir)`` returns the configured backend."""

from __future__ import annotations

from pathlib import Path

from ..config import AuditConfig
from ..errors import AuditUnavailable
from .base import AuditStore, ContentRow, DataKeyRow, LeafRow, RecordFilter

__all__ = ["AuditStore", "ContentRow", "DataKeyRow", "LeafRow", "RecordFilter", "open_store"]


def open_store(config: AuditConfig, data_dir: Path) -> AuditStore:
    """Open (and create the schema of) the configured store. Raises AuditUnavailable."""
    if config.store == "postgres":
        from .postgres import PostgresStore

        if not config.dsn:
            raise AuditUnavailable(
                "audit.store is postgres but no DSN is configured (audit.dsn or BASTION_AUDIT__DSN)"
            )
        return PostgresStore(config.dsn, schema=config.pg_schema)
    from .sqlite import SqliteStore

    return SqliteStore(config.resolve_sqlite_path(data_dir))
