"""Reading captured content back for an investigation: the view shown by the API, the CLI and
the audit page (the record, its commitment and the redacted content), and finding a request's
record. Content is redacted text with placeholders; it never holds an original value."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .record import AuditRecord
from .store.base import AuditStore, RecordFilter

__all__ = ["content_view", "find_by_request_id", "find_by_request_ids"]


def find_by_request_id(store: AuditStore, request_id: str) -> int | None:
    """Index of the request's record that carries content (else its first record)."""
    return find_by_request_ids(store, [request_id]).get(request_id)


def find_by_request_ids(store: AuditStore, request_ids: Iterable[str]) -> dict[str, int]:
    """For each request id found: the index of its record that carries content (else its
    first record). One pass over the log for any number of ids; it stops early once every id
    has a record with content."""
    needles = {f'"request_id":"{rid}"'.encode(): rid for rid in set(request_ids)}
    found: dict[str, int] = {}
    with_content: set[str] = set()
    after: int | None = None
    while len(with_content) < len(needles) and (rows := store.query(RecordFilter(), after, 10000)):
        for r in rows:
            for needle, rid in needles.items():
                if rid in with_content or needle not in r.body:
                    continue
                if b'"content":{' in r.body:
                    found[rid] = r.index
                    with_content.add(rid)
                else:
                    found.setdefault(rid, r.index)
        after = rows[-1].index
    return found


def content_view(index: int, record: AuditRecord, text: str) -> dict[str, Any]:
    """What a read shows: the record, its commitment and the captured (redacted) content."""
    try:
        captured: Any = json.loads(text)
    except ValueError:
        captured = text
    if isinstance(captured, dict) and set(captured) <= {"input", "output"}:
        body = {"input": captured.get("input"), "output": captured.get("output")}
    else:
        body = {"text": captured}
    return {
        "object": "audit.content",
        "index": index,
        "record": record.model_dump(mode="json", exclude_none=True),
        "commitment": record.content.model_dump(mode="json") if record.content else None,
        "content": body,
    }
