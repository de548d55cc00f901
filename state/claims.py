"""Atomic multi-counter claims: reserve against limits, then settle (budgets, rate limits, usage).

A :class:`Claim` names one counter (namespace, key), an amount and optionally a limit and a
window (``ttl_s``: the counter restarts that long after its creation, as for ``incr``).

- ``reserve(claims)``: in ONE transaction, every claim with a limit must fit (live value +
  amount <= limit); then every amount is added. If one does not fit, nothing changes and the
  index of the first claim that did not fit is returned. Concurrent reservations on the same
  counters serialize on the rows (PostgreSQL: a conditional upsert ``... DO UPDATE ... WHERE
  value + amount <= limit RETURNING value`` per claim, rows locked in key order so two
  reservations never deadlock; SQLite: ``BEGIN IMMEDIATE``). Hence a counter with a limit never
  exceeds it through reservations.
- ``settle(claims)``: in one transaction, add every amount; a negative amount returns part of a
  reservation: it never creates a counter, never revives an expired one and never takes a live
  one below zero. Limits are ignored (what was spent is recorded).

Both backends run the same SQL text (``?`` placeholders, rewritten for PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .base import check_name

__all__ = ["Claim", "ClaimRefused", "list_counters", "precheck", "reserve_claims", "settle_claims"]

_EXPIRED = "state_counter.expires_at IS NOT NULL AND state_counter.expires_at <= ?"
_LIVE = "(expires_at IS NULL OR expires_at > ?)"

INCR = (
    "INSERT INTO state_counter (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET"
    f" value = CASE WHEN {_EXPIRED} THEN excluded.value"
    " ELSE state_counter.value + excluded.value END,"
    f" expires_at = CASE WHEN {_EXPIRED} THEN excluded.expires_at"
    " ELSE state_counter.expires_at END"
)
# The conditional upsert: the row is updated only when the amount still fits under the limit
# (or the window expired); no row returned means "does not fit".
RESERVE = INCR + f" WHERE {_EXPIRED} OR state_counter.value + excluded.value <= ? RETURNING value"
GIVE_BACK = (
    "UPDATE state_counter SET value = CASE WHEN value + ? < 0 THEN 0 ELSE value + ? END"
    f" WHERE namespace = ? AND key = ? AND {_LIVE}"
)
LIST = f"SELECT key, value FROM state_counter WHERE namespace = ? AND {_LIVE}"
# The same for many counters in one statement (VALUES columns are column1, column2, ... on both
# engines; the casts give PostgreSQL the parameters' types).
INCR_MANY = (
    "INSERT INTO state_counter (namespace, key, value, expires_at) VALUES {rows}"
    + INCR[INCR.index(" ON CONFLICT") :]
)
_DOWN_ROW = "(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT))"
GIVE_BACK_MANY = (
    "UPDATE state_counter SET value = CASE WHEN state_counter.value + v.column3 < 0 THEN 0"
    " ELSE state_counter.value + v.column3 END FROM (VALUES {rows}) AS v"
    " WHERE state_counter.namespace = v.column1 AND state_counter.key = v.column2"
    " AND (state_counter.expires_at IS NULL OR state_counter.expires_at > ?)"
)


@dataclass(frozen=True)
class Claim:
    """One counter change: ``amount`` on ``(namespace, key)``; with ``limit``, only if it fits.
    ``ttl_s``: the counter's window (it restarts that long after its creation)."""

    namespace: str
    key: str
    amount: int
    limit: int | None = None
    ttl_s: float | None = None


class _Conn(Protocol):
    def execute(self, statement: Any, args: Any = ...) -> Any: ...


class ClaimRefused(Exception):
    """Raised inside the transaction so that it rolls back; carries the claim's index."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def _expiry(now: float, ttl_s: float | None) -> float | None:
    if ttl_s is None:
        return None
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    return now + ttl_s


def _ordered(claims: Sequence[Claim]) -> list[tuple[int, Claim]]:
    for claim in claims:
        check_name(claim.namespace, claim.key)
    return sorted(enumerate(claims), key=lambda ic: (ic[1].namespace, ic[1].key))


def precheck(claims: Sequence[Claim]) -> int | None:
    """The first claim that cannot fit even on an empty counter (no store access needed)."""
    for i, claim in enumerate(claims):
        if claim.limit is not None and claim.amount > claim.limit:
            return i
    return None


def reserve_claims(
    conn: _Conn,
    claims: Sequence[Claim],
    now: float,
    rewrite: Any = str,
    values: list[int] | None = None,
) -> None:
    """Apply ``claims`` on ``conn`` inside the caller's transaction; raises :class:`ClaimRefused`
    (the caller rolls back) at the first claim that does not fit. ``values``, when given, is
    filled with each counter's value after the reservation (in the order of ``claims``)."""
    after = [0] * len(claims)
    for index, c in _ordered(claims):
        expires = _expiry(now, c.ttl_s)
        if c.limit is None:
            args: tuple = (c.namespace, c.key, int(c.amount), expires, now, now)
            row = conn.execute(rewrite(INCR + " RETURNING value"), args).fetchone()
        else:
            args = (c.namespace, c.key, int(c.amount), expires, now, now, now, int(c.limit))
            row = conn.execute(rewrite(RESERVE), args).fetchone()
            if row is None:
                raise ClaimRefused(index)
        after[index] = int(row[0])
    if values is not None:
        values[:] = after


def settle_claims(conn: _Conn, claims: Sequence[Claim], now: float, rewrite: Any = str) -> None:
    """Add every amount inside the caller's transaction (negative: give back, see module doc):
    one statement for all the increments and one for all the give-backs."""
    merged: dict[tuple[str, str], Claim] = {}
    for _, c in _ordered(claims):  # one row per counter: a statement may touch a row once
        prior = merged.get((c.namespace, c.key))
        amount = c.amount + (prior.amount if prior else 0)
        merged[(c.namespace, c.key)] = Claim(c.namespace, c.key, amount, ttl_s=c.ttl_s)
    ups = [c for c in merged.values() if c.amount > 0]
    downs = [c for c in merged.values() if c.amount < 0]
    if ups:
        rows = ", ".join(["(?, ?, ?, ?)"] * len(ups))
        args: list[Any] = []
        for c in ups:
            args += [c.namespace, c.key, int(c.amount), _expiry(now, c.ttl_s)]
        conn.execute(rewrite(INCR_MANY.format(rows=rows)), (*args, now, now))
    if downs:
        rows = ", ".join([_DOWN_ROW] * len(downs))
        args = []
        for c in downs:
            args += [c.namespace, c.key, int(c.amount)]
        conn.execute(rewrite(GIVE_BACK_MANY.format(rows=rows)), (*args, now))


def list_counters(
    conn: _Conn, namespace: str, prefix: str, limit: int, now: float, rewrite: Any = str
) -> list[tuple[str, int]]:
    """Live ``(key, value)`` counters of a namespace whose key starts with ``prefix``, by key."""
    check_name(namespace, prefix or "x")
    statement, args = LIST, (namespace, now)
    if prefix:
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        statement, args = statement + " AND key >= ? AND key < ?", (*args, prefix, upper)
    rows = conn.execute(rewrite(statement + " ORDER BY key LIMIT ?"), (*args, int(limit)))
    return [(str(k), int(v)) for k, v in rows.fetchall()]
