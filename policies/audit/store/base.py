"""The storage interface shared by the SQLite and PostgreSQL stores.

One append-only schema, four tables:
- ``audit_leaf``: index, leaf hash, time, tenant, event type, outcome, canonical record bytes.
- ``audit_checkpoint``: every signed checkpoint (body + signature), in signing order.
- ``audit_content``: captured (redacted, encrypted) content, outside the hashed leaf.
- ``audit_data_key``: data keys wrapped by the KEK, one per tenant and period (UTC day; keys
  written before periods existed have none); the only mutable table, and the only permitted
  change is destroying a key (crypto-shredding).
UPDATE and DELETE on the first three are rejected by triggers. Stores are synchronous and
thread-safe; the asyncio ``AuditLog`` calls them from worker threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from ..checkpoint import Checkpoint

__all__ = ["AuditStore", "ContentRow", "DataKeyRow", "LeafRow", "RecordFilter"]


class LeafRow(NamedTuple):
    """A tuple in ``audit_leaf`` column order, so drivers take it as it is."""

    index: int
    leaf_hash: bytes
    time: str
    tenant: str | None
    event_type: str
    outcome: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ContentRow:
    content_id: str
    index: int
    tenant: str
    dek_id: str
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class DataKeyRow:
    dek_id: str
    tenant: str
    kek_id: str
    wrapped: bytes | None  # None once shredded
    created: str
    shredded: str | None
    period: str | None = None  # UTC day "YYYY-MM-DD" of the content it seals; None: legacy key


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Half-open time range [start, end) on canonical time strings, plus equality filters."""

    start: str | None = None
    end: str | None = None
    tenant: str | None = None
    event_type: str | None = None
    outcome: str | None = None

    def where(self, ph: str) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        for column, op, value in (
            ("time", ">=", self.start),
            ("time", "<", self.end),
            ("tenant", "=", self.tenant),
            ("event_type", "=", self.event_type),
            ("outcome", "=", self.outcome),
        ):
            if value is not None:
                clauses.append(f"{column} {op} {ph}")
                args.append(value)
        return (" AND ".join(clauses) or "TRUE"), args


class AuditStore(Protocol):
    """Append-only storage for leaves, checkpoints, content and data keys."""

    def size(self) -> int:
        """Number of leaves (next index)."""
        ...

    def append_batch(
        self, start: int, leaves: Sequence[LeafRow], contents: Sequence[ContentRow] = ()
    ) -> None:
        """Write leaves ``start..`` and their content in ONE transaction, durable on return.

        MUST raise StoreConflict (and write nothing) when the store's size is not ``start``,
        and ContentKeyDestroyed (and write nothing) when a content's data key is not live.
        Any other failure MUST leave nothing written.
        """
        ...

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Leaf hashes in index order."""
        ...

    def leaves(self, start: int, end: int) -> list[LeafRow]:
        """Leaves with start <= index < end, in index order."""
        ...

    def query(self, where: RecordFilter, after: int | None, limit: int) -> list[LeafRow]:
        """Matching leaves with index > after, ascending, at most ``limit``."""
        ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def checkpoints(self, start: str | None = None, end: str | None = None) -> list[Checkpoint]:
        """Checkpoints signed in [start, end), in signing order."""
        ...

    def content(self, content_id: str) -> ContentRow | None: ...

    def add_data_key(self, row: DataKeyRow) -> None: ...

    def data_keys(self, tenant: str | None = None) -> list[DataKeyRow]:
        """Data keys (of one tenant), oldest first."""
        ...

    def shred_data_keys(self, tenant: str, at: str) -> int:
        """Destroy every live data key of ``tenant``; return how many were destroyed."""
        ...

    def shred_keys(self, dek_ids: Sequence[str], at: str) -> int:
        """Destroy exactly these live data keys in ONE transaction; return how many."""
        ...

    def content_count(self, dek_ids: Sequence[str]) -> int:
        """How many captured contents are sealed under these data keys."""
        ...

    def key_last_used(self, dek_id: str) -> str | None:
        """The latest record time among the contents sealed under ``dek_id`` (None: unused)."""
        ...

    def reclaim_shredded(self) -> bool:
        """Physically remove destroyed key bytes where the backend keeps old row versions
        (PostgreSQL: VACUUM audit_data_key). True when done or not needed."""
        ...

    def close(self) -> None: ...
