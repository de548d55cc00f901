"""HTTP mapping of the audit log for compliance officers: the auditor API and the audit page.

Routes (``add_audit_routes(app)``):
- ``GET /v1/audit/records``: records matching the filters, in log order, paged by cursor.
- ``GET /v1/audit/export``: a verifiable bundle (zip) for a period / tenant / event type, with
  the records' captured content beside them when ``with_content=true``.
- ``GET /v1/audit/checkpoint``: the latest signed checkpoint and the public key.
- ``GET /v1/audit/status``: log size, health and the latest checkpoint (for the page).
- ``GET /v1/audit/summary``: counts for a period / tenant / event type, aggregated in the store
  (by outcome, data class, denial rule, guardrail verdict, tokens, and over time).
- ``GET /v1/audit/records/{index}/content``: a record's captured (redacted) content, for an
  investigation; 404 outside the principal's tenant scope, 410 once shredded. Each read is
  recorded as ``audit.content_read`` with the index (never the text).
- ``POST /v1/admin/audit/shred`` (admin only; body ``{"tenant": "..."}``): destroy the tenant's
  data keys (captured content, and its Batch API files and results); recorded as
  ``audit.content_shredded`` with the counts.
- ``GET /audit`` (+ ``/audit/app.js``, ``/audit/app.css``): the audit page; it needs no key to
  load and calls the API above with the key the officer enters.

Access: the ``auditor`` and ``admin`` roles only (others 403). An auditor key sees only its own
tenant's records unless it belongs to the operator tenant ``default``; admin keys see all tenants.
A tenant-scoped auditor who omits ``tenant`` gets their own tenant; naming another is 403.

These routes MUST NOT append audit records: their pipeline's audit stage writes one per
request (``audit.exported`` for the export, ``audit.queried`` for the others) with the facts
each route puts in ``state.detail``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from policies.access import Principal, Role
from policies.audit import EVENT_TYPES, AuditError, ContentShredded
from policies.audit.record import format_time
from serving.audit_client import AuditClient
from serving.http.drive import respond
from serving.pipeline import InvalidRequest, PermissionDenied, RequestState, UpstreamError
from serving.pipeline.errors import NotFound

__all__ = ["OPERATOR_TENANT", "PAGE_CSP", "router"]

AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)

OPERATOR_TENANT = "default"
OUTCOMES = ("success", "failure", "denied")
FORMATS = ("jsonl", "csv")
MAX_LIMIT = 1000

STATIC = Path(__file__).parent.parent / "static"
# Everything the page needs comes from Bastion itself; nothing may be framed, posted or inlined.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "content-security-policy": PAGE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
}
_ASSETS = {
    "/audit": ("audit.html", "text/html; charset=utf-8"),
    "/audit/app.js": ("audit.js", "text/javascript; charset=utf-8"),
    "/audit/app.css": ("audit.css", "text/css; charset=utf-8"),
}
_TENANT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_EVENT = re.compile(r"^[a-z]+(\.[a-z_]+)+$")
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_FILTERS = ("from", "to", "tenant", "event_type")
_PARAMS = {
    "records": frozenset({*_FILTERS, "outcome", "limit", "cursor"}),
    "export": frozenset({*_FILTERS, "format", "with_content"}),
    "summary": frozenset({*_FILTERS, "bucket"}),
    "none": frozenset(),
}


def _reject_unknown(request: Request, route: str) -> None:
    allowed = _PARAMS[route]
    if any(name not in allowed for name in request.query_params):
        # The unknown name is client text: it is not echoed.
        listed = ", ".join(sorted(allowed)) or "none"
        raise InvalidRequest(f"unrecognized query parameter (allowed: {listed})")


def _time(request: Request, name: str) -> str | None:
    """ISO-8601 → the log's canonical UTC form. A date or a time without offset is UTC."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return format_time(t if t.tzinfo else t.replace(tzinfo=UTC))
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"'{name}' must be an ISO-8601 time, e.g. 2026-03-01T00:00:00Z", name
        ) from None


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidRequest(f"'{name}' must be one of: {', '.join(allowed)}", name)
    return value


def _event_type(request: Request) -> str | None:
    # Any well-formed type (the log may hold types newer than this build's EVENT_TYPES).
    value = request.query_params.get("event_type") or None
    if value is not None and not _EVENT.match(value):
        raise InvalidRequest(
            "'event_type' must look like inference.chat or audit.exported", "event_type"
        )
    return value


def _int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not _DIGITS.match(value) or not low <= int(value) <= high:
        raise InvalidRequest(f"'{name}' must be an integer from {low} to {high}", name)
    return int(value)


def _filters(request: Request, principal: Principal) -> dict[str, str | None]:
    start, end = _time(request, "from"), _time(request, "to")
    if start is not None and end is not None and start >= end:
        raise InvalidRequest("'from' must be earlier than 'to'", "from")
    tenant = request.query_params.get("tenant") or None
    if tenant is not None and not _TENANT.match(tenant):
        raise InvalidRequest("'tenant' is not a valid tenant id", "tenant")
    return {
        "start": start,
        "end": end,
        "tenant": _scope_tenant(principal, tenant),
        "event_type": _event_type(request),
    }


def _scope_tenant(principal: Principal, tenant: str | None) -> str | None:
    """The tenant a query is limited to (None: all tenants) for this principal."""
    if principal.role is Role.ADMIN or principal.tenant == OPERATOR_TENANT:
        return tenant
    if tenant is not None and tenant != principal.tenant:
        raise PermissionDenied("an auditor key may read only its own tenant's audit records")
    return principal.tenant


def _authorized(request: Request, state: RequestState) -> tuple[Principal, AuditClient]:
    """The principal (authenticated by the pipeline) and the audit log to read."""
    assert state.principal is not None
    audit = request.app.state.audit
    if audit is None:
        raise UpstreamError("the audit log is not configured")
    return state.principal, audit


def _stamp(t: str | None, default: str) -> str:
    return t.replace("-", "").replace(":", "").replace(".000", "") if t else default


def _checkpoint_view(cp: dict[str, Any]) -> dict[str, Any]:
    """The client's checkpoint (root hash in base64) as the API shows it: hex, like its body."""
    root = cp.get("root_hash")
    signed = cp.get("signed") or {}
    pem = cp.get("public_key_pem")
    return {
        "object": "audit.checkpoint",
        "tree_size": cp.get("tree_size", 0),
        "root_hash": base64.b64decode(root).hex() if root else None,
        "time": cp.get("time"),
        "key_id": cp.get("key_id"),
        "body": signed.get("body"),
        "signature": signed.get("signature"),
        "public_key_pem": pem.decode() if isinstance(pem, bytes) else pem,
    }


router = APIRouter()
_ASSET_BODIES = {
    path: ((STATIC / name).read_bytes(), kind) for path, (name, kind) in _ASSETS.items()
}


@router.get("/v1/audit/records")
async def audit_records(request: Request) -> Response:
    async def work(state: RequestState) -> Response:
        principal, audit = _authorized(request, state)
        _reject_unknown(request, "records")
        filters: dict[str, str | None] = {
            **_filters(request, principal),
            "outcome": _choice(request, "outcome", OUTCOMES),
        }
        limit = _int(request, "limit", 100, 1, MAX_LIMIT) or 100
        cursor = _int(request, "cursor", None, 0, 2**62)
        # One extra row tells whether another page exists, so next_cursor is exact.
        fetch = limit + 1 if limit < MAX_LIMIT else limit
        try:
            page = await audit.query(filters, fetch, cursor)
        except AuditError as exc:
            raise UpstreamError("the audit log is unavailable") from exc
        rows = page["records"]
        if len(rows) > limit:
            rows, next_cursor = rows[:limit], rows[limit - 1]["index"]
        else:
            next_cursor = page["next_cursor"] if fetch == limit else None
        state.detail = _detail(filters, records=len(rows))
        return JSONResponse(
            {
                "object": "list",
                "data": [{"index": r["index"], "record": r["record"]} for r in rows],
                "next_cursor": next_cursor,
            }
        )

    return await respond(request, work, AUDIT_ROLES)


@router.get("/v1/audit/export")
async def audit_export(request: Request) -> Response:
    async def work(state: RequestState) -> Response:
        principal, audit = _authorized(request, state)
        _reject_unknown(request, "export")
        filters = _filters(request, principal)
        fmt = _choice(request, "format", FORMATS) or "jsonl"
        # Captured content of the exported records beside them (docs/audit.md, section 4).
        with_content = _choice(request, "with_content", ("true", "false")) == "true"
        try:
            bundle, detail = await audit.export(
                filters["start"], filters["end"], filters["tenant"], filters["event_type"], fmt,
                with_content,
            )  # fmt: skip
        except AuditError as exc:
            raise UpstreamError("the audit log is unavailable") from exc
        except ValueError:
            raise InvalidRequest(
                "with_content needs content capture (audit.capture: redacted)", "with_content"
            ) from None
        state.detail = dict(detail)
        name = f"bastion-audit-{_stamp(filters['start'], 'start')}-{_stamp(filters['end'], 'end')}"
        return Response(
            bundle,
            media_type="application/zip",
            headers={
                "content-disposition": f'attachment; filename="{name}.zip"',
                "cache-control": "no-store",
                "x-bastion-audit-records": str(detail.get("records", "")),
                "x-bastion-audit-bundle-sha256": str(detail.get("bundle_sha256", "")),
            },
        )

    return await respond(request, work, AUDIT_ROLES)


@router.get("/v1/audit/checkpoint")
async def audit_checkpoint(request: Request) -> Response:
    async def work(state: RequestState) -> Response:
        _, audit = _authorized(request, state)
        _reject_unknown(request, "none")
        try:
            view = _checkpoint_view(await audit.checkpoint())
        except AuditError as exc:
            raise UpstreamError("the audit log is unavailable") from exc
        state.detail = {"tree_size": view["tree_size"]}
        return JSONResponse(view)

    return await respond(request, work, AUDIT_ROLES)


@router.get("/v1/audit/status")
async def audit_status(request: Request) -> Response:
    async def work(state: RequestState) -> Response:
        principal, audit = _authorized(request, state)
        _reject_unknown(request, "none")
        try:
            status = await audit.status()
        except AuditError as exc:
            raise UpstreamError("the audit log is unavailable") from exc
        checkpoint = _checkpoint_view(status.get("latest_checkpoint") or {})
        state.detail = {"tree_size": int(status.get("tree_size", 0))}
        return JSONResponse(
            {
                "object": "audit.status",
                "healthy": bool(status.get("healthy")),
                "error": status.get("error"),
                "tree_size": status.get("tree_size", 0),
                "latest_checkpoint": {
                    k: checkpoint[k] for k in ("tree_size", "root_hash", "time", "key_id")
                },
                "event_types": list(EVENT_TYPES),
                "outcomes": list(OUTCOMES),
                "principal": {"tenant": principal.tenant, "role": principal.role.value},
                "tenant_scope": _scope_tenant(principal, None),
            }
        )

    return await respond(request, work, AUDIT_ROLES)


@router.get("/v1/audit/records/{index}/content")
async def audit_record_content(request: Request, index: str) -> Response:
    async def work(state: RequestState) -> Response:
        principal, audit = _authorized(request, state)
        _reject_unknown(request, "none")
        if not _DIGITS.match(index) or int(index) >= 2**62:
            raise InvalidRequest("the record index must be a non-negative integer", "index")
        at = int(index)
        state.detail = {"record_index": at}
        try:
            found = await audit.content(at, _scope_tenant(principal, None))
        except AuditError as exc:
            raise UpstreamError("the audit log is unavailable") from exc
        status = found.get("status")
        state.detail = {"record_index": at, "status": status or "unknown"}
        if found.get("tenant"):
            state.detail["content_tenant"] = found["tenant"]
        if status == "shredded":
            raise ContentShredded("shredded")
        if status != "read":
            # The same answer for "no such record", "no content" and "another tenant's record".
            raise NotFound("No captured content for this record in your scope.")
        return JSONResponse(found["view"], headers={"cache-control": "no-store"})

    return await respond(request, work, AUDIT_ROLES)


def _shred_batch(request: Request, tenant: str) -> bool:
    """Destroy the tenant's batch data key (serving/batch/store.py) in the replica's state
    store; False when it had none."""
    from serving.batch.store import shred_batch_key

    gateway = request.app.state.gateway
    if gateway is None:
        raise UpstreamError("the gateway is starting")
    return shred_batch_key(gateway.keys.store, tenant)


@router.post("/v1/admin/audit/shred")
async def admin_audit_shred(request: Request) -> Response:
    async def work(state: RequestState) -> Response:
        _, audit = _authorized(request, state)
        _reject_unknown(request, "none")
        try:
            body = json.loads(await state.read_body() or b"null")
        except ValueError:
            raise InvalidRequest('the body must be JSON: {"tenant": "<tenant id>"}') from None
        tenant = body.get("tenant") if isinstance(body, dict) else None
        if not isinstance(body, dict) or set(body) != {"tenant"} or not isinstance(tenant, str):
            raise InvalidRequest('the body must be {"tenant": "<tenant id>"}', "tenant")
        if not _TENANT.match(tenant):
            raise InvalidRequest("'tenant' is not a valid tenant id", "tenant")
        state.detail = {"tenant": tenant}
        try:
            result = await audit.shred(tenant)
        except AuditError as exc:
            raise UpstreamError("the audit log is unavailable") from exc
        # the tenant's Batch API files and results are sealed under its batch key (same KEK)
        try:
            batch = await asyncio.to_thread(_shred_batch, request, tenant)
        except Exception as exc:
            raise UpstreamError("the state store is unavailable") from exc
        state.detail = {
            "tenant": tenant,
            "keys_destroyed": int(result["keys_destroyed"]),
            "contents_unreadable": int(result["contents_unreadable"]),
            "batch_keys_destroyed": int(batch),
        }
        return JSONResponse({"object": "audit.shred", **state.detail})

    return await respond(request, work, (Role.ADMIN,))


@router.get("/v1/audit/summary")
async def audit_summary(request: Request) -> Response:
    """The compliance officer's summary panel: counts aggregated in the audit store
    (serving/audit_summary.py); no record leaves the store."""

    async def work(state: RequestState) -> Response:
        principal, audit = _authorized(request, state)
        _reject_unknown(request, "summary")
        filters = _filters(request, principal)
        bucket = _summary_bucket(request, filters)
        try:
            summary = await audit.summary(filters, bucket)
        except AuditError as exc:
            raise UpstreamError("the audit log is unavailable") from exc
        state.detail = _detail(filters, records=int(summary["records"]))
        return JSONResponse({**summary, "tenant_scope": filters["tenant"]})

    return await respond(request, work, AUDIT_ROLES)


def _summary_bucket(request: Request, filters: dict[str, str | None]) -> int | None:
    """The chart's bucket in seconds: chosen by the server unless ``bucket`` names one of
    BUCKETS for a closed period it splits into at most MAX_POINTS buckets."""
    from serving.audit_summary import BUCKETS, MAX_POINTS, bucket_for

    value = request.query_params.get("bucket")
    if value is None or value == "":
        return None
    allowed = ", ".join(str(b) for b in BUCKETS)
    if not _DIGITS.match(value) or int(value) not in BUCKETS:
        raise InvalidRequest(f"'bucket' must be one of (seconds): {allowed}", "bucket")
    start, end = filters["start"], filters["end"]
    if start is None or end is None or int(value) < bucket_for(start, end):
        raise InvalidRequest(
            f"'bucket' needs 'from' and 'to' spanning at most {MAX_POINTS} buckets", "bucket"
        )
    return int(value)


def _asset(path: str) -> Response:
    body, kind = _ASSET_BODIES[path]
    return Response(body, media_type=kind, headers=_PAGE_HEADERS)


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request) -> Response:
    """The page needs no key to load (it asks the officer for one); it is recorded."""

    async def work(_: RequestState) -> Response:
        return _asset("/audit")

    return await respond(request, work, None)


@router.get("/audit/app.js", include_in_schema=False)
async def audit_js() -> Response:
    return _asset("/audit/app.js")


@router.get("/audit/app.css", include_in_schema=False)
async def audit_css() -> Response:
    return _asset("/audit/app.css")


def _detail(filters: dict[str, str | None], **facts: int) -> dict[str, str | int | bool]:
    detail: dict[str, str | int | bool] = dict(facts)
    for key, value in filters.items():
        if value is not None:
            detail[f"filter_{key}"] = value
    return detail
