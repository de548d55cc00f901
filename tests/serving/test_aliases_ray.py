"""A promote through one ingress replica is served by both within ``policy.reload_check_s``,
and a rollback from the command line moves both back: real `bastion serve` (Ray Serve's proxy
in front of two ingress replicas, two model versions) sharing one real PostgreSQL.

The configuration names no site: each version's site comes from the policy documents, where
it is declared once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.live import ServeCluster
from tests.serving.test_two_replicas import RELOAD_CHECK_S, on_both
from tests.state.pg import fresh_database

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.slow]

MODEL = "smollm2-135m-instruct"
V1, V2 = f"{MODEL}@v1", f"{MODEL}@v2"
SMALL = "default_max_tokens: 2"
POLICY = f"""
sites:
  - {{id: de-fra-1, jurisdiction: DE, region: EU}}
models:
  - {{id: {V1}, site: de-fra-1, approved_data_classes: [PHI, PCI, PII]}}
  - {{id: {V2}, site: de-fra-1, approved_data_classes: [PHI, PCI, PII]}}
  - {{id: all-minilm-l6-v2@v1, site: de-fra-1, approved_data_classes: [PHI, PCI, PII]}}
tenants:
  - {{id: default, sites: [de-fra-1], models: [{MODEL}, all-minilm-l6-v2]}}
"""


class AliasCluster(ServeCluster):
    """Two ingress replicas behind Serve's proxy with two versions of the bundled model and a
    `prod` alias starting at v1."""

    def __init__(self, tmp: Path, dsn: str) -> None:
        super().__init__(
            tmp,
            dsn,
            POLICY,
            "server:\n  direct_ingress: false\n"
            "ingress:\n  num_replicas: 2\n"
            "audit:\n  store: postgres\n"  # the DSN comes from the environment only
            "models:\n"  # half a logical CPU each: all deployments fit the local Ray's 4
            f"  - {{name: {MODEL}, version: v1, threads: 1, num_cpus: 0.5, {SMALL}}}\n"
            f"  - {{name: {MODEL}, version: v2, threads: 1, num_cpus: 0.5, {SMALL}}}\n"
            f"registry:\n  aliases: {{prod: {V1}}}\n",
            reload_check_s=RELOAD_CHECK_S,
            wait_all=True,
        )

    def chat(self):  # type: ignore[no-untyped-def]
        create = self.client(self.admin_key).chat.completions.with_raw_response.create
        return lambda: create(model="prod", messages=[{"role": "user", "content": "Hi"}])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AliasCluster]:
    with fresh_database() as dsn:
        server = AliasCluster(tmp_path_factory.mktemp("alias-replicas"), dsn)
        try:
            yield server
        finally:
            server.stop()


def served(cluster: AliasCluster) -> dict[str, set[str]]:
    outcomes = on_both(cluster.chat())
    return {
        replica: {r.headers["x-bastion-model-version"] for r in results}
        for replica, results in outcomes.items()
    }


def test_a_promote_through_one_replica_is_served_by_both(cluster: AliasCluster) -> None:
    assert all(versions == {V1} for versions in served(cluster).values())
    r = httpx.post(
        cluster.url + "/v1/admin/aliases/promote",
        json={"alias": "prod", "version": V2},
        headers={"authorization": f"Bearer {cluster.admin_key}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    time.sleep(2 * RELOAD_CHECK_S)  # every replica re-reads the aliases each reload_check_s
    assert all(versions == {V2} for versions in served(cluster).values())

    cluster.bastion("models", "rollback", "prod")  # the CLI writes the same shared store
    time.sleep(2 * RELOAD_CHECK_S)
    assert all(versions == {V1} for versions in served(cluster).values())
