"""API keys in the shared state store: authentication on both backends, the per-replica cache
bound, the upgrade from a per-host keys.db, and the `bastion keys` CLI writing to the
configured store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies.access import AuthenticationFailed, KeyStore, Role, open_keystore
from policies.audit.config import AuditConfig
from state import StateStore
from tests.state.conftest import open_spec
from tests.state.pg import fresh_database, fresh_schema

BIN = Path(sys.executable).parent / "bastion"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """One store's address; each KeyStore below opens its own instance (one per replica)."""
    if request.param == "postgres":
        with fresh_schema() as schema:
            yield ("postgres", schema)
    else:
        yield ("sqlite", str(tmp_path / "state.db"))


@pytest.fixture
def replicas(shared: tuple[str, str]) -> Iterator[list[StateStore]]:
    stores = [open_spec(shared), open_spec(shared)]
    yield stores
    for store in stores:
        store.close()


def test_create_authenticate_and_revoke(replicas: list[StateStore]) -> None:
    keys = KeyStore(replicas[0])
    key, info = keys.create("acme", Role.AUDITOR, name="ci")
    principal = keys.authenticate(key)
    assert (principal.key_id, principal.tenant, principal.role) == (info.key_id, "acme", "auditor")
    assert [k.key_id for k in keys.list("acme")] == [info.key_id] and keys.count() == 1
    assert keys.revoke(info.key_id) and not keys.revoke(info.key_id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        keys.authenticate(key)
    assert keys.list()[0].revoked_at is not None


@pytest.mark.parametrize(
    ("bearer", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sk-not-a-bastion-key", "malformed"),
        ("bst_0123456789abcdef_" + "A" * 43, "invalid"),  # well-formed, unknown id
    ],
)
def test_bad_bearers(replicas: list[StateStore], bearer: str | None, reason: str) -> None:
    with pytest.raises(AuthenticationFailed, match=reason):
        KeyStore(replicas[0]).authenticate(bearer)


def test_a_wrong_secret_fails(replicas: list[StateStore]) -> None:
    keys = KeyStore(replicas[0])
    key, _ = keys.create("acme", Role.APP)
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    with pytest.raises(AuthenticationFailed, match="invalid"):
        keys.authenticate(forged)


def test_a_key_created_on_one_replica_works_on_the_other(replicas: list[StateStore]) -> None:
    a, b = KeyStore(replicas[0], cache_s=60), KeyStore(replicas[1], cache_s=60)
    key, info = a.create("acme", Role.APP)
    assert b.authenticate(key).key_id == info.key_id


def test_a_revocation_elsewhere_holds_within_cache_s(replicas: list[StateStore]) -> None:
    """Each replica may trust a looked-up key for at most cache_s (= policy.reload_check_s)."""
    cache_s = 0.3
    a, b = KeyStore(replicas[0], cache_s=cache_s), KeyStore(replicas[1])
    key, info = b.create("acme", Role.APP)
    a.authenticate(key)  # now cached on replica a
    assert b.revoke(info.key_id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        b.authenticate(key)  # at once on the replica that revoked
    time.sleep(cache_s + 0.05)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        a.authenticate(key)


def test_without_a_cache_a_revocation_elsewhere_holds_at_once(
    replicas: list[StateStore],
) -> None:
    a, b = KeyStore(replicas[0]), KeyStore(replicas[1])
    key, info = b.create("acme", Role.APP)
    a.authenticate(key)
    b.revoke(info.key_id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        a.authenticate(key)


def test_the_store_holds_no_usable_secret(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "state.db")
    key, _ = keys.create("acme", Role.APP)
    keys.close()
    secret = key.split("_", 2)[2]
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw


# --- upgrade: keys from an old per-host keys.db ---------------------------------------------

# The layout (and the hashing) of keys.db as written by earlier releases (policies/access.py
# before the state store); a migration test must not depend on today's code to write it.
_LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    role        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
"""


def _legacy_keys_db(data_dir: Path) -> tuple[str, str]:
    """A keys.db as an old release left it: one active and one revoked key (plaintexts)."""
    import hashlib
    import secrets

    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "keys.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(_LEGACY_SCHEMA)
    plain = []
    for key_id, revoked in (("aaaaaaaaaaaaaaaa", None), ("bbbbbbbbbbbbbbbb", "2026-11-02")):
        secret = secrets.token_urlsafe(32)
        conn.execute(
            "INSERT INTO api_keys (key_id, secret_hash, tenant, role, name, created_at, revoked_at)"
            " VALUES (?, ?, 'default', 'admin', 'bootstrap', '2026-11-01T00:00:00+00:00', ?)",
            (key_id, hashlib.sha256(secret.encode("ascii")).hexdigest(), revoked),
        )
        plain.append(f"bst_{key_id}_{secret}")
    conn.close()
    return plain[0], plain[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def configured(request: pytest.FixtureRequest) -> Iterator[AuditConfig]:
    """The configuration an operator upgrades with: embedded, or PostgreSQL (fresh database)."""
    if request.param == "postgres":
        with fresh_database() as dsn:
            yield AuditConfig(store="postgres", dsn=dsn)
    else:
        yield AuditConfig()


def test_upgrade_keeps_the_keys_of_an_old_keys_db(
    tmp_path: Path, configured: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BASTION_AUDIT__DSN", raising=False)
    monkeypatch.delenv("BASTION_AUDIT__STORE", raising=False)
    data = tmp_path / "data"
    active, revoked = _legacy_keys_db(data)
    keys = open_keystore(configured, data)
    try:
        assert keys.authenticate(active).key_id == "aaaaaaaaaaaaaaaa"
        with pytest.raises(AuthenticationFailed, match="revoked"):
            keys.authenticate(revoked)
        assert keys.count() == 2
    finally:
        keys.close()
    assert not (data / "keys.db").exists() and (data / "keys.db.migrated").is_file()
    # Opening again (every replica and CLI call does) neither duplicates nor loses anything.
    again = open_keystore(configured, data)
    try:
        assert again.count() == 2 and again.authenticate(active).tenant == "default"
    finally:
        again.close()


def test_an_unreadable_old_keys_db_stops_start_up(tmp_path: Path) -> None:
    from state import StateError

    (tmp_path / "keys.db").write_bytes(b"not a database, but the operator's keys were here")
    with pytest.raises(StateError, match=r"keys\.db"):
        open_keystore(AuditConfig(), tmp_path)
    assert (tmp_path / "keys.db").is_file()  # left alone for the operator


# --- the CLI writes to the configured store -------------------------------------------------


def _bastion(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        check=False,
    )


@pytest.mark.postgres
def test_cli_keys_go_to_the_configured_postgresql_store(tmp_path: Path) -> None:
    from state.postgres import PostgresStateStore

    with fresh_database() as dsn:
        env = {
            "BASTION_DATA_DIR": str(tmp_path),
            "BASTION_AUDIT__STORE": "postgres",
            "BASTION_AUDIT__DSN": dsn,
        }
        made = _bastion("keys", "create", "--tenant", "acme", "--role", "app", env=env)
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip().splitlines()[-1]
        key_id = key.split("_")[1]
        store = PostgresStateStore(dsn, schema="bastion_state")
        try:
            assert KeyStore(store).authenticate(key).tenant == "acme"
            listed = _bastion("keys", "list", env=env)
            assert listed.returncode == 0 and key_id in listed.stdout
            assert key.split("_", 2)[2] not in listed.stdout  # never the secret
            assert _bastion("keys", "revoke", key_id, env=env).returncode == 0
            with pytest.raises(AuthenticationFailed, match="revoked"):
                KeyStore(store).authenticate(key)
        finally:
            store.close()
        assert not (tmp_path / "state.db").exists()  # nothing decided by a per-host file


def test_cli_lists_the_keys_of_an_old_keys_db(tmp_path: Path) -> None:
    _legacy_keys_db(tmp_path)
    listed = _bastion("keys", "list", env={"BASTION_DATA_DIR": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    assert "aaaaaaaaaaaaaaaa" in listed.stdout and "bbbbbbbbbbbbbbbb\tdefault" in listed.stdout
