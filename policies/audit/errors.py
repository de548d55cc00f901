"""Typed errors of the audit package. serving/api.py maps AuditUnavailable to HTTP 503."""

from __future__ import annotations

__all__ = [
    "AuditError",
    "AuditIntegrityError",
    "AuditUnavailable",
    "ContentKeyDestroyed",
    "ContentShredded",
    "StoreConflict",
]


class AuditError(Exception):
    """Base class of every audit error."""


class AuditUnavailable(AuditError):
    """The record could not be made durable; the request MUST fail (fail closed)."""


class AuditIntegrityError(AuditError):
    """Stored data contradicts a signed checkpoint (tampering, corruption); carries evidence."""

    def __init__(self, message: str, *, evidence: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.evidence = evidence or {}


class StoreConflict(AuditError):
    """Another writer appended first: the expected next index is taken."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected next leaf index {expected}, store is at {actual}")
        self.expected = expected
        self.actual = actual


class ContentShredded(AuditError):
    """The tenant's data key was destroyed; captured content is unreadable by design."""


class ContentKeyDestroyed(AuditError):
    """A batch's content was sealed under a data key that was destroyed meanwhile (by another
    process); nothing was written, and the content is sealed again under a live key."""

    def __init__(self, dek_ids: set[str]) -> None:
        super().__init__(f"{len(dek_ids)} data key(s) of this batch were destroyed")
        self.dek_ids = dek_ids
