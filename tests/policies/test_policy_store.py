"""Policy reload through the state store: a published set reaches every replica, a bad set is
rejected with the old one in force, sites must agree with the configuration (also in
``build_app``, the RayService path), and ``bastion policy reload`` writes to the configured
store."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies.decide import PolicyEngine
from policies.documents import PolicyDocumentError, load_documents
from serving.policy_reload import (
    PolicyReloader,
    PolicySiteMismatch,
    read_policy,
    request_reload,
)
from state import StateStore, StoredPolicy
from tests.policies.policy_docs import ALL, write_policy
from tests.policies.test_reload import REQUEST, B
from tests.state.conftest import open_spec
from tests.state.pg import fresh_database, fresh_schema

BIN = Path(sys.executable).parent / "bastion"
BAD = ALL.replace("region: NA}", "regoin: NA}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "postgres":
        with fresh_schema() as schema:
            yield ("postgres", schema)
    else:
        yield ("sqlite", str(tmp_path / "state.db"))


class Replica:
    """What one ingress replica holds: its engine (from its local files) and its reloader."""

    def __init__(self, shared: tuple[str, str], files: list[Path], **kw: object) -> None:
        self.store: StateStore = open_spec(shared)
        self.engine = PolicyEngine(load_documents(files))
        self.reloader = PolicyReloader(self.engine, files, self.store, every_s=0.001, **kw)

    def decide(self) -> tuple[str, str]:
        self.reloader._next = 0.0  # the check interval is not under test here
        self.reloader.poll()
        decision = self.engine.decide(REQUEST)
        return decision.policy_version, decision.outcome


@pytest.fixture
def docs(tmp_path: Path) -> dict[str, list[Path]]:
    return {
        name: [write_policy(tmp_path, text, f"{name}.yaml")]
        for name, text in (("a", ALL), ("b", B), ("bad", BAD))
    }


@pytest.fixture
def replicas(shared: tuple[str, str], docs: dict[str, list[Path]]) -> Iterator[list[Replica]]:
    made = [Replica(shared, docs["a"]), Replica(shared, docs["a"])]
    yield made
    for replica in made:
        replica.store.close()


def test_a_published_policy_reaches_every_replica(
    replicas: list[Replica], docs: dict[str, list[Path]]
) -> None:
    a, b = load_documents(docs["a"]).version, load_documents(docs["b"]).version
    assert [r.decide() for r in replicas] == [(a, "allow")] * 2
    assert request_reload(docs["b"], replicas[0].store) == b
    assert [r.decide() for r in replicas] == [(b, "reroute")] * 2
    assert request_reload(docs["a"], replicas[1].store) == a  # and back
    assert [r.decide() for r in replicas] == [(a, "allow")] * 2


def test_a_replica_follows_the_store_without_requests(
    shared: tuple[str, str], docs: dict[str, list[Path]]
) -> None:
    """The background check (Ingress starts it) swaps the policy with no request arriving."""
    replica = Replica(shared, docs["a"])
    replica.reloader.every_s = 0.05
    replica.reloader.start()
    try:
        b = request_reload(docs["b"], replica.store)
        deadline = time.monotonic() + 30
        while replica.engine.version != b:
            assert time.monotonic() < deadline, "the replica never picked up the new policy"
            time.sleep(0.02)
        assert replica.engine.decide(REQUEST).outcome == "reroute"
    finally:
        replica.reloader.stop()
        replica.store.close()


def test_a_bad_document_is_rejected_and_the_old_policy_stays(
    replicas: list[Replica], docs: dict[str, list[Path]]
) -> None:
    b = request_reload(docs["b"], replicas[0].store)
    with pytest.raises(PolicyDocumentError):
        request_reload(docs["bad"], replicas[0].store)
    assert replicas[0].store.active_policy_version() == b
    assert [r.decide() for r in replicas] == [(b, "reroute")] * 2


def test_the_admin_reload_swaps_here_at_once_and_reaches_the_others(
    shared: tuple[str, str], docs: dict[str, list[Path]], replicas: list[Replica]
) -> None:
    admin = Replica(shared, docs["b"])  # this replica's local files now say B
    try:
        b = admin.reloader.reload()
        assert admin.engine.version == b  # no poll needed on the replica that reloaded
        assert [r.decide() for r in replicas] == [(b, "reroute")] * 2
        bad = Replica(shared, docs["a"])
        bad.reloader.files = docs["bad"]  # its local documents were edited badly
        with pytest.raises(PolicyDocumentError):
            bad.reloader.reload()
        assert [r.decide() for r in (*replicas, bad)] == [(b, "reroute")] * 3
        bad.store.close()
    finally:
        admin.store.close()


def test_a_stored_set_that_does_not_compile_here_is_skipped(
    replicas: list[Replica], caplog: pytest.LogCaptureFixture
) -> None:
    """E.g. written by a newer release during a rolling upgrade: the replica keeps its policy."""
    before = replicas[0].decide()
    broken = StoredPolicy("x+sha256:ffffffffffff", (("bad.yaml", "sites: [1, 2]\n"),))
    replicas[1].store.publish_policy(broken)
    with caplog.at_level(logging.ERROR, logger="bastion.policy"):
        assert replicas[0].decide() == before
        assert replicas[0].decide() == before
    assert sum("stored policy rejected" in r.message for r in caplog.records) == 1  # not per poll


def test_a_model_on_another_site_than_policy_says_is_refused(
    shared: tuple[str, str], docs: dict[str, list[Path]]
) -> None:
    wrong = {"mistral-7b@v0.3": "de-fra-1", "unknown@v1": "anywhere"}  # policy: de-ber-1
    with pytest.raises(PolicySiteMismatch, match=r"mistral-7b@v0\.3 .* de-fra-1 .* de-ber-1"):
        read_policy(docs["a"], wrong)
    read_policy(docs["a"], {"mistral-7b@v0.3": "de-ber-1", "unknown@v1": "anywhere"})
    replica = Replica(shared, docs["a"], deployed=wrong)
    try:
        with pytest.raises(PolicySiteMismatch):
            replica.reloader.reload()
        assert replica.store.active_policy_version() is None  # nothing published
    finally:
        replica.store.close()


@pytest.mark.postgres
def test_a_store_outage_keeps_the_policy_in_force(
    docs: dict[str, list[Path]], caplog: pytest.LogCaptureFixture
) -> None:
    import psycopg
    from psycopg import sql

    from tests.state.pg import PG_DSN

    with fresh_schema() as schema:
        replica = Replica(("postgres", schema), docs["a"])
        try:
            before = replica.decide()
            with psycopg.connect(PG_DSN, autocommit=True) as conn:  # the store's tables vanish
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            with caplog.at_level(logging.ERROR, logger="bastion.policy"):
                assert replica.decide() == before  # poll never raises into a request
            assert any("policy check failed" in r.message for r in caplog.records)
        finally:
            replica.store.close()


# --- build_app: the RayService path runs the same site check as `bastion serve` -------------

LOCAL_POLICY = """
sites:
  - {id: local, jurisdiction: DE, region: EU}
  - {id: remote, jurisdiction: DE, region: EU}
models:
  - {id: smollm2-135m-instruct@v1, site: SITE, approved_data_classes: [PII]}
  - {id: all-minilm-l6-v2@v1, site: local, approved_data_classes: [PII]}
tenants:
  - {id: default, sites: [local, remote], models: [smollm2-135m-instruct, all-minilm-l6-v2]}
"""


def _settings(tmp_path: Path, model_site_in_policy: str):  # -> serving.config.Settings
    from serving.config import Settings

    policy = tmp_path / "policy.yaml"
    policy.write_text(LOCAL_POLICY.replace("SITE", model_site_in_policy))
    # The site is declared in policy; a configuration that names one too must agree.
    models = [{"name": "smollm2-135m-instruct", "site": "local"}]
    return Settings(data_dir=tmp_path / "data", policy={"files": [policy]}, models=models)


def test_build_app_refuses_a_site_mismatch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BASTION_AUDIT__STORE", raising=False)
    monkeypatch.delenv("BASTION_AUDIT__DSN", raising=False)
    from serving.app import build_app

    settings = _settings(tmp_path, "remote")  # the configuration runs it on `local`
    with pytest.raises(PolicySiteMismatch, match="smollm2-135m-instruct@v1"):
        build_app(settings)
    assert not (settings.data_dir / "state.db").exists()  # refused before anything is published


def test_build_app_publishes_an_agreeing_policy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BASTION_AUDIT__STORE", raising=False)
    monkeypatch.delenv("BASTION_AUDIT__DSN", raising=False)
    from ray.serve import Application

    from serving.app import build_app

    settings = _settings(tmp_path, "local")
    assert isinstance(build_app(settings), Application)
    store = open_spec(("sqlite", str(settings.data_dir / "state.db")))
    try:
        expected = load_documents(settings.policy_files()).version
        assert store.active_policy_version() == expected
    finally:
        store.close()


# --- `bastion policy reload` ----------------------------------------------------------------


def _reload(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), "policy", "reload"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        check=False,
    )


@pytest.mark.postgres
def test_cli_reload_writes_the_version_to_the_configured_store(tmp_path: Path) -> None:
    from state.postgres import PostgresStateStore

    policy = write_policy(tmp_path, ALL)
    with fresh_database() as dsn:
        env = {
            "BASTION_DATA_DIR": str(tmp_path / "data"),
            "BASTION_POLICY__FILES": f'["{policy}"]',
            "BASTION_AUDIT__STORE": "postgres",
            "BASTION_AUDIT__DSN": dsn,
            # The default model and embedder are not in this policy: nothing to cross-check.
        }
        done = _reload(env)
        assert done.returncode == 0, done.stderr
        version = load_documents([policy]).version
        assert version in done.stdout
        store = PostgresStateStore(dsn, schema="bastion_state")
        try:
            assert store.active_policy_version() == version
            policy.write_text(BAD)
            rejected = _reload(env)
            assert rejected.returncode == 1 and "rejected" in rejected.stderr
            assert store.active_policy_version() == version
        finally:
            store.close()
    assert not (tmp_path / "data" / "policy.reload").exists()  # no marker file any more
