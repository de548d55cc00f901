"""``bastion models list|promote|split|rollback`` on a data folder: each change lands in the
shared state store (a replica's follower sees it), is recorded in the audit log with who, what,
before and after, and drops the semantic cache of the versions involved."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from models.aliases import AliasFollower, describe
from policies.audit import AuditConfig, open_store
from policies.audit.record import AuditRecord
from policies.audit.store.base import RecordFilter
from serving.semantic_cache.entries import GEN, NS
from state.sqlite import SqliteStateStore
from tests.serving.live import BIN

M = "smollm2-135m-instruct"
V1, V2 = f"{M}@v1", f"{M}@v2"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bastion.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "models": [{"name": M}, {"name": M, "version": "v2"}],
                "registry": {
                    "aliases": {"prod": V1},
                    "prompts": [{"name": "greet", "version": "1", "template": "Hello."}],
                },
            }
        )
    )
    (tmp_path / "data").mkdir()
    return path


def bastion(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    return subprocess.run(
        [str(BIN), "models", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def audit_records(data: Path) -> list[AuditRecord]:
    store = open_store(AuditConfig(), data)
    try:
        rows = store.query(RecordFilter(), None, 1000)
    finally:
        store.close()
    return [AuditRecord.from_canonical(r.body) for r in rows]


def test_promote_split_rollback_from_the_command_line(config: Path) -> None:
    data = config.parent / "data"
    listed = bastion(config, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    view = json.loads(listed.stdout)
    assert view["aliases"]["prod"]["targets"] == {V1: 100}  # the configured starting point
    assert {p["id"] for p in view["prompts"]} == {"greet@1"}

    out = bastion(config, "split", "prod", f"{V1}=90", f"{V2}=10")
    assert out.returncode == 0, out.stderr
    assert f"prod: {V1}:100 -> {V1}:90+{V2}:10" in out.stdout

    replica_store = SqliteStateStore(data / "state.db")
    try:
        replica = AliasFollower(replica_store, {V1: "model", V2: "model"})
        replica.refresh()  # what every ingress replica does each reload_check_s
        assert describe(replica.get("prod")) == f"{V1}:90+{V2}:10"
        generation = replica_store.counter(NS, GEN)
        assert generation >= 1  # the semantic cache of both versions was dropped

        assert bastion(config, "rollback", "prod").returncode == 0
        replica.refresh()
        assert describe(replica.get("prod")) == f"{V1}:100"
        assert replica_store.counter(NS, GEN) > generation
    finally:
        replica_store.close()

    refused = bastion(config, "promote", "prod", f"{M}@v9")
    assert refused.returncode == 2 and "not a model version" in refused.stderr
    assert bastion(config, "split", "prod", "nonsense").returncode == 2

    changes = [r for r in audit_records(data) if r.event_type.startswith("models.alias_")]
    assert [r.event_type for r in changes] == ["models.alias_split", "models.alias_rolled_back"]
    split, rollback = changes
    assert split.actor.key_id.startswith("cli:") and split.origin == "cli"
    assert split.detail == {
        "alias": "prod",
        "action": "split",
        "revision": "2",
        "before.0": f"{V1}:100",
        "after.0": f"{V1}:90",
        "after.1": f"{V2}:10",
    }
    assert rollback.detail["after.0"] == f"{V1}:100"
    assert rollback.detail["before.1"] == f"{V2}:10"
