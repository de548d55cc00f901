"""Aliases (``prod``, ``canary``, ``stable``…) that point at model versions or prompt-template
versions, optionally split between several by weight, kept in the shared StateStore so that a
change reaches every ingress replica within ``policy.reload_check_s`` without a restart.

Storage (namespace ``registry.alias-log``): every change is one immutable entry
``<alias>:<revision>`` written with ``put_if_absent``, so two concurrent changes of one alias
cannot both win (the loser retries on the new revision). The newest entry of each alias is also
kept as its head (namespace ``registry.aliases``), which replicas read in one query per poll.
An entry names the revision a rollback returns to, so repeated rollbacks walk back through the
history and never toggle.

Choosing an arm is sticky: a stable hash of (alias, end user) picks a point in [0, 1) and the
cumulative weights pick the arm, so one user stays on one arm, and a weight change moves only
the users whose point crosses a boundary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from state import StateError, StateStore
from state.periodic import Periodic

__all__ = [
    "AliasError",
    "AliasFollower",
    "Assignment",
    "Change",
    "StaticAliases",
    "check_alias",
    "choose",
    "describe",
]

log = logging.getLogger("bastion.registry")

LOG_NS = "registry.alias-log"
HEAD_NS = "registry.aliases"
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_BUCKETS = 10_000
MAX_ARMS = 8

Action = Literal["seed", "promote", "split", "rollback"]


class AliasError(ValueError):
    """An alias change is invalid (unknown alias or version, bad weights, nothing to roll back
    to); the message names only aliases and versions of the catalog."""


@dataclass(frozen=True)
class Assignment:
    """Where an alias points: ``arms`` are (version id, weight) with positive weights."""

    alias: str
    arms: tuple[tuple[str, int], ...]
    revision: int
    back: int | None = None  # the revision a rollback returns to
    action: str = "seed"
    at: str = ""

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(version for version, _ in self.arms)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "arms": [list(arm) for arm in self.arms],
                "revision": self.revision,
                "back": self.back,
                "action": self.action,
                "at": self.at,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, alias: str, data: bytes) -> Assignment:
        raw = json.loads(data)
        arms = tuple((str(v), int(w)) for v, w in raw["arms"])
        return cls(alias, arms, int(raw["revision"]), raw.get("back"), raw["action"], raw["at"])


@dataclass(frozen=True)
class Change:
    """One applied change, for the audit record: who changed what from what to what."""

    alias: str
    action: Action
    before: Assignment | None
    after: Assignment


def describe(assignment: Assignment | None) -> str:
    """``m@v1:90+m@v2:10`` (a machine token: no spaces), or ``-`` for none."""
    if assignment is None:
        return "-"
    return "+".join(f"{v}:{w}" for v, w in assignment.arms)


def check_alias(alias: str) -> None:
    if not _ALIAS.match(alias):
        raise AliasError("alias: lowercase letters, digits, '.', '_' or '-' (max 63 chars)")


def _arms(arms: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    out = tuple(arms)
    if not out or len(out) > MAX_ARMS:
        raise AliasError(f"an alias points at 1 to {MAX_ARMS} versions")
    if len({v for v, _ in out}) != len(out):
        raise AliasError("a version is named twice")
    if any(w <= 0 for _, w in out):
        raise AliasError("weights must be positive integers")
    return out


def choose(assignment: Assignment, subject: str) -> str:
    """The arm for ``subject`` (the end user, else the key): sticky, proportional to weight."""
    if len(assignment.arms) == 1:
        return assignment.arms[0][0]
    digest = hashlib.sha256(f"{assignment.alias}\x00{subject}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % _BUCKETS
    total = sum(w for _, w in assignment.arms)
    edge = 0
    for version, weight in assignment.arms:
        edge += weight
        if point * total < edge * _BUCKETS:
            return version
    return assignment.arms[-1][0]


class StaticAliases:
    """A fixed alias table (no store): tests, and a deployment without aliases."""

    def __init__(self, table: Mapping[str, Assignment] | None = None) -> None:
        self.table: Mapping[str, Assignment] = dict(table or {})

    def get(self, alias: str) -> Assignment | None:
        return self.table.get(alias)

    def all(self) -> dict[str, Assignment]:
        return dict(self.table)


class AliasFollower(StaticAliases):
    """One replica's view of the store's aliases (refreshed every ``every_s`` seconds on a
    daemon thread) and the way to change them (every change lands in the store first).

    ``valid``: version ids an alias may point at (model versions and prompt templates of the
    catalog); ``kind_of`` tells them apart so one alias never mixes the two."""

    def __init__(
        self,
        store: StateStore,
        valid: Mapping[str, str],
        every_s: float = 1.0,
        reserved: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.store = store
        self.valid = dict(valid)  # version id -> "model" | "prompt"
        self.reserved = frozenset(reserved)  # model and prompt names: never an alias
        self.every_s = every_s
        self._loop = Periodic("alias-follower", every_s, self._refresh_logged)

    # --- following ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read every head in one query and swap the table in one assignment."""
        rows = self.store.items(HEAD_NS, limit=100_000)
        self.table = {alias: Assignment.from_json(alias, value) for alias, value in rows}

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _refresh_logged(self) -> None:
        try:
            self.refresh()
        except StateError as exc:  # the aliases in force stay
            log.error("alias refresh failed", extra={"error_type": type(exc).__name__})

    # --- changing -----------------------------------------------------------------------------
    def seed(self, initial: Mapping[str, Mapping[str, int]]) -> None:
        """Configured starting points: written only for aliases the store has never seen."""
        for alias, weights in initial.items():
            arms = self._checked(alias, weights.items())
            entry = Assignment(alias, arms, 1, None, "seed", _now())
            if self.store.put_if_absent(LOG_NS, f"{alias}:{1:08d}", entry.to_json()):
                self.store.put_if_absent(HEAD_NS, alias, entry.to_json())
        self.refresh()

    def promote(self, alias: str, version: str) -> Change:
        """All traffic of ``alias`` to ``version``."""
        return self._change(alias, "promote", lambda _: ((version, 100),))

    def split(self, alias: str, weights: Iterable[tuple[str, int]]) -> Change:
        """Traffic of ``alias`` split by weight (e.g. 90/10), sticky per end user."""
        arms = tuple(weights)
        return self._change(alias, "split", lambda _: arms)

    def rollback(self, alias: str) -> Change:
        """Back to where the alias pointed before its last promote or split, at once."""
        return self._change(alias, "rollback", None)

    def _checked(self, alias: str, arms: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
        check_alias(alias)
        if alias in self.reserved:
            raise AliasError(f"{alias} is a model or prompt name, not an alias")
        out = _arms(arms)
        kinds = set()
        for version, _ in out:
            if version not in self.valid:
                raise AliasError(f"{version} is not a model version or prompt template here")
            kinds.add(self.valid[version])
        if len(kinds) > 1:
            raise AliasError("an alias points at model versions or at prompt templates, not both")
        return out

    def _history(self, alias: str) -> dict[int, Assignment]:
        rows = self.store.items(LOG_NS, prefix=f"{alias}:", limit=100_000)
        return {int(key.rpartition(":")[2]): Assignment.from_json(alias, v) for key, v in rows}

    def _change(self, alias: str, action: Action, arms_of) -> Change:  # type: ignore[no-untyped-def]
        check_alias(alias)
        for _ in range(20):  # another writer won the revision: read again and retry
            history = self._history(alias)
            current = history[max(history)] if history else None
            if action == "rollback":
                if current is None or current.back is None or current.back not in history:
                    raise AliasError(f"alias {alias} has nothing to roll back to")
                target = history[current.back]
                arms, back = target.arms, target.back
            else:
                arms = self._checked(alias, arms_of(current))
                back = current.revision if current is not None else None
            revision = current.revision + 1 if current is not None else 1
            after = Assignment(alias, arms, revision, back, action, _now())
            if self.store.put_if_absent(LOG_NS, f"{alias}:{revision:08d}", after.to_json()):
                self._publish_head(alias, after)
                self.refresh()
                return Change(alias, action, current, after)
        raise AliasError(f"alias {alias} is being changed concurrently; try again")

    def _publish_head(self, alias: str, entry: Assignment) -> None:
        """Make the head the newest log entry. Each writer re-reads the log after its put and
        puts again until they agree, so the last put of all is always the newest entry."""
        while True:
            self.store.put(HEAD_NS, alias, entry.to_json())
            history = self._history(alias)
            newest = history[max(history)]
            if newest.revision == entry.revision:
                return
            entry = newest


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
