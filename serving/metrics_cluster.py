"""One ``/metrics`` for every ingress replica of a cluster, through the shared StateStore.

Ray Serve sends each request, a scrape included, to one of the ingress replicas, and every
replica counts only what it served itself. So that one scrape target shows the whole cluster,
each ingress replica publishes its own exposition into the StateStore every ``every_s`` seconds
(namespace ``metrics``, key ``replica:<replica id>``, expiring after three periods), and the
replica that answers ``/metrics`` returns every live replica's series, each with a ``replica``
label (the Serve replica id: Bastion's own object, like Prometheus' ``instance``). A replica
that stops removes its entry; one that dies stops being reported when its entry expires, as a
scrape target that disappears. Sum over ``replica`` in queries (the shipped dashboard and alert
rules do).

The published text holds metric names, bounded label values and numbers only: what ``/metrics``
shows anyway, never request content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from serving.observability import render_metrics
from state.periodic import Periodic

__all__ = ["NAMESPACE", "ReplicaMetrics", "merge"]

NAMESPACE = "metrics"
log = logging.getLogger("bastion.metrics")


def merge(expositions: Iterable[tuple[str, bytes]]) -> bytes:
    """Prometheus text of every ``(replica, exposition)``, each series labelled ``replica``."""
    families: dict[tuple[str, str], Metric] = {}
    for replica, text in expositions:
        for family in text_string_to_metric_families(text.decode()):
            merged = families.get((family.name, family.type))
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                families[(family.name, family.type)] = merged
            merged.samples += [
                Sample(s.name, {**s.labels, "replica": replica}, s.value, s.timestamp, s.exemplar)
                for s in family.samples
            ]

    class _Merged:
        def collect(self) -> Iterable[Metric]:
            return list(families.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())  # type: ignore[arg-type]
    return generate_latest(registry)


class ReplicaMetrics:
    """This replica's share of the cluster-wide ``/metrics`` (see the module docstring)."""

    def __init__(
        self,
        store: Any,
        replica: str,
        every_s: float = 5.0,
        render: Callable[[], bytes] = render_metrics,
    ) -> None:
        self.store = store
        self.key = f"replica:{replica}"
        self.replica = replica
        self.every_s = every_s
        self.render_own = render
        self._loop = Periodic("metrics-share", every_s, self._publish_logged, immediately=True)

    def publish(self) -> None:
        self.store.put(NAMESPACE, self.key, self.render_own(), ttl_s=3 * self.every_s)

    def render(self) -> bytes:
        """Every live replica's series; this replica's own as of now. If the store cannot be
        read, this replica's own series alone (a scrape must not fail with the store)."""
        own = self.render_own()
        try:
            self.store.put(NAMESPACE, self.key, own, ttl_s=3 * self.every_s)
            others = [
                (key.removeprefix("replica:"), value)
                for key, value in self.store.items(NAMESPACE, "replica:")
                if key != self.key
            ]
        except Exception as exc:
            log.warning("cluster metrics unavailable", extra={"error_type": type(exc).__name__})
            others = []
        return merge([(self.replica, own), *others])

    def start(self) -> None:
        self._loop.start()

    def _publish_logged(self) -> None:
        try:
            self.publish()
        except Exception as exc:  # the store is down: serving goes on, scrapes say less
            log.warning("metrics not published", extra={"error_type": type(exc).__name__})

    def stop(self) -> None:
        self._loop.stop()
        try:
            self.store.delete(NAMESPACE, self.key)
        except Exception:  # expiry removes it anyway
            log.warning("metrics entry not removed")
