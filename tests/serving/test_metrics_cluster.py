"""The cluster-wide /metrics (serving/metrics_cluster.py): two ingress replicas, each with its
own registry, share their series through a real StateStore (SQLite and PostgreSQL); either
replica's scrape shows both, each series labelled with its replica, and sums are exact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from serving.metrics_cluster import NAMESPACE, ReplicaMetrics, merge
from state.sqlite import SqliteStateStore
from tests.state.pg import PG_DSN, fresh_schema


class Replica:
    """What one ingress replica process has: its own registry of Bastion's kind of metrics."""

    def __init__(self, name: str, store: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bastion_model_requests",
            "Inference requests.",
            ["tenant", "model_version", "variant", "status"],
            registry=self.registry,
        )
        self.ttft = Histogram(
            "bastion_ttft_by_version_seconds",
            "TTFT.",
            ["model_version", "variant"],
            buckets=(0.1, 1),
            registry=self.registry,
        )
        self.share = ReplicaMetrics(
            store, name, every_s=60, render=lambda: generate_latest(self.registry)
        )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        s = SqliteStateStore(tmp_path / "state.db")
        yield s
        s.close()
        return
    from state.postgres import PostgresStateStore

    with fresh_schema() as schema:
        s = PostgresStateStore(PG_DSN, schema=schema)
        yield s
        s.close()


def samples(text: bytes, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
        if s.name == name
    }


def test_either_replica_shows_every_replicas_series(store):
    a, b = Replica("ing-a", store), Replica("ing-b", store)
    a.requests.labels("acme", "m@v1", "-", "200").inc(3)
    b.requests.labels("acme", "m@v1", "-", "200").inc(4)
    b.requests.labels("clinic", "m@v1", "canary", "503").inc()
    a.ttft.labels("m@v1", "-").observe(0.05)
    b.ttft.labels("m@v1", "-").observe(0.5)
    b.share.publish()

    scrape = a.share.render()
    requests = samples(scrape, "bastion_model_requests_total")
    labels = {"tenant": "acme", "model_version": "m@v1", "variant": "-", "status": "200"}
    assert requests[tuple(sorted({**labels, "replica": "ing-a"}.items()))] == 3
    assert requests[tuple(sorted({**labels, "replica": "ing-b"}.items()))] == 4
    assert sum(requests.values()) == 8
    buckets = samples(scrape, "bastion_ttft_by_version_seconds_bucket")
    le_01 = {k: v for k, v in buckets.items() if ("le", "0.1") in k}
    assert sorted(le_01.values()) == [0.0, 1.0]  # a's fast one, b's slow one
    # one HELP/TYPE per family, however many replicas
    assert scrape.count(b"# TYPE bastion_model_requests_total counter") == 1

    # b's own scrape is the same cluster, with its own series as of now
    b.requests.labels("acme", "m@v1", "-", "200").inc()
    again = samples(b.share.render(), "bastion_model_requests_total")
    assert sum(again.values()) == 9


def test_a_stopped_replica_leaves_the_view(store):
    a, b = Replica("ing-a", store), Replica("ing-b", store)
    b.requests.labels("acme", "m@v1", "-", "200").inc()
    b.share.start()  # publishes at once, then every minute
    try:
        for _ in range(100):
            if store.get(NAMESPACE, "replica:ing-b") is not None:
                break
            time.sleep(0.05)  # the thread's first publish
        assert "ing-b" in {
            dict(k)["replica"] for k in samples(a.share.render(), "bastion_model_requests_total")
        }
    finally:
        b.share.stop()
    assert store.get(NAMESPACE, "replica:ing-b") is None
    assert samples(a.share.render(), "bastion_model_requests_total") == {}


def test_a_scrape_survives_an_unreadable_store(tmp_path):
    store = SqliteStateStore(tmp_path / "state.db")
    a = Replica("ing-a", store)
    a.requests.labels("acme", "m@v1", "-", "200").inc()
    store.close()  # the store is gone: the replica still answers with its own series
    assert len(samples(a.share.render(), "bastion_model_requests_total")) == 1


def test_merge_keeps_label_values_and_types():
    text = merge([("r1", b'# TYPE x gauge\nx{a="1"} 2.0\n'), ("r2", b"# TYPE x gauge\nx 3.0\n")])
    assert samples(text, "x") == {(("a", "1"), ("replica", "r1")): 2.0, (("replica", "r2"),): 3.0}
    assert b"# TYPE x gauge" in text
