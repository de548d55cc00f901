"""Per-tenant retention of captured content, as policy documents declare it.

A tenant's document may say how long its captured content is kept::

    tenants:
      - id: clinic-a
        audit: {capture_retention_days: 90}

The tenant's value overrides ``audit.capture_retention_days``. The sequencer reads the policy
documents at each expiry run (``policy_retention``), so a policy change takes effect at the next
run; a document set that does not load destroys nothing (fail closed: content is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TenantAudit", "policy_retention", "retention_overrides"]


class TenantAudit(BaseModel):
    """Audit settings of one tenant (the ``audit:`` block of a tenant in a policy document)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capture_retention_days: int | None = Field(
        None,
        ge=1,
        description="Days this tenant's captured content is kept before its day keys are "
        "destroyed; overrides audit.capture_retention_days. None: the global setting.",
    )


def retention_overrides(policy_set: Any) -> dict[str, int]:
    """Tenant id -> capture retention days, for the tenants whose document sets one."""
    out: dict[str, int] = {}
    for tenant in policy_set.tenants:
        audit = getattr(tenant, "audit", None)
        if audit is not None and audit.capture_retention_days is not None:
            out[tenant.id] = audit.capture_retention_days
    return out


def policy_retention(paths: Iterable[Path | str]) -> Callable[[], Mapping[str, int]]:
    """A retention source for ``AuditLog``: reads the policy documents at every call."""
    files = [Path(p) for p in paths]

    def read() -> Mapping[str, int]:
        from policies.documents import load_documents

        return retention_overrides(load_documents(files)) if files else {}

    return read
