"""The compliance officer's summary (GET /v1/audit/summary, serving/audit_summary.py): counts
aggregated in the real audit store, SQLite and PostgreSQL, checked against an independent count
over the records in Python; tenant scope as the records API; no record leaves the store."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from policies.audit import (
    Actor,
    AuditConfig,
    AuditRecord,
    PolicyRef,
    RecordFilter,
    Resource,
    Tokens,
    build_audit_log,
)
from policies.audit.record import parse_time
from serving.audit_client import LocalAuditClient
from serving.audit_summary import bucket_for, summarize
from tests.serving.test_audit_api import AuditApp, build_audit_app
from tests.state.pg import PG_DSN, require_pg

T0 = datetime(2026, 5, 4, tzinfo=UTC)  # outside the records API tests' March window
WINDOW = {"from": "2026-05-04T00:00:00Z", "to": "2026-05-06T00:00:00Z"}
CLASSES = ((), ("PHI",), ("PCI", "PII"), ("PHI", "PII"))
GUARDS = (None, {"injection": "pass"}, {"injection": "block", "topic": "flag"}, {"topic": "pass"})


def _record(i: int) -> AuditRecord:
    tenant = None if i % 11 == 10 else ("acme", "clinic", "bank")[i % 3]
    outcome = "denied" if i % 5 == 3 else "failure" if i % 7 == 6 else "success"
    if tenant is None:
        outcome = "failure"
    event = "auth.failed" if tenant is None else ("inference.chat", "audit.queried")[i % 9 == 4]
    inference = event.startswith("inference")
    deny = outcome == "denied"
    return AuditRecord(
        event_type=event,
        time=T0 + timedelta(minutes=37 * i),
        outcome=outcome,
        actor=Actor(key_id=f"{i:016x}", role="app", tenant=tenant),
        request_id=f"sum-{i:04d}",
        resource=Resource(model="smollm2-135m-instruct", version="v1", site="local"),
        policy=PolicyRef(
            outcome="deny" if deny else "allow",
            rule_id=("tenant/purpose-required", "model/data-class")[i % 2] if deny else "allow-1",
            version="test",
        )
        if inference
        else None,
        status_code={"success": 200, "denied": 403, "failure": 500}[outcome],
        tokens=Tokens(prompt=10 + i, completion=i % 4, cached=(i % 3) or None)
        if inference
        else None,
        data_classes=CLASSES[i % 4] if inference else (),
        guardrails=GUARDS[i % 4] if inference and not deny else None,
    )


RECORDS = [_record(i) for i in range(70)]


def oracle(query: dict[str, str], bucket: int) -> dict[str, Any]:
    """The summary computed over RECORDS in Python, independently of the store."""
    start, end, tenant = query.get("from"), query.get("to"), query.get("tenant")
    lo = parse_time(start) if start else datetime.min.replace(tzinfo=UTC)
    hi = parse_time(end) if end else datetime.max.replace(tzinfo=UTC)
    rows = [
        r for r in RECORDS if lo <= parse_time(r.time) < hi and tenant in (None, r.actor.tenant)
    ]
    outcomes = Counter({"success": 0, "failure": 0, "denied": 0})
    outcomes.update(r.outcome for r in rows)
    guards: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        for guard, verdict in (r.guardrails or {}).items():
            guards[guard][verdict] += 1
    tokens = Counter(prompt=0, completion=0, cached=0)
    for r in rows:
        if r.tokens:
            tokens.update(
                prompt=r.tokens.prompt, completion=r.tokens.completion, cached=r.tokens.cached or 0
            )
    points: dict[int, Counter[str]] = defaultdict(Counter)
    for r in rows:
        slot = int(parse_time(r.time).timestamp()) // bucket * bucket
        points[slot].update({r.outcome: 1, "records": 1})
        if r.tokens:
            points[slot]["tokens"] += r.tokens.prompt + r.tokens.completion
    return {
        "records": len(rows),
        "by_outcome": dict(outcomes),
        "by_event_type": dict(sorted(Counter(r.event_type for r in rows).items())),
        "data_classes": dict(sorted(Counter(c for r in rows for c in r.data_classes).items())),
        "denials_by_rule": dict(
            sorted(
                Counter(
                    r.policy.rule_id for r in rows if r.policy and r.policy.outcome == "deny"
                ).items()
            )
        ),
        "guardrails": {g: dict(sorted(v.items())) for g, v in sorted(guards.items())},
        "tokens": dict(tokens),
        "points": {
            slot: {"success": 0, "failure": 0, "denied": 0, "tokens": 0, **c}
            for slot, c in points.items()
        },
    }


def compare(summary: dict[str, Any], want: dict[str, Any]) -> None:
    for name in (
        "records",
        "by_outcome",
        "by_event_type",
        "data_classes",
        "denials_by_rule",
        "guardrails",
        "tokens",
    ):
        assert summary[name] == want[name], name
    got = {
        int(parse_time(p["start"]).timestamp()): {k: v for k, v in p.items() if k != "start"}
        for p in summary["series"]["points"]
    }
    assert got == want["points"]


FILTERS = [
    {},
    {"tenant": "acme"},
    {"tenant": "clinic", "from": "2026-05-04T06:00:00Z", "to": "2026-05-04T20:00:00Z"},
    {"from": "2026-05-04T10:00:00Z", "to": "2026-05-04T10:30:00Z"},
    {"tenant": "nobody"},
]


def test_the_fixture_covers_every_kind_of_count():
    want = oracle(WINDOW, 3600)
    assert all(want["by_outcome"].values())
    assert len(want["denials_by_rule"]) == 2 and len(want["data_classes"]) == 3
    assert set(want["guardrails"]) == {"injection", "topic"} and want["tokens"]["cached"]
    assert len(want["points"]) > 20


@pytest.fixture(scope="module")
def sqlite_env(aio: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditApp]:
    env = build_audit_app(aio, tmp_path_factory.mktemp("audit-summary"))
    for record in RECORDS:
        aio.run(env.log.append(record))
    yield env
    aio.run(env.client.aclose())
    aio.run(env.log.close())


@pytest.fixture(scope="module")
def postgres_env(aio: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditApp]:
    """The same app over a PostgreSQL audit log (a fresh schema, dropped afterwards)."""
    require_pg()
    import uuid

    import psycopg
    from psycopg import sql

    root = tmp_path_factory.mktemp("audit-summary-pg")
    env = build_audit_app(aio, root)
    schema = f"audit_summary_{uuid.uuid4().hex[:12]}"
    config = AuditConfig(store="postgres", dsn=PG_DSN, pg_schema=schema)
    log = aio.run(build_audit_log(config, Path(root) / "pg"))
    for record in RECORDS:
        aio.run(log.append(record))
    env.app.state.audit = LocalAuditClient(log)
    aio.run(env.log.close())  # the SQLite log the app was built with
    env.log = log
    yield env
    aio.run(env.client.aclose())
    aio.run(log.close())
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest) -> AuditApp:
    return request.getfixturevalue(f"{request.param}_env")


@pytest.mark.parametrize("filters", FILTERS)
def test_summary_in_the_store_equals_the_count_over_the_records(env, filters):
    query = {**WINDOW, **filters}
    where = RecordFilter(
        start=query["from"].replace("Z", ".000Z"),
        end=query["to"].replace("Z", ".000Z"),
        tenant=query.get("tenant"),
    )
    bucket = bucket_for(where.start, where.end)
    summary = summarize(env.log.store, where)
    assert summary["series"]["bucket_s"] == bucket
    compare(summary, oracle(query, bucket))


@pytest.mark.parametrize("bucket", [900, 3600, 86400])
def test_route_for_the_operator_over_every_tenant(env, bucket):
    r = env.get("/v1/audit/summary", key="operator", bucket=bucket, **WINDOW)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "audit.summary" and body["tenant_scope"] is None
    assert body["series"]["bucket_s"] == bucket
    compare(body, oracle(WINDOW, bucket))
    # counts only: not one record, request id or key id is in the answer
    text = json.dumps(body)
    assert "sum-0" not in text and "request_id" not in text and f"{3:016x}" not in text
    assert env.last_detail() == {
        "records": body["records"],
        "filter_start": "2026-05-04T00:00:00.000Z",
        "filter_end": "2026-05-06T00:00:00.000Z",
    }


def test_a_tenant_auditor_gets_their_own_tenant_only(env):
    r = env.get("/v1/audit/summary", key="auditor", **WINDOW)
    assert r.status_code == 200, r.text
    assert r.json()["tenant_scope"] == "acme"
    compare(r.json(), oracle({**WINDOW, "tenant": "acme"}, r.json()["series"]["bucket_s"]))
    r = env.get("/v1/audit/summary", key="auditor", tenant="clinic", **WINDOW)
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    r = env.get("/v1/audit/summary", key="clinic_auditor", **WINDOW)
    assert r.status_code == 200 and r.json()["tenant_scope"] == "clinic"


@pytest.mark.parametrize("key", ["app", None])
def test_other_roles_and_no_key_are_refused(env, key):
    r = env.get("/v1/audit/summary", key=key, **WINDOW)
    assert r.status_code == (403 if key else 401)


@pytest.mark.parametrize(
    "params",
    [
        {"bogus": "1"},
        {"bucket": "61"},
        {"bucket": "x"},
        {"bucket": "60"},  # two days in minutes: more than 200 buckets
        {"bucket": "3600", "from": ""},  # bucket without a closed period
        {"from": "yesterday"},
        {"from": "2026-05-06T00:00:00Z", "to": "2026-05-04T00:00:00Z"},
        {"tenant": "Not A Tenant"},
        {"event_type": "DROP TABLE"},
    ],
)
def test_bad_parameters_are_400(env, params):
    r = env.get("/v1/audit/summary", key="operator", **{**WINDOW, **params})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "DROP" not in r.text and "yesterday" not in r.text


def test_event_type_filter(env):
    r = env.get("/v1/audit/summary", key="operator", event_type="auth.failed", **WINDOW)
    assert r.status_code == 200
    want = [x for x in RECORDS if x.event_type == "auth.failed"]
    assert r.json()["by_event_type"] == {"auth.failed": len(want)} and want
    assert r.json()["tokens"] == {"prompt": 0, "completion": 0, "cached": 0}


def test_open_period_uses_daily_buckets_and_counts_everything_in_the_log(sqlite_env):
    body = sqlite_env.get("/v1/audit/summary", key="operator").json()
    assert body["series"]["bucket_s"] == 86400
    assert body["records"] == sum(p["records"] for p in body["series"]["points"])
    assert body["records"] >= len(RECORDS)  # and the other tests' records, and these queries


def test_bucket_choice():
    assert bucket_for("2026-05-04T00:00:00.000Z", "2026-05-04T01:00:00.000Z") == 60
    assert bucket_for("2026-05-04T00:00:00.000Z", "2026-05-06T00:00:00.000Z") == 900
    assert bucket_for("2026-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z") == 7 * 86400
    assert bucket_for(None, "2026-05-06T00:00:00.000Z") == 86400
    spans = [timedelta(minutes=m) for m in (1, 59, 200, 10_000, 100_000)]
    for span, start in itertools.product(spans, [T0]):
        width = bucket_for(
            start.isoformat().replace("+00:00", "Z"),
            (start + span).isoformat().replace("+00:00", "Z"),
        )
        assert span.total_seconds() / width <= 200 or width == 7 * 86400
