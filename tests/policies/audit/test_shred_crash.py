"""kill -9 during shredding: the tenant's data keys are all still there (the old keys) or all
gone, never some of them, on real SQLite and PostgreSQL. The shredding runs in a subprocess
that the test kills with SIGKILL while its transaction is open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policies.audit import AuditConfig, ContentShredded, FileKek, open_store
from policies.audit.content import ContentVault
from policies.audit.store.base import AuditStore

from .conftest import PG_DSN

ROOT = Path(__file__).resolve().parents[3]
KEYS = 400  # many keys, so that a kill inside the UPDATE would catch it half-way
AT = "2026-03-02T00:00:00.000Z"

# The shredder. With SQLite it pauses inside the shredding transaction when the progress handler
# has run STOP_AT times (a test instrument on the real connection, not a double of the store),
# tells the parent where it stands, and waits to be killed.
SHREDDER = """
import sys, time
from pathlib import Path
from policies.audit import AuditConfig, open_store
config = AuditConfig.model_validate_json(sys.argv[1])
marker, stop_at = Path(sys.argv[2]), int(sys.argv[3])
store = open_store(config, Path(sys.argv[4]))
calls = {"n": 0, "armed": False}
def pause():
    if calls["armed"]:
        calls["n"] += 1
        if calls["n"] == stop_at:
            marker.write_text("tx" if store._w.in_transaction else "idle")
            time.sleep(600)
    return 0
if config.store == "sqlite":
    store._w.set_progress_handler(pause, 20)
    calls["armed"] = True
n = store.shred_data_keys("acme", "2026-03-02T00:00:00.000Z")
marker.write_text(f"done {n}")
time.sleep(600)
"""


def _seed(config: AuditConfig, data: Path) -> tuple[AuditStore, ContentVault, list]:
    store = open_store(config, data)
    vault = ContentVault(store, FileKek(data / "kek"))
    sealed = [vault.seal("acme", f"<PERSON_{i}>", f"2026-01-{1 + i % 28:02d}") for i in range(40)]
    sealed.append(vault.seal("globex", "<PERSON_1>", "2026-01-01"))
    for i in range(KEYS - 28):  # more acme keys (periods of other years), no content needed
        vault.seal("acme", "x", f"{1000 + i}-01-01")
    return store, vault, sealed


def _state(store: AuditStore, vault: ContentVault, sealed: list) -> tuple[int, int, int]:
    """(live acme keys, readable acme contents, shredded acme contents); globex untouched."""
    live = sum(k.wrapped is not None for k in store.data_keys("acme"))
    readable = shredded = 0
    for s in sealed:
        if s.row_without_index[1] != "acme":
            continue
        try:
            vault.open(s.ref)
            readable += 1
        except ContentShredded:
            shredded += 1
    assert all(k.wrapped is not None for k in store.data_keys("globex"))
    return live, readable, shredded


def _start(config: AuditConfig, data: Path, marker: Path, stop_at: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SHREDDER, config.model_dump_json(), str(marker), str(stop_at),
         str(data)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def _wait(condition, what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit  # a bound on waiting, not a timing assertion
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("stop_at", [1, 3, 10, 40, 10**9])
def test_sqlite_kill_9_during_shredding_leaves_all_keys_or_none(
    tmp_path: Path, stop_at: int
) -> None:
    config = AuditConfig(sqlite_path=str(tmp_path / "audit.db"))
    store, vault, sealed = _seed(config, tmp_path)
    # The contents are committed with their records' rows (content rows need no leaf here).
    store.append_batch(0, [], [s.row(i) for i, s in enumerate(sealed)])
    before = _state(store, vault, sealed)
    assert before == (KEYS, 40, 0)
    store.close()

    marker = tmp_path / "marker"
    proc = _start(config, tmp_path, marker, stop_at)
    _wait(marker.exists, "the shredder")
    _wait(lambda: marker.read_text() != "", "the shredder's state")
    where = marker.read_text()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    store = open_store(config, tmp_path)
    after = _state(store, ContentVault(store, FileKek(tmp_path / "kek")), sealed)
    store.close()
    if stop_at == 10**9:
        assert where == f"done {KEYS}"
        assert after == (0, 0, 40)  # committed before the kill: none left
    else:
        assert where == "tx"  # killed inside the shredding transaction...
        assert after == before  # ...so every old key is still there


@pytest.mark.postgres
def test_postgres_kill_9_during_shredding_leaves_all_keys_or_none(
    tmp_path: Path, pg_schema: str
) -> None:
    import psycopg

    config = AuditConfig(store="postgres", dsn=PG_DSN, pg_schema=pg_schema)
    store, vault, sealed = _seed(config, tmp_path)
    store.append_batch(0, [], [s.row(i) for i, s in enumerate(sealed)])
    before = _state(store, vault, sealed)
    last = store.data_keys("acme")[-1].dek_id
    # Hold one of the tenant's key rows: the shredder's UPDATE starts and then waits on it.
    holder = psycopg.connect(PG_DSN, options=f"-c search_path={pg_schema}")
    holder.execute("SELECT 1 FROM audit_data_key WHERE dek_id = %s FOR UPDATE", (last,))
    marker = tmp_path / "marker"
    proc = _start(config, tmp_path, marker, 0)

    watch = psycopg.connect(PG_DSN, autocommit=True)

    def waiting() -> list[int]:
        return [
            r[0]
            for r in watch.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'UPDATE audit_data_key%%'"
            ).fetchall()
        ]

    _wait(lambda: bool(waiting()), "the shredder's UPDATE to wait on the held row")
    (backend,) = waiting()
    os.kill(proc.pid, signal.SIGKILL)  # kill -9 with its UPDATE under way
    proc.wait()
    holder.rollback()
    holder.close()

    def gone() -> bool:
        return not watch.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)
        ).fetchone()

    _wait(gone, "the killed client's transaction to end")
    watch.close()
    assert not marker.exists()  # it never got to commit
    assert _state(store, vault, sealed) == before  # every old key is still there

    # Shredding to the end destroys them all.
    assert store.shred_data_keys("acme", AT) == KEYS
    assert _state(store, vault, sealed) == (0, 0, 40)
    store.close()
