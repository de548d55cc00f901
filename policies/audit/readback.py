"""Reading captured content back for an investigation: the view shown by the API, the CLI and
the audit page (the record, its commitment and the redacted content), and finding a request's
record. Content is redacted text with placeholders; it never holds an original value."""

from __future__ import annotations

import json
from typing import Any

from .record import AuditRecord
from .store.base import AuditStore, RecordFilter

__all__ = ["content_view", "find_by_request_id"]


def find_by_request_id(store: AuditStore, request_id: str) -> int | None:
    """Index of the request's record that carries content (else its first record)."""
    needle = f'"request_id":"{request_id}"'.encode()
    found: int | None = None
    after: int | None = None
    while rows := store.query(RecordFilter(), after, 10000):
        for r in rows:
            if needle in r.body:
                if b'"content":{' in r.body:
                    return r.index
                found = r.index if found is None else found
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
