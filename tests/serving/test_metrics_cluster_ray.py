"""The cluster-wide /metrics under real Ray Serve: a real `bastion serve` with two ingress
replicas behind Serve's proxy sharing one real PostgreSQL. A scrape reaches one replica, yet it
shows both replicas' series (``replica`` label), and the requests served by either add up."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.serving.test_two_replicas import MODEL, TwoReplicas
from tests.state.pg import fresh_database

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoReplicas]:
    with fresh_database() as dsn:
        server = TwoReplicas(tmp_path_factory.mktemp("metrics-cluster"), dsn)
        try:
            yield server
        finally:
            server.stop()


def served(text: str) -> dict[str, float]:
    """Successful inference requests by replica, from one scrape."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "bastion_model_requests_total" and s.labels["status"] == "200":
                out[s.labels["replica"]] = out.get(s.labels["replica"], 0) + s.value
    return out


def test_one_scrape_shows_every_ingress_replica(cluster: TwoReplicas) -> None:
    out = cluster.bastion("keys", "create", "--tenant", "default", "--role", "app")
    client = cluster.client(out.stdout.strip().splitlines()[-1])
    replicas: set[str] = set()
    sent = 0
    while len(replicas) < 2 and sent < 60:  # until both replicas have served some
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi."}], max_tokens=2
        )
        replicas.add(raw.headers["x-bastion-replica"])
        sent += 1
    assert len(replicas) == 2

    headers = {"authorization": f"Bearer {cluster.admin_key}"}
    answered: set[str] = set()
    for _ in range(120):  # each replica publishes every 5 s: poll until a scrape sums up
        r = httpx.get(cluster.url + "/metrics", headers=headers, timeout=30)
        assert r.status_code == 200
        answered.add(r.headers["x-bastion-replica"])
        counts = served(r.text)
        if set(counts) == replicas and sum(counts.values()) == sent and len(answered) == 2:
            break
        time.sleep(0.5)
    assert set(counts) == replicas, counts
    assert sum(counts.values()) == sent
    assert len(answered) == 2  # both replicas answered a scrape with the whole cluster
