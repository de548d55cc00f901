"""The compliance officer's summary of the audit log, aggregated in the store (SQLite or
PostgreSQL) by SQL over the stored canonical records: only counts leave the store, never a
record. ``GET /v1/audit/summary`` (serving/http/audit.py) serves it to the audit page.

For the records matching a filter (period, tenant, event type; the same filter as the records
API), it counts:

- records by outcome and by event type;
- records carrying each data class (a record counts once per class it carries);
- policy denials by rule id (records whose policy decision is ``deny``);
- guardrail verdicts by guard and verdict;
- tokens (prompt, completion, cached);
- a time series: records by outcome and tokens per time bucket, the bucket chosen so that the
  period has at most :data:`MAX_POINTS` of them (empty buckets are not sent).

Every key is a configuration value or machine token already in the records (outcomes, event
types, data classes, rule ids, guard names); no identifier is ever aggregated.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policies.audit import AuditUnavailable, RecordFilter
from policies.audit.record import format_time, parse_time

__all__ = ["BUCKETS", "MAX_POINTS", "bucket_for", "summarize"]

# Bucket widths in seconds, smallest first: a minute up to a week.
BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_POINTS = 200
OUTCOMES = ("success", "failure", "denied")


def bucket_for(start: str | None, end: str | None) -> int:
    """The narrowest bucket that splits [start, end) into at most MAX_POINTS buckets (a day
    when the period is open)."""
    if start is None or end is None:
        return 86400
    span = (parse_time(end) - parse_time(start)).total_seconds()
    for width in BUCKETS:
        if span / width <= MAX_POINTS:
            return width
    return BUCKETS[-1]


# -- SQL per dialect ----------------------------------------------------------------------------
# ``{where}`` is RecordFilter.where() over the leaf columns; the record itself is ``body`` (its
# canonical JSON bytes), read through the dialect's JSON functions.

_SQLITE = {
    "doc": "CAST(body AS TEXT)",
    "epoch": "CAST(strftime('%s', substr(time, 1, 19)) AS INTEGER)",
    "num": "COALESCE(json_extract({doc}, '$.tokens.{k}'), 0)",
    "text": "json_extract({doc}, '$.{path}')",
    "classes": "json_each({doc}, '$.data_classes') AS j",
    "guards": "json_each({doc}, '$.guardrails') AS j",
    "key": "j.key",
    "value": "j.value",
    "ph": "?",
}
_POSTGRES = {
    "doc": "convert_from(body, 'UTF8')::jsonb",
    "epoch": "CAST(floor(extract(epoch FROM CAST(time AS timestamptz))) AS bigint)",
    "num": "COALESCE(CAST({doc} -> 'tokens' ->> '{k}' AS bigint), 0)",
    "text": "{doc} #>> '{{{pg_path}}}'",
    "classes": "jsonb_array_elements_text(COALESCE({doc} -> 'data_classes', '[]'::jsonb)) "
    "AS j(value)",
    "guards": "jsonb_each_text(COALESCE({doc} -> 'guardrails', '{{}}'::jsonb)) AS j(key, value)",
    "key": "j.key",
    "value": "j.value",
    "ph": "%s",
}


def _queries(d: dict[str, str], where: str, bucket: int) -> dict[str, str]:
    doc = d["doc"]

    def num(k: str) -> str:
        return d["num"].format(doc=doc, k=k)

    def text(path: str) -> str:
        return d["text"].format(doc=doc, path=path, pg_path=path.replace(".", ","))

    slot = f"(({d['epoch']}) / {bucket}) * {bucket}"
    return {
        "series": f"SELECT event_type, outcome, {slot} AS slot, COUNT(*), "
        f"SUM({num('prompt')}), SUM({num('completion')}), SUM({num('cached')}) "
        f"FROM audit_leaf WHERE {where} GROUP BY event_type, outcome, slot",
        "classes": f"SELECT {d['value']}, COUNT(*) FROM audit_leaf, "
        f"{d['classes'].format(doc=doc)} WHERE {where} GROUP BY {d['value']}",
        "denials": f"SELECT {text('policy.rule_id')} AS rule, COUNT(*) FROM audit_leaf "
        f"WHERE {where} AND {text('policy.outcome')} = 'deny' GROUP BY rule",
        "guards": f"SELECT {d['key']}, {d['value']}, COUNT(*) FROM audit_leaf, "
        f"{d['guards'].format(doc=doc)} WHERE {where} GROUP BY {d['key']}, {d['value']}",
    }


def _postgres_query(where: str, bucket: int) -> str:
    """The four aggregates in one statement over one parse of each record (``jsonb``), told
    apart by the first column: (kind, key, key2, slot, count, prompt, completion, cached)."""
    d = {**_POSTGRES, "doc": "d"}
    slot = f"(({d['epoch']}) / {bucket}) * {bucket}"
    sums = ", ".join(f"SUM({d['num'].format(doc='d', k=k)})" for k in _TOKEN_KINDS)
    no_sums = "NULL::numeric, NULL::numeric, NULL::numeric"
    rule = "d #>> '{policy,rule_id}'"
    return (
        "WITH r AS MATERIALIZED (SELECT event_type, outcome, time, "
        f"convert_from(body, 'UTF8')::jsonb AS d FROM audit_leaf WHERE {where}) "
        f"SELECT 'series', event_type, outcome, {slot} AS slot, COUNT(*), {sums} "
        "FROM r GROUP BY event_type, outcome, slot "
        f"UNION ALL SELECT 'classes', j.value, NULL::text, NULL::bigint, COUNT(*), {no_sums} "
        f"FROM r, {d['classes'].format(doc='d')} GROUP BY j.value "
        f"UNION ALL SELECT 'denials', {rule}, NULL::text, NULL::bigint, COUNT(*), {no_sums} "
        f"FROM r WHERE d #>> '{{policy,outcome}}' = 'deny' GROUP BY {rule} "
        f"UNION ALL SELECT 'guards', j.key, j.value, NULL::bigint, COUNT(*), {no_sums} "
        f"FROM r, {d['guards'].format(doc='d')} GROUP BY j.key, j.value"
    )


_TOKEN_KINDS = ("prompt", "completion", "cached")


def _rows(store: Any, where: RecordFilter, bucket: int) -> dict[str, list[tuple]]:
    """Run the four aggregate queries in one read transaction of the store's database."""
    from policies.audit.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        return _sqlite_rows(store.path, where, bucket)
    from policies.audit.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        return _postgres_rows(store.dsn, store.schema, where, bucket)
    raise AuditUnavailable(f"no summary for audit store {type(store).__name__}")


def _sqlite_rows(path: Path, where: RecordFilter, bucket: int) -> dict[str, list[tuple]]:
    clause, args = where.where(_SQLITE["ph"])
    clause = clause.replace("TRUE", "1")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as e:
        raise AuditUnavailable(f"cannot read the audit store: {type(e).__name__}") from e
    try:
        conn.execute("BEGIN")  # one snapshot for all four queries (WAL)
        return {
            name: conn.execute(sql, args).fetchall()
            for name, sql in _queries(_SQLITE, clause, bucket).items()
        }
    except sqlite3.Error as e:
        raise AuditUnavailable(f"audit summary failed: {type(e).__name__}") from e
    finally:
        conn.close()


def _postgres_rows(
    dsn: str, schema: str, where: RecordFilter, bucket: int
) -> dict[str, list[tuple]]:
    import psycopg

    clause, args = where.where(_POSTGRES["ph"])
    try:
        with psycopg.connect(
            dsn, connect_timeout=5, options=f"-c search_path={schema} -c statement_timeout=60000"
        ) as conn:
            conn.read_only = True
            rows = conn.execute(_postgres_query(clause, bucket), args).fetchall()  # type: ignore[arg-type]
    except psycopg.Error as e:
        raise AuditUnavailable(f"audit summary failed: {type(e).__name__}") from e
    out: dict[str, list[tuple]] = {"series": [], "classes": [], "denials": [], "guards": []}
    for kind, a, b, slot, count, prompt, completion, cached in rows:
        if kind == "series":
            out[kind].append((a, b, slot, count, prompt, completion, cached))
        elif kind == "guards":
            out[kind].append((a, b, count))
        else:
            out[kind].append((a, count))
    return out


def summarize(store: Any, where: RecordFilter, bucket: int | None = None) -> dict[str, Any]:
    """The summary of the records ``where`` selects (synchronous: run it in a worker thread)."""
    width = bucket or bucket_for(where.start, where.end)
    rows = _rows(store, where, width)
    outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    events: dict[str, int] = defaultdict(int)
    tokens = {"prompt": 0, "completion": 0, "cached": 0}
    points: dict[int, dict[str, int]] = {}
    for event, outcome, slot, count, prompt, completion, cached in rows["series"]:
        outcomes[outcome] = outcomes.get(outcome, 0) + count
        events[event] += count
        tokens["prompt"] += int(prompt or 0)
        tokens["completion"] += int(completion or 0)
        tokens["cached"] += int(cached or 0)
        point = points.setdefault(
            int(slot), {**dict.fromkeys(OUTCOMES, 0), "records": 0, "tokens": 0}
        )
        point[outcome] = point.get(outcome, 0) + count
        point["records"] += count
        point["tokens"] += int(prompt or 0) + int(completion or 0)
    guardrails: dict[str, dict[str, int]] = defaultdict(dict)
    for guard, verdict, count in rows["guards"]:
        guardrails[str(guard)][str(verdict)] = count
    return {
        "object": "audit.summary",
        "records": sum(outcomes.values()),
        "by_outcome": outcomes,
        "by_event_type": dict(sorted(events.items())),
        "data_classes": {str(k): n for k, n in sorted(rows["classes"])},
        "denials_by_rule": {str(k): n for k, n in sorted(rows["denials"], key=_by_name)},
        "guardrails": {g: dict(sorted(v.items())) for g, v in sorted(guardrails.items())},
        "tokens": tokens,
        "series": {
            "bucket_s": width,
            "points": [{"start": _iso(slot), **points[slot]} for slot in sorted(points)],
        },
    }


def _by_name(row: tuple) -> str:
    return str(row[0])


def _iso(epoch: int) -> str:
    return format_time(datetime.fromtimestamp(epoch, UTC))
