"""Audit configuration (the ``audit:`` section of the Bastion YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuditConfig"]


class AuditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store: Literal["sqlite", "postgres"] = Field(
        "sqlite", description="Backend: embedded SQLite (WAL) or PostgreSQL for multi-node sites."
    )
    dsn: str | None = Field(
        None,
        description="PostgreSQL connection string (libpq form) for store=postgres. Keep it out of "
        "the file in production: the sequencer reads BASTION_AUDIT__DSN from its environment.",
    )
    pg_schema: str = Field(
        "bastion_audit",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema holding the audit tables.",
    )
    sqlite_path: str | None = Field(
        None, description="SQLite file; default <data_dir>/audit.db (resolved by the caller)."
    )
    checkpoint_every_records: int = Field(
        1000, ge=1, description="Sign a checkpoint after this many new records."
    )
    checkpoint_every_seconds: float = Field(
        30.0,
        gt=0,
        description="Sign a checkpoint at least this often, also when idle, so a gap is visible.",
    )
    batch_max_records: int = Field(
        256,
        ge=1,
        description=(
            "Group commit: most records written in one transaction. Smaller than the number of "
            "concurrent requests lets the next batch be prepared while one commits."
        ),
    )
    batch_max_wait_ms: float = Field(
        2.0,
        ge=0,
        description="Group commit: how long the first record of a batch waits for company.",
    )
    retention_days: int | None = Field(
        None,
        ge=1,
        description=(
            "Minimum retention. Bastion never deletes audit records; ranges older than this may "
            "be archived with `bastion audit export` (see docs/audit.md). None: keep forever."
        ),
    )
    capture: Literal["none", "redacted"] = Field(
        "none",
        description="Content capture: none, or redacted text encrypted under a per-tenant key.",
    )
    capture_retention_days: int | None = Field(
        None,
        ge=1,
        description=(
            "Captured content is crypto-shredded this many days after the UTC day it was "
            "captured (its day's data key is destroyed); records stay. A tenant's policy "
            "document may override it (tenants[].audit.capture_retention_days). None: keep."
        ),
    )
    capture_expiry_check_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often the sequencer destroys the data keys of expired periods.",
    )
    kek_file: str | None = Field(
        None,
        description="Key-encryption key (32 random bytes); default <data_dir>/audit-kek.key.",
    )
    signing_key_file: str | None = Field(
        None, description="Ed25519 signing key (PEM); default <data_dir>/audit-signing.key."
    )

    def resolve_sqlite_path(self, data_dir: Path) -> Path:
        return Path(self.sqlite_path) if self.sqlite_path else Path(data_dir) / "audit.db"

    def resolve_kek_file(self, data_dir: Path) -> Path:
        return Path(self.kek_file) if self.kek_file else Path(data_dir) / "audit-kek.key"

    def resolve_signing_key_file(self, data_dir: Path) -> Path:
        if self.signing_key_file:
            return Path(self.signing_key_file)
        return Path(data_dir) / "audit-signing.key"
