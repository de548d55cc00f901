"""Aliases in the shared state store, on SQLite and the real PostgreSQL: promote, split and
rollback (which walks back through the history), validation, concurrent changes from several
"replicas" (no lost or doubled revision), followers seeing a change, and the sticky split."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from models.aliases import AliasError, AliasFollower, Assignment, choose, describe
from state import StateStore
from tests.state import conftest as backends

# Every test that takes a store runs on SQLite and on the real PostgreSQL.
spec, opener, store = backends.spec, backends.opener, backends.store

VALID = {"m@v1": "model", "m@v2": "model", "m@v3": "model", "triage@1": "prompt"}


def follower(store: StateStore) -> AliasFollower:
    return AliasFollower(store, VALID, reserved={"m", "triage"})


def test_promote_split_and_rollback_walk_the_history(store: StateStore) -> None:
    a = follower(store)
    a.seed({"prod": {"m@v1": 100}})
    assert describe(a.get("prod")) == "m@v1:100"
    a.seed({"prod": {"m@v3": 100}})  # a starting point never overrides the store
    assert describe(a.get("prod")) == "m@v1:100"

    change = a.split("prod", [("m@v1", 90), ("m@v2", 10)])
    assert (describe(change.before), describe(change.after)) == ("m@v1:100", "m@v1:90+m@v2:10")
    a.promote("prod", "m@v2")
    assert describe(a.get("prod")) == "m@v2:100"
    back = a.rollback("prod")  # to the split
    assert describe(back.after) == "m@v1:90+m@v2:10"
    assert describe(a.rollback("prod").after) == "m@v1:100"  # further back, never a toggle
    with pytest.raises(AliasError, match="nothing to roll back"):
        a.rollback("prod")
    assert a.get("prod").revision == 5


def test_changes_are_validated(store: StateStore) -> None:
    a = follower(store)
    for bad, message in [
        (lambda: a.promote("prod", "m@v9"), "not a model version or prompt template"),
        (lambda: a.split("prod", [("m@v1", 90), ("triage@1", 10)]), "not both"),
        (lambda: a.split("prod", [("m@v1", 0), ("m@v2", 10)]), "positive"),
        (lambda: a.split("prod", [("m@v1", 5), ("m@v1", 10)]), "named twice"),
        (lambda: a.promote("m", "m@v1"), "model or prompt name"),
        (lambda: a.promote("Prod Alias", "m@v1"), "lowercase"),
        (lambda: a.rollback("never-set"), "nothing to roll back"),
    ]:
        with pytest.raises(AliasError, match=message):
            bad()
    assert a.all() == {}  # nothing was written


def test_another_replica_follows_a_change(opener: Callable[[], StateStore]) -> None:
    admin, replica = follower(opener()), follower(opener())
    admin.promote("canary", "m@v2")
    assert replica.get("canary") is None  # until it refreshes (every reload_check_s)
    replica.refresh()
    assert describe(replica.get("canary")) == "m@v2:100"
    admin.promote("canary", "m@v1")
    replica.refresh()
    assert describe(replica.get("canary")) == "m@v1:100"
    admin.rollback("canary")
    replica.refresh()
    assert describe(replica.get("canary")) == "m@v2:100"


def test_concurrent_changes_from_many_replicas_lose_nothing(
    opener: Callable[[], StateStore],
) -> None:
    writers = [follower(opener()) for _ in range(4)]
    per_writer = 5

    def work(a: AliasFollower, i: int) -> None:
        for n in range(per_writer):
            a.promote("prod", "m@v1" if (i + n) % 2 else "m@v2")

    threads = [threading.Thread(target=work, args=(a, i)) for i, a in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = follower(opener())
    history = reader._history("prod")
    total = len(writers) * per_writer
    assert sorted(history) == list(range(1, total + 1))  # one entry per change, no gap
    reader.refresh()
    assert reader.get("prod").revision == total  # the head is the newest entry
    # every entry rolls back to the one before it
    assert all(history[r].back == r - 1 for r in range(2, total + 1))


def test_the_split_is_sticky_and_proportional() -> None:
    split = Assignment("prod", (("m@v1", 90), ("m@v2", 10)), 2)
    users = [f"user-{i}" for i in range(4000)]
    first = {u: choose(split, u) for u in users}
    assert all(choose(split, u) == first[u] for u in users)  # sticky
    share = Counter(first.values())["m@v2"] / len(users)
    assert 0.08 < share < 0.12
    # Moving to 80/20 moves only users onto v2: nobody on v2 goes back to v1.
    wider = Assignment("prod", (("m@v1", 80), ("m@v2", 20)), 3)
    assert all(choose(wider, u) == "m@v2" for u in users if first[u] == "m@v2")
    # Another alias with the same weights splits users independently.
    other = Assignment("beta", split.arms, 2)
    assert [choose(other, u) for u in users] != list(first.values())


def test_assignments_round_trip_through_json() -> None:
    a = Assignment("prod", (("m@v1", 90), ("m@v2", 10)), 7, 6, "split", "2026-12-04T15:00:00+00:00")
    assert Assignment.from_json("prod", a.to_json()) == a
