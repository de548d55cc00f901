"""Typed errors of the audit package. serving/api.py maps AuditUnavailable to HTTP 503."""

from __future__ import annotations

__all__ = [
    "AuditError",
    "AuditIntegrityError",
    "AuditUnavailable",
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
