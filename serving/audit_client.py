"""How the ingress reaches the audit log: in-process (tests, tools) or the AuditSequencer replica.

Both clients speak plain JSON-able values so the same code runs with and without Ray:
- ``append(record) -> index``: returns once the record is durable; raises AuditUnavailable.
- ``query(filters, limit, cursor) -> {"records": [{"index", "record"}], "next_cursor"}``.
- ``export(start, end, tenant, event_type, fmt, with_content) -> (zip bytes, audit detail)``.
- ``checkpoint() -> {"tree_size", "root_hash", "time", "key_id", "signed": {...}}``.
- ``status() -> {"tree_size", "latest_checkpoint", "healthy", "error"}``.
- ``summary(filters, bucket) -> {"by_outcome", "data_classes", ..., "series"}``: counts
  aggregated in the store (serving/audit_summary.py), never the records.
- ``content(index, tenant) -> {"status": "read"|"shredded"|"not_found", "view"?, "tenant"?}``:
  a record's captured content, only when the record belongs to ``tenant`` (None: any).
- ``shred(tenant) -> {"tenant", "keys_destroyed", "contents_unreadable"}``.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
from pathlib import Path
from typing import Any, Protocol

from policies.audit import AuditLog, AuditRecord, AuditUnavailable, ContentShredded, RecordFilter
from policies.audit.readback import content_view

__all__ = ["AuditClient", "LocalAuditClient", "RayAuditClient", "filters_from"]

_FILTER_FIELDS = ("start", "end", "tenant", "event_type", "outcome")


class AuditClient(Protocol):
    async def append(self, record: AuditRecord, content: str | None = None) -> int: ...

    async def query(
        self, filters: dict[str, str | None], limit: int = 100, cursor: int | None = None
    ) -> dict[str, Any]: ...

    async def export(
        self,
        start: str | None,
        end: str | None,
        tenant: str | None = None,
        event_type: str | None = None,
        fmt: str = "jsonl",
        with_content: bool = False,
    ) -> tuple[bytes, dict[str, Any]]: ...

    async def checkpoint(self) -> dict[str, Any]: ...

    async def status(self) -> dict[str, Any]: ...

    async def summary(
        self, filters: dict[str, str | None], bucket: int | None = None
    ) -> dict[str, Any]: ...

    async def content(self, index: int, tenant: str | None) -> dict[str, Any]: ...

    async def shred(self, tenant: str) -> dict[str, Any]: ...


def filters_from(filters: dict[str, str | None]) -> RecordFilter:
    unknown = set(filters) - set(_FILTER_FIELDS)
    if unknown:
        raise ValueError(f"unknown audit filter: {sorted(unknown)[0]}")
    return RecordFilter(**{k: v for k, v in filters.items() if v})


def _checkpoint_json(log: AuditLog) -> dict[str, Any]:
    cp = log.latest_checkpoint()
    if cp is None:
        return {"tree_size": 0, "root_hash": None, "time": None, "key_id": None, "signed": None}
    return {
        "tree_size": cp.tree_size,
        "root_hash": base64.b64encode(cp.root_hash).decode(),
        "time": cp.time,
        "key_id": cp.key_id,
        "signed": cp.to_json(),
        "public_key_pem": log.signer.public_key_pem(),
    }


class LocalAuditClient:
    """An AuditLog in this process (the sequencer replica itself, tests, tools)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.error: str | None = None

    async def append(self, record: AuditRecord, content: str | None = None) -> int:
        try:
            index = await self.log.append(record, content)
        except AuditUnavailable as exc:
            self.error = type(exc).__name__
            raise
        self.error = None
        return index

    async def query(
        self, filters: dict[str, str | None], limit: int = 100, cursor: int | None = None
    ) -> dict[str, Any]:
        page = await self.log.query(filters_from(filters), limit, cursor)
        return {
            "records": [
                {"index": i, "record": r.model_dump(mode="json", exclude_none=True)}
                for i, r in page.records
            ],
            "next_cursor": page.next_cursor,
        }

    async def export(
        self,
        start: str | None,
        end: str | None,
        tenant: str | None = None,
        event_type: str | None = None,
        fmt: str = "jsonl",
        with_content: bool = False,
    ) -> tuple[bytes, dict[str, Any]]:
        """Raises ValueError for ``with_content`` when the log captures no content."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "bundle.zip"
            summary = await self.log.export(
                out, start, end, tenant, event_type, fmt,  # type: ignore[arg-type]
                with_content=with_content,
            )  # fmt: skip
            return out.read_bytes(), summary.audit_detail()

    async def checkpoint(self) -> dict[str, Any]:
        return _checkpoint_json(self.log)

    async def status(self) -> dict[str, Any]:
        cp = _checkpoint_json(self.log)
        return {
            "tree_size": self.log.size,
            "latest_checkpoint": cp,
            "healthy": self.error is None,
            "error": self.error,
        }

    async def summary(
        self, filters: dict[str, str | None], bucket: int | None = None
    ) -> dict[str, Any]:
        from serving.audit_summary import summarize

        where = filters_from(filters)
        return await asyncio.to_thread(summarize, self.log.store, where, bucket)

    async def content(self, index: int, tenant: str | None) -> dict[str, Any]:
        """Decrypts only a record in ``tenant``'s scope (None: every tenant)."""
        record = await self.log.record_at(index)
        if record is None or record.content is None or record.tenant is None:
            return {"status": "not_found"}
        if tenant is not None and record.tenant != tenant:
            return {"status": "not_found"}
        try:
            text = await self.log.read_content(record)
        except ContentShredded:
            return {"status": "shredded", "tenant": record.tenant}
        except KeyError:
            return {"status": "not_found", "tenant": record.tenant}
        return {
            "status": "read",
            "tenant": record.tenant,
            "view": content_view(index, record, text),
        }

    async def shred(self, tenant: str) -> dict[str, Any]:
        erased = await self.log.erase_tenant(tenant)
        return {
            "tenant": tenant,
            "keys_destroyed": erased.keys,
            "contents_unreadable": erased.contents,
        }


class RayAuditClient:
    """Calls the AuditSequencer deployment (one replica orders and group-commits appends)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def append(self, record: AuditRecord, content: str | None = None) -> int:
        return await self._call("append", record.model_dump(mode="json"), content)

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self.handle, method).remote(*args)
        except (AuditUnavailable, ValueError):
            raise
        except Exception as exc:  # the sequencer is unreachable: fail closed
            raise AuditUnavailable(f"audit sequencer unreachable: {type(exc).__name__}") from exc

    async def query(
        self, filters: dict[str, str | None], limit: int = 100, cursor: int | None = None
    ) -> dict[str, Any]:
        return await self._call("query", filters, limit, cursor)

    async def export(
        self,
        start: str | None,
        end: str | None,
        tenant: str | None = None,
        event_type: str | None = None,
        fmt: str = "jsonl",
        with_content: bool = False,
    ) -> tuple[bytes, dict[str, Any]]:
        return await self._call("export", start, end, tenant, event_type, fmt, with_content)

    async def checkpoint(self) -> dict[str, Any]:
        return await self._call("checkpoint")

    async def status(self) -> dict[str, Any]:
        return await self._call("status")

    async def summary(
        self, filters: dict[str, str | None], bucket: int | None = None
    ) -> dict[str, Any]:
        return await self._call("summary", filters, bucket)

    async def content(self, index: int, tenant: str | None) -> dict[str, Any]:
        return await self._call("content", index, tenant)

    async def shred(self, tenant: str) -> dict[str, Any]:
        return await self._call("shred", tenant)
