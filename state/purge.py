"""Deletes expired values and counters from the shared store on a schedule.

Expired rows already read as absent (every read filters on ``expires_at``); without a purge they
would still pile up: one windowed rate-limit counter per key and minute, one cache entry per
answer. Every ingress replica runs one :class:`StatePurger`; the DELETE is idempotent, so
replicas purging at the same time only share the work.
"""

from __future__ import annotations

import logging

from .base import StateError, StateStore
from .periodic import Periodic

__all__ = ["StatePurger"]

log = logging.getLogger("bastion.state")


class StatePurger:
    """A daemon thread calling ``store.purge_expired()`` every ``every_s`` seconds. It never
    raises: a store outage is logged and the next round tries again."""

    def __init__(self, store: StateStore, every_s: float = 600.0) -> None:
        self.store = store
        self.every_s = every_s
        self.purged = 0  # rows deleted by this purger since it started
        self._loop = Periodic("state-purger", every_s, self.purge_once)

    def purge_once(self) -> int:
        try:
            n = self.store.purge_expired()
        except (StateError, OSError) as exc:
            log.warning("state purge failed: %s", type(exc).__name__)
            return 0
        self.purged += n
        if n:
            log.info("state purge: %d expired rows deleted", n)
        return n

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
