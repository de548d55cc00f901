"""Two ingress replicas behind Ray Serve's proxy, sharing one real PostgreSQL (keys, the policy in
force and the audit log): what one replica or the CLI changes holds on both.

A real `bastion serve` (``server.direct_ingress: false``, ``ingress.num_replicas: 2``) with a
fresh database; the DSN reaches it only through ``BASTION_AUDIT__DSN``. Each response names the
replica that served it (``x-bastion-replica``), so every check repeats a call until both
replicas have answered, and asserts on each replica's answers.
"""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from state.postgres import PostgresStateStore
from tests.serving import live
from tests.serving.live import BIN
from tests.state.pg import fresh_database

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.slow]

MODEL = "smollm2-135m-instruct"
EMBEDDER = "all-minilm-l6-v2"
RELOAD_CHECK_S = 1.0
POLICY = live.ONE_SITE_POLICY


class TwoReplicas(live.ServeCluster):
    """`bastion serve` with two ingress replicas behind Serve's proxy and the bundled model."""

    def __init__(self, tmp: Path, dsn: str) -> None:
        super().__init__(
            tmp,
            dsn,
            POLICY,
            "server:\n  direct_ingress: false\n"
            "ingress:\n  num_replicas: 2\n"
            "audit:\n  store: postgres\n"  # the DSN comes from the environment only
            "embeddings:\n  site: de-fra-1\n"
            f"models:\n  - name: {MODEL}\n    version: v1\n    site: de-fra-1\n"
            "    threads: 1\n    default_max_tokens: 4\n",
            reload_check_s=RELOAD_CHECK_S,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoReplicas]:
    # SEEN is module state that other modules' clusters (test_aliases_ray, test_metrics_cluster_ray
    # reuse these helpers) also fill: this module counts only its own cluster's replicas.
    SEEN.clear()
    with fresh_database() as dsn:
        server = TwoReplicas(tmp_path_factory.mktemp("two-replicas"), dsn)
        try:
            yield server
        finally:
            server.stop()


# Request ids of every response the tests received, by replica: all must be in the audit log.
SEEN: dict[str, set[str]] = defaultdict(set)


def on_both(call: Callable[[], Any], tries: int = 400) -> dict[str, list[Any]]:
    """Repeat ``call`` (returning an httpx.Response, or raising openai.APIStatusError) until
    both replicas have answered; returns the outcomes by replica."""
    outcomes: dict[str, list[Any]] = defaultdict(list)
    for _ in range(tries):
        try:
            outcome: Any = call()
            response = outcome.http_response
        except openai.APIStatusError as exc:
            outcome, response = exc, exc.response
        replica = response.headers["x-bastion-replica"]
        SEEN[replica].add(response.headers["x-request-id"])
        outcomes[replica].append(outcome)
        if len(outcomes) == 2:
            return outcomes
    raise AssertionError(f"only replicas {sorted(outcomes)} answered in {tries} calls")


def _models(client: openai.OpenAI) -> Callable[[], Any]:
    return client.models.with_raw_response.list


def test_requests_are_spread_over_two_replicas(cluster: TwoReplicas) -> None:
    outcomes = on_both(_models(cluster.client(cluster.admin_key)))
    assert len(outcomes) == 2
    for results in outcomes.values():
        assert all(r.status_code == 200 for r in results)


def test_a_key_created_with_the_cli_works_on_both(cluster: TwoReplicas) -> None:
    out = cluster.bastion("keys", "create", "--tenant", "default", "--role", "app")
    key = out.stdout.strip().splitlines()[-1]
    # The key is in the shared database, and no per-host state file exists to decide anything.
    shared = PostgresStateStore(cluster.env["BASTION_AUDIT__DSN"], schema="bastion_state")
    try:
        assert shared.get_key(key.split("_")[1]) is not None
    finally:
        shared.close()
    assert not (cluster.tmp / "data" / "state.db").exists()
    assert not (cluster.tmp / "data" / "keys.db").exists()
    client = cluster.client(key)
    for replica, results in on_both(_models(client)).items():
        assert [r.status_code for r in results] == [200] * len(results), replica
    chat = client.chat.completions.with_raw_response.create
    outcomes = on_both(
        lambda: chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    )
    for replica, results in outcomes.items():
        assert all(r.parse().choices[0].message.content is not None for r in results), replica


def test_a_revoked_key_fails_on_both_within_reload_check_s(cluster: TwoReplicas) -> None:
    out = cluster.bastion("keys", "create", "--tenant", "default", "--role", "app")
    key = out.stdout.strip().splitlines()[-1]
    client = cluster.client(key)
    on_both(_models(client))  # both replicas have looked the key up (and may cache it)
    cluster.bastion("keys", "revoke", key.split("_")[1])
    time.sleep(RELOAD_CHECK_S)  # the longest a replica may trust its cached lookup
    for replica, results in on_both(_models(client)).items():
        assert results and all(
            isinstance(r, openai.AuthenticationError) and "revoked" in r.message for r in results
        ), (replica, results)


def test_a_policy_reload_reaches_both(cluster: TwoReplicas) -> None:
    client = cluster.client(cluster.admin_key)

    def ids() -> dict[str, set[str]]:
        return {
            replica: {m.id for m in results[-1].parse().data}
            for replica, results in on_both(_models(client)).items()
        }

    assert all(EMBEDDER in models for models in ids().values())
    try:
        cluster.policy.write_text(POLICY.replace(", all-minilm-l6-v2]", "]"))
        version = cluster.bastion("policy", "reload").stdout
        assert "reload requested" in version
        deadline = time.monotonic() + 60
        while any(EMBEDDER in models for models in ids().values()):
            assert time.monotonic() < deadline, "a replica kept the old policy"
            time.sleep(RELOAD_CHECK_S / 2)
        # A bad document is rejected by the CLI and both replicas keep the new policy.
        cluster.policy.write_text(POLICY + "\nnot_a_section: 1\n")
        bad = subprocess.run(
            [str(BIN), "policy", "reload", "--config", str(cluster.config)],
            capture_output=True,
            text=True,
            env=cluster.env,
            timeout=300,
            check=False,
        )
        assert bad.returncode == 1 and "rejected" in bad.stderr
        time.sleep(RELOAD_CHECK_S)
        assert all(MODEL in m and EMBEDDER not in m for m in ids().values())
    finally:
        cluster.policy.write_text(POLICY)
        cluster.bastion("policy", "reload")


def test_every_request_through_either_replica_is_in_the_one_audit_log(
    cluster: TwoReplicas,
) -> None:
    assert len(SEEN) == 2 and all(SEEN.values())
    bundle = cluster.tmp / "audit.zip"
    window = ["--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z"]
    # `bastion audit export` reads the DSN from its --config file only (not the environment).
    export_config = cluster.tmp / "export.yaml"
    export_config.write_text(
        json.dumps({"audit": {"store": "postgres", "dsn": cluster.env["BASTION_AUDIT__DSN"]}})
    )
    exported = subprocess.run(
        [
            str(BIN),
            "audit",
            "export",
            *window,
            "--out",
            str(bundle),
            "--config",
            str(export_config),
        ],
        capture_output=True,
        text=True,
        env=cluster.env,
        timeout=300,
        check=False,
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    verified = subprocess.run(
        [str(BIN), "audit", "verify", str(bundle)], capture_output=True, text=True, timeout=300
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with zipfile.ZipFile(bundle) as z:
        name = next(n for n in z.namelist() if n.endswith(".jsonl") and "record" in n)
        records = [json.loads(line) for line in z.read(name).decode().splitlines() if line]
    logged = {r.get("request_id") for r in records}
    for replica, request_ids in SEEN.items():
        missing = request_ids - logged
        assert not missing, f"{len(missing)} requests served by {replica} are not in the log"
    # The CLI's own actions went into the same log.
    kinds = {r["event_type"] for r in records}
    assert {"key.created", "key.revoked"} <= kinds
