"""``bastion eval from-feedback``: rated and corrected answers become eval cases.

A corrected answer becomes the case's expected answer; a positively rated answer without a
correction becomes its own reference (a regression test: a new version should answer alike).
A case needs the request's messages, which Bastion keeps (redacted) only under
``audit.capture: redacted``; other feedback is counted as skipped. Everything written is in
placeholder form and is redacted once more before it is written (fail closed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from serving.evals.cases import EvalCase
from serving.feedback import scrub_numbers

__all__ = ["FromFeedback", "cases_from_feedback", "parse_since"]

_RELATIVE = re.compile(r"^(\d+)([dh])$")


def parse_since(text: str) -> datetime:
    """``2026-12-01``, an ISO time, or ``7d`` / ``24h`` ago."""
    if m := _RELATIVE.match(text.strip()):
        n, unit = int(m.group(1)), m.group(2)
        return datetime.now(UTC) - (timedelta(days=n) if unit == "d" else timedelta(hours=n))
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class FromFeedback:
    cases: list[EvalCase]
    skipped_no_messages: int = 0
    skipped_no_reference: int = 0


def attach_captured(records: list[dict[str, Any]], audit: Any, data_dir: Any) -> int:
    """Give each feedback record that names message roles its request's redacted messages and
    answer, read from the audit log's captured content (encrypted at rest, so a shredded tenant
    or day yields nothing). Each read is audited (``audit.content_read``), as
    ``bastion audit content`` does. Returns how many were shredded."""
    from pathlib import Path

    from policies.audit import open_store
    from policies.audit.cli_content import _cli_record
    from policies.audit.content import ContentVault, FileKek
    from policies.audit.errors import ContentShredded
    from policies.audit.export import append_direct
    from policies.audit.readback import find_by_request_ids
    from policies.audit.record import AuditRecord

    wanted = [r for r in records if r.get("roles")]
    if not wanted:
        return 0
    store = open_store(audit, Path(data_dir))
    shredded = 0
    try:
        vault = ContentVault(store, FileKek(audit.resolve_kek_file(Path(data_dir)), create=False))
        indexes = find_by_request_ids(store, [r["request_id"] for r in wanted])
        for record in wanted:
            index = indexes.get(record["request_id"])
            if index is None:
                continue
            (row,) = store.leaves(index, index + 1)
            audited = AuditRecord.from_canonical(row.body)
            if audited.content is None:
                continue
            status = "read"
            try:
                captured = json.loads(vault.open(audited.content))
            except ContentShredded:
                status, captured = "shredded", None
                shredded += 1
            except KeyError:
                status, captured = "absent", None
            detail: dict[str, str | int | bool] = {"record_index": index, "status": status}
            if audited.tenant:
                detail["content_tenant"] = audited.tenant
            append_direct(store, _cli_record("audit.content_read", detail, status == "read"))
            roles, texts = record["roles"], (captured or {}).get("input") or []
            if captured is None or len(texts) < len(roles):
                continue
            record["messages"] = [
                {"role": r, "content": scrub_numbers(t)}
                for r, t in zip(roles, texts[: len(roles)], strict=True)
            ]
            record["answer"] = scrub_numbers(captured.get("output") or "")
    finally:
        store.close()
    return shredded


def cases_from_feedback(records: list[dict[str, Any]], redactor: Any) -> FromFeedback:
    out = FromFeedback([])
    for record in records:
        messages = record.get("messages")
        if not messages:
            out.skipped_no_messages += 1
            continue
        reference = record.get("correction") or (
            record.get("answer") if record["positive"] else None
        )
        if not reference:
            out.skipped_no_reference += 1
            continue
        texts = [m["content"] for m in messages] + [reference]
        result = redactor.redact_messages(texts, record["tenant"])  # again: fail closed
        *contents, expected = [scrub_numbers(t) for t in result.texts]
        tags = ["feedback", "corrected" if record.get("correction") else "rated"]
        tags.append(f"rating:{record['label']}")
        out.cases.append(
            EvalCase(
                id=f"feedback-{record['request_id']}",
                messages=[
                    {"role": m["role"], "content": c}
                    for m, c in zip(messages, contents, strict=True)
                ],
                expected=expected,
                checks=[{"type": "similarity"}],
                tags=tags,
            )
        )
    return out
