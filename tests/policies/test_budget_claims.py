# ruff: noqa: F811  (the store fixtures are imported from tests/state/conftest.py)
"""The state store's atomic claims (reserve / settle), on SQLite and on the real PostgreSQL:
all-or-nothing reservations against limits, give-backs that never go below zero, and many
concurrent reservers (threads, each with its own store instance, like ingress replicas) that
together never take a limited counter past its limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from state import StateStore
from state.claims import Claim
from tests.state.conftest import opener, spec, store  # noqa: F401  (fixtures: both backends)


def test_a_reservation_that_fits_adds_every_amount(store: StateStore) -> None:
    claims = [Claim("budget", "t/day", 40, 100, 3600), Claim("usage", "t/requests", 1)]
    assert store.reserve(claims) is None
    assert store.counter("budget", "t/day") == 40
    assert store.counter("usage", "t/requests") == 1


def test_a_reservation_reports_the_values_after_it(store: StateStore) -> None:
    store.settle([Claim("usage", "u", 5)])
    values: list[int] = []
    claims = [Claim("usage", "u", 2), Claim("budget", "b", 7, 10)]
    assert store.reserve(claims, values) is None
    assert values == [7, 7]
    assert store.reserve([Claim("budget", "b", 7, 10)], values) == 0
    assert values == [7, 7]  # untouched when refused


def test_a_reservation_that_does_not_fit_changes_nothing(store: StateStore) -> None:
    assert store.reserve([Claim("budget", "a", 90, 100)]) is None
    refused = [Claim("budget", "b", 5, 10), Claim("budget", "a", 20, 100), Claim("usage", "n", 1)]
    assert store.reserve(refused) == 1  # the index of the claim that did not fit
    assert store.counter("budget", "a") == 90
    assert store.counter("budget", "b") == 0
    assert store.counter("usage", "n") == 0
    assert store.reserve([Claim("budget", "a", 10, 100)]) is None  # exactly at the limit fits
    assert store.counter("budget", "a") == 100


def test_an_amount_larger_than_the_limit_is_refused_at_once(store: StateStore) -> None:
    assert store.reserve([Claim("budget", "x", 1), Claim("budget", "y", 11, 10)]) == 1
    assert store.counters("budget") == []


def test_settle_gives_back_but_never_below_zero_nor_creates(store: StateStore) -> None:
    store.reserve([Claim("budget", "a", 50, 100)])
    store.settle([Claim("budget", "a", -20), Claim("budget", "ghost", -5), Claim("usage", "c", 7)])
    assert store.counter("budget", "a") == 30
    assert store.counter("usage", "c") == 7
    assert store.counters("budget") == [("a", 30)]  # no counter was created for "ghost"
    store.settle([Claim("budget", "a", -500)])
    assert store.counter("budget", "a") == 0


def test_settle_adds_repeated_counters_up(store: StateStore) -> None:
    store.reserve([Claim("budget", "a", 10, 100)])
    store.settle([Claim("usage", "n", 2), Claim("usage", "n", 3), Claim("budget", "a", -4)])
    store.settle([Claim("budget", "a", -1), Claim("budget", "a", -2)])
    assert (store.counter("usage", "n"), store.counter("budget", "a")) == (5, 3)


def test_a_window_restarts_after_its_ttl(store: StateStore) -> None:
    assert store.reserve([Claim("rate", "k/m", 3, 3, ttl_s=0.3)]) is None
    assert store.reserve([Claim("rate", "k/m", 1, 3, ttl_s=0.3)]) == 0
    time.sleep(0.4)
    assert store.reserve([Claim("rate", "k/m", 1, 3, ttl_s=0.3)]) is None
    assert store.counter("rate", "k/m") == 1
    store.settle([Claim("rate", "gone", -1)])  # expired or absent: untouched
    assert store.counter("rate", "gone") == 0


def test_counters_lists_by_prefix(store: StateStore) -> None:
    store.settle([Claim("usage", "acme/2026-12-01/x", 1), Claim("usage", "acme/2026-12-02/x", 2)])
    store.settle([Claim("usage", "acmf/2026-12-01/x", 3)])
    assert store.counters("usage", "acme/") == [("acme/2026-12-01/x", 1), ("acme/2026-12-02/x", 2)]


@pytest.mark.parametrize("threads", [16])
def test_concurrent_reservers_never_pass_the_limit(
    opener: Callable[[], StateStore],
    threads: int,
) -> None:
    limit, amount = 1000, 7
    stores = [opener() for _ in range(threads)]
    granted = [0] * threads
    start = threading.Barrier(threads)

    def work(i: int) -> None:
        start.wait()
        for _ in range(25):
            # two limited counters (tenant and key) in opposite key order across threads:
            # reservations lock rows in key order, so this cannot deadlock
            keys = ["t/day", f"k{i % 2}/day"] if i % 2 else [f"k{i % 2}/day", "t/day"]
            claims = [Claim("budget", k, amount, limit) for k in keys]
            if stores[i].reserve(claims) is None:
                granted[i] += amount

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    total = stores[0].counter("budget", "t/day")
    assert total == sum(granted)
    assert limit - amount < total <= limit  # filled up to the limit, never past it
    keys = stores[0].counter("budget", "k0/day") + stores[0].counter("budget", "k1/day")
    assert keys == total
