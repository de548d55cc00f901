"""One background loop for the replicas' followers of the shared store.

Four things on every ingress replica wake up on a schedule and read or write the store: the
policy reloader, the alias follower, the state purger and the metrics publisher. Each of them
is a :class:`Periodic`: a daemon thread that calls one function every ``every_s`` seconds until
stopped. The function must not raise (each one logs a store outage and keeps what it had); the
loop still catches what escapes, so one bad round never ends the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Periodic"]

log = logging.getLogger("bastion.state")


class Periodic:
    """Calls ``work`` every ``every_s`` seconds on a daemon thread named ``name``.

    ``immediately``: the first call happens at start instead of one period later.
    ``start`` and ``stop`` are idempotent; ``stop`` waits up to ``join_s`` for a round in
    progress to finish.
    """

    def __init__(
        self, name: str, every_s: float, work: Callable[[], object], immediately: bool = False
    ) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self.name = name
        self.every_s = every_s
        self.work = work
        self.immediately = immediately
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, join_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=join_s)
            self._thread = None

    def _run(self) -> None:
        if self.immediately:
            self._round()
        while not self._stop.wait(self.every_s):
            self._round()

    def _round(self) -> None:
        try:
            self.work()
        except Exception as exc:  # the work logs its own failures; this keeps the loop alive
            log.error("%s round failed", self.name, extra={"error_type": type(exc).__name__})
