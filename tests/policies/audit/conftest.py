"""Fixtures: real SQLite files and a real PostgreSQL server (skipped when unreachable)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies.audit import AuditConfig, AuditRecord, FileEd25519Signer, open_store
from policies.audit.record import Actor, PolicyRef, Resource, Tokens
from policies.audit.store.base import AuditStore

PG_DSN = os.environ.get("BASTION_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3) as c:
            c.execute("SELECT 1")
    except Exception as e:  # any failure means: skip, with the reason
        return f"PostgreSQL not reachable at {PG_DSN}: {type(e).__name__}: {e}"
    return None


def make_record(
    n: int = 0, tenant: str = "acme", event_type: str = "inference.chat", **kw: object
) -> AuditRecord:
    fields: dict[str, object] = dict(
        event_type=event_type,
        time=T0 + timedelta(seconds=n),
        request_id=f"req-{n}",
        actor=Actor(key_id=f"key_{tenant}", tenant=tenant, role="app"),
        origin="10.0.0.7",
        outcome="success",
        status_code=200,
        resource=Resource(model="smollm2", version="v1", site="de-fra-1"),
        data_classes=("PHI",),
        entity_counts={"PERSON": 2, "MRN": 1},
        policy=PolicyRef(rule_id="phi-local", version="7", outcome="allow"),
        tokens=Tokens(prompt=12, completion=30),
        cost_micro_usd=420,
        latency_ms=88,
        cache_hit=False,
        stream=n % 2 == 0,
    )
    fields.update(kw)
    return AuditRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    reason = pg_reachable()
    if reason:
        pytest.skip(reason)
    import psycopg
    from psycopg import sql

    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., AuditConfig]:
    """Factory of AuditConfig for the parametrized backend (same database for every call)."""
    if request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")

        def pg(**kw: object) -> AuditConfig:
            return AuditConfig(store="postgres", dsn=PG_DSN, pg_schema=schema, **kw)

        return pg

    def lite(**kw: object) -> AuditConfig:
        return AuditConfig(store="sqlite", sqlite_path=str(tmp_path / "audit.db"), **kw)

    return lite


@pytest.fixture
def store(backend: Callable[..., AuditConfig], tmp_path: Path) -> Iterator[AuditStore]:
    s = open_store(backend(), tmp_path)
    yield s
    s.close()


@pytest.fixture
def signer(tmp_path: Path) -> FileEd25519Signer:
    return FileEd25519Signer(tmp_path / "audit-signing.key")
