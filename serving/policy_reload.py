"""Policy reload without restart, for every ingress replica.

`bastion policy reload`, SIGHUP to `bastion serve` and `POST /v1/admin/policy/reload` all do the
same: validate the configured documents, and only if they are good, touch the reload marker
``<data_dir>/policy.reload``. Each ingress replica checks the marker at most every
``policy.reload_check_s`` seconds and swaps its engine atomically; a set that fails to load
there (it changed again in between) is rejected and the old one stays in force.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from policies.decide import PolicyEngine
from policies.documents import PolicyDocumentError, load_documents

__all__ = ["PolicyReloader", "request_reload"]

log = logging.getLogger("bastion.policy")


def _marker(data_dir: Path) -> Path:
    return data_dir / "policy.reload"


def request_reload(files: list[Path], data_dir: Path) -> str:
    """Validate ``files``; if they load, ask every replica to reload. Returns the new version.

    Raises :class:`PolicyDocumentError` (nothing is signalled) when they do not.
    """
    version = load_documents(files).version
    marker = _marker(data_dir)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{version}\n{time.time_ns()}\n")
    return version


class PolicyReloader:
    """Owned by one ingress replica: reloads its engine when the marker changes."""

    def __init__(
        self, engine: PolicyEngine, files: list[Path], data_dir: Path, every_s: float = 1.0
    ) -> None:
        self.engine = engine
        self.files = files
        self.marker = _marker(data_dir)
        self.every_s = every_s
        self._next = 0.0
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.marker)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def poll(self) -> None:
        """Cheap: one stat at most every ``every_s`` seconds; reload when the marker moved."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        stamp = self._stamp()
        if stamp == self._seen:
            return
        self._seen = stamp
        with contextlib.suppress(PolicyDocumentError):  # logged; the old policy stays in force
            self.reload()

    def reload(self) -> str:
        old = self.engine.version
        try:
            new = self.engine.reload(self.files)
        except PolicyDocumentError as exc:
            log.error(
                "policy reload rejected; previous policy stays in force",
                extra={"policy_version": old, "problems": len(exc.issues)},
            )
            raise
        log.info("policy reloaded", extra={"policy_version": new, "previous_version": old})
        return new
