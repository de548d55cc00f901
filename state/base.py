"""The StateStore protocol: what every ingress replica must agree on, in one place.

Two backends implement it: SQLite in the data folder (one host, the embedded default) and
PostgreSQL (a cluster). Both are safe for concurrent writers in many processes. Typed methods
cover API keys and the active policy; a small namespace/key-value and atomic-counter API holds
what later features add (budgets, rate limits, cache metadata).

Invariant: the store MUST NOT hold an identifier from a request. Keys are stored as SHA-256
hashes of their secret; values under the generic API are whatever the caller derived (hashes,
counts, ids of Bastion's own objects), never request text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .claims import Claim

__all__ = [
    "KeyRecord",
    "StateConflict",
    "StateError",
    "StateStore",
    "StateUnavailable",
    "StoredPolicy",
    "check_name",
]

_NAMESPACE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/+=-]{0,254}$")


class StateError(Exception):
    """Base of the state store's errors."""


class StateUnavailable(StateError):
    """The store cannot be reached or written; callers MUST fail closed (503)."""


class StateConflict(StateError):
    """A row that must be new already exists (e.g. a duplicate key id)."""


def check_name(namespace: str, key: str) -> None:
    """Namespaces are short slugs; keys are machine tokens (ids, hashes), never free text."""
    if not _NAMESPACE.match(namespace):
        raise ValueError("namespace: lowercase letters, digits, '_', '.', '-' (max 63)")
    if not _KEY.match(key):
        raise ValueError("key: a machine token of letters, digits and _.:@/+=- (max 255)")


@dataclass(frozen=True)
class KeyRecord:
    """One API key as stored: the secret only as its SHA-256 hex digest."""

    key_id: str
    secret_hash: str
    tenant: str
    role: str
    name: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class StoredPolicy:
    """A published policy: its version and the documents it was loaded from, as
    ``(source name, YAML text)`` pairs, so every replica compiles exactly the same set."""

    version: str
    documents: tuple[tuple[str, str], ...]
    published_at: str = ""


@runtime_checkable
class StateStore(Protocol):
    """Shared state behind one protocol. Every method is thread-safe; every write is atomic.

    Errors: :class:`StateUnavailable` when the backend cannot be reached (fail closed),
    :class:`StateConflict` for a duplicate that must be new, ``ValueError`` for a bad name.
    """

    # --- API keys -------------------------------------------------------------------------
    def insert_key(self, record: KeyRecord) -> None:
        """Add a key; raises StateConflict if its id exists."""

    def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, revoked or not; None when unknown."""

    def revoke_key(self, key_id: str, revoked_at: str) -> bool:
        """Mark an active key revoked; False when unknown or already revoked."""

    def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        """Keys (all tenants, or one), oldest first."""

    def count_keys(self) -> int:
        """How many keys exist, revoked ones included."""

    def import_keys(self, records: list[KeyRecord]) -> int:
        """Insert the keys whose ids are new (migration); returns how many were inserted.
        Existing rows are never changed, so a key revoked here stays revoked."""

    # --- the active policy ----------------------------------------------------------------
    def publish_policy(self, policy: StoredPolicy, *, only_if_none: bool = False) -> str:
        """Store ``policy`` and make it the active one (with ``only_if_none``: only when no
        policy is active yet). Returns the version active afterwards."""

    def active_policy_version(self) -> str | None:
        """The active policy's version (one cheap read; replicas poll it)."""

    def active_policy(self) -> StoredPolicy | None:
        """The active policy with its documents, or None before the first publication."""

    # --- generic values and counters (later features) ------------------------------------
    def get(self, namespace: str, key: str) -> bytes | None:
        """The value, or None when absent or expired."""

    def put(self, namespace: str, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Set a value (optionally expiring ``ttl_s`` seconds from now)."""

    def put_if_absent(
        self, namespace: str, key: str, value: bytes, ttl_s: float | None = None
    ) -> bool:
        """Set a value only when none (or only an expired one) exists; True when set."""

    def delete(self, namespace: str, key: str) -> bool:
        """Remove a value; True when one was there."""

    def items(self, namespace: str, prefix: str = "", limit: int = 1000) -> list[tuple[str, bytes]]:
        """Live ``(key, value)`` pairs of a namespace whose key starts with ``prefix``, by key."""

    def incr(self, namespace: str, key: str, delta: int = 1, ttl_s: float | None = None) -> int:
        """Atomically add ``delta`` and return the new value. A counter created with ``ttl_s``
        expires that long after its creation (a fixed window); after that it restarts at
        ``delta``."""

    def counter(self, namespace: str, key: str) -> int:
        """The counter's value; 0 when absent or expired."""

    # --- atomic claims: budgets, rate limits, usage ledger (state/claims.py) ---------------
    def reserve(self, claims: Sequence[Claim], values: list[int] | None = None) -> int | None:
        """In one transaction: if every claim with a limit fits (live value + amount <=
        limit), add every amount and return None (``values``, when given, receives each
        counter's value after it); otherwise change nothing and return the index of the first
        claim that does not fit."""

    def settle(self, claims: Sequence[Claim]) -> None:
        """In one transaction, add every amount; a negative amount gives back (never below
        zero, never on an absent or expired counter). Limits are ignored."""

    def counters(
        self, namespace: str, prefix: str = "", limit: int = 100_000
    ) -> list[tuple[str, int]]:
        """Live ``(key, value)`` counters of a namespace whose key starts with ``prefix``."""

    def purge_expired(self) -> int:
        """Delete the expired values and counters (they already read as absent); returns how
        many rows went. Safe to run from every replica at once."""

    def close(self) -> None:
        """Release connections."""
