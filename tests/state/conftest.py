"""Every state test runs against both backends: SQLite in a temporary folder and a fresh schema
of the real PostgreSQL server (skipped, with the reason, when it is unreachable)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from state import StateStore
from tests.state.pg import PG_DSN, fresh_schema

# (backend, where): enough to open another instance on the same data from another process.
Spec = tuple[str, str]


def open_spec(spec: Spec) -> StateStore:
    backend, where = spec
    if backend == "postgres":
        from state.postgres import PostgresStateStore

        return PostgresStateStore(PG_DSN, schema=where)
    from state.sqlite import SqliteStateStore

    return SqliteStateStore(Path(where))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Spec]:
    if request.param == "postgres":
        with fresh_schema() as schema:
            yield ("postgres", schema)
    else:
        yield ("sqlite", str(tmp_path / "state.db"))


@pytest.fixture
def opener(spec: Spec) -> Iterator[Callable[[], StateStore]]:
    """Opens instances of one store (like several replicas); all closed afterwards."""
    opened: list[StateStore] = []

    def open_one() -> StateStore:
        store = open_spec(spec)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[[], StateStore]) -> StateStore:
    return opener()
