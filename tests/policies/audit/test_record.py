"""Records: canonical bytes, time format, and the no-identifier invariant at the schema level."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from policies.audit import AuditConfig, AuditRecord

from .conftest import make_record


def test_canonical_bytes_are_sorted_compact_utf8_and_stable() -> None:
    rec = make_record(
        3, guardrails={"pii": "pass", "injection": "block"}, detail={"b": 1, "a": True}
    )
    body = rec.canonical_bytes()
    obj = json.loads(body)
    assert body == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    assert AuditRecord.from_canonical(body).canonical_bytes() == body
    assert obj["time"] == "2026-03-01T12:00:03.000Z"
    assert "cost_micro_usd" in obj and not any(isinstance(v, float) for v in obj.values())
    assert "error_type" not in obj  # None fields are omitted


def test_time_is_normalized_to_utc_milliseconds() -> None:
    t = datetime(2026, 3, 1, 14, 0, 0, 123987, tzinfo=timezone(timedelta(hours=2)))
    rec = make_record(0, time=t)
    assert json.loads(rec.canonical_bytes())["time"] == "2026-03-01T12:00:00.123Z"
    with pytest.raises(ValidationError):
        make_record(0, time=datetime(2026, 3, 1))  # naive time is ambiguous
    assert rec.time == "2026-03-01T12:00:00.123Z"
    assert make_record(0, time="2026-03-01T12:00:00.123Z") == rec  # canonical strings accepted
    with pytest.raises(ValidationError):
        make_record(0, time="2026-03-01 12:00")


@pytest.mark.parametrize(
    "fields",
    [
        {"entity_counts": {"PERSON": "John Smith"}},  # values, never
        {"entity_counts": {"John Smith": 1}},  # entity types are upper-case tokens
        {"error_type": "patient John Smith not found"},  # free text
        {"request_id": "MRN 12345678 / John"},
        {"data_classes": ("phi data",)},
        {"guardrails": {"pii": "found 4111 1111 1111 1111"}},
        {"detail": {"note": "Jane Doe asked"}},
        {"unknown_field": 1},
        {"cost_micro_usd": 0.5},  # no floats in hashed records
    ],
)
def test_fields_cannot_carry_free_text_or_values(fields: dict) -> None:
    with pytest.raises(ValidationError):
        make_record(0, **fields)


def test_config_validation(tmp_path) -> None:
    from policies.audit import AuditUnavailable, open_store

    # The DSN may come from the sequencer's environment, so it is checked when the store opens.
    with pytest.raises(AuditUnavailable, match="DSN"):
        open_store(AuditConfig(store="postgres"), tmp_path)
    with pytest.raises(ValidationError):
        AuditConfig(batch_size=3)  # extra="forbid"
    assert AuditConfig().resolve_sqlite_path("/d").as_posix() == "/d/audit.db"


def test_models_must_declare_fields_alphabetically() -> None:
    from policies.audit.record import _Model

    with pytest.raises(TypeError, match="alphabetical"):

        class Bad(_Model):
            zeta: int = 0
            alpha: int = 0
