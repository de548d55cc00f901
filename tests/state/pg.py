"""The real PostgreSQL server for state tests: a fresh schema or a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_DSN = os.environ.get("BASTION_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def pg_skip_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: skip, with the reason
        return f"PostgreSQL not reachable at {PG_DSN}: {type(exc).__name__}"
    return None


def require_pg() -> None:
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A schema name no other run uses; dropped (with everything in it) afterwards."""
    import psycopg
    from psycopg import sql

    require_pg()
    schema = f"state_test_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def fresh_database() -> Iterator[str]:
    """The DSN of a new, empty database (for code that picks its own schema names, such as
    ``bastion`` itself: audit log and state store); dropped afterwards."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    require_pg()
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(PG_DSN, dbname=name)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
