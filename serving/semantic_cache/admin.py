"""``POST /v1/admin/cache/invalidate`` (the admin route in serving/http/admin.py runs this):
delete the cached answers of the admin's own tenant, optionally only those of one model
version or prompt-template version."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from serving.semantic_cache.entries import invalidate
from state import StateStore

__all__ = ["InvalidateRequest", "invalidate_for_tenant"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:@/+-]{0,127}$"


class InvalidateRequest(BaseModel):
    """The body: both fields optional (none: every entry of the tenant)."""

    model_config = ConfigDict(extra="forbid")

    model_version: str | None = Field(None, pattern=_ID, description="name@version")
    template: str | None = Field(None, pattern=_ID, description="Prompt template, name@version.")


def invalidate_for_tenant(
    store: StateStore, tenant: str, raw: bytes
) -> tuple[dict[str, object], dict[str, str | int | bool]]:
    """``(response body, audit detail)``; raises pydantic's ValidationError on a bad body."""
    body = InvalidateRequest.model_validate_json(raw or b"{}")
    deleted = invalidate(store, body.model_version, template=body.template, tenant=tenant)
    detail: dict[str, str | int | bool] = {"deleted": deleted}
    if body.model_version:
        detail["model_version"] = body.model_version
    if body.template:
        detail["template"] = body.template
    return {"deleted": deleted, **body.model_dump(exclude_none=True)}, detail
