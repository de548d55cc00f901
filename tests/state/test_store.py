"""The StateStore contract, table-driven over SQLite and PostgreSQL (tests/state/conftest.py)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest

from state import KeyRecord, StateConflict, StateStore, StoredPolicy
from tests.state.conftest import Spec, open_spec

KEY = KeyRecord("0123456789abcdef", "ab" * 32, "acme", "app", "ci", "2026-12-01T00:00:00+00:00")
POLICY_A = StoredPolicy("a+sha256:000000000001", (("a.yaml", "sites: []\n"),))
POLICY_B = StoredPolicy("b+sha256:000000000002", (("b.yaml", "# b\n"), ("c.yaml", "x: ü\n")))


def test_implements_the_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)


def test_schema_creation_is_idempotent_and_data_survives_reopening(
    opener: Callable[[], StateStore],
) -> None:
    first = opener()
    first.insert_key(KEY)
    first.put("meta", "k", b"v")
    first.close()
    again = opener()
    assert again.get_key(KEY.key_id) == KEY
    assert again.get("meta", "k") == b"v"


def test_keys_roundtrip_list_count_and_revoke(store: StateStore) -> None:
    other = replace(KEY, key_id="fedcba9876543210", tenant="clinic", created_at="2026-12-02")
    assert store.get_key(KEY.key_id) is None and store.count_keys() == 0
    store.insert_key(other)
    store.insert_key(KEY)
    assert store.get_key(KEY.key_id) == KEY
    assert [k.key_id for k in store.list_keys()] == [KEY.key_id, other.key_id]  # oldest first
    assert store.list_keys("clinic") == [other]
    assert store.count_keys() == 2
    assert store.revoke_key(KEY.key_id, "2026-12-03T00:00:00+00:00")
    assert not store.revoke_key(KEY.key_id, "2026-12-04T00:00:00+00:00")  # already revoked
    assert not store.revoke_key("0000000000000000", "2026-12-04T00:00:00+00:00")  # unknown
    assert store.get_key(KEY.key_id).revoked_at == "2026-12-03T00:00:00+00:00"


def test_a_duplicate_key_id_is_a_conflict(store: StateStore) -> None:
    store.insert_key(KEY)
    with pytest.raises(StateConflict):
        store.insert_key(replace(KEY, tenant="other"))
    assert store.get_key(KEY.key_id) == KEY


def test_import_adds_new_keys_and_never_changes_existing_ones(store: StateStore) -> None:
    store.insert_key(KEY)
    store.revoke_key(KEY.key_id, "2026-12-03T00:00:00+00:00")
    new = replace(KEY, key_id="1111111111111111")
    # The imported copy of KEY is active: the store's revocation must win.
    assert store.import_keys([replace(KEY, revoked_at=None), new]) == 1
    assert store.get_key(KEY.key_id).revoked_at is not None
    assert store.get_key(new.key_id) == new
    assert store.import_keys([new]) == 0


def test_policy_publish_activate_and_roll_back(store: StateStore) -> None:
    assert store.active_policy_version() is None and store.active_policy() is None
    assert store.publish_policy(POLICY_A) == POLICY_A.version
    assert store.publish_policy(POLICY_B) == POLICY_B.version
    assert store.active_policy_version() == POLICY_B.version
    active = store.active_policy()
    assert (active.version, active.documents) == (POLICY_B.version, POLICY_B.documents)
    assert active.published_at
    # Publishing a known version again makes it active (a rollback), documents intact.
    assert store.publish_policy(POLICY_A) == POLICY_A.version
    assert store.active_policy().documents == POLICY_A.documents


def test_publish_only_if_none_keeps_the_active_policy(store: StateStore) -> None:
    assert store.publish_policy(POLICY_A, only_if_none=True) == POLICY_A.version
    assert store.publish_policy(POLICY_B, only_if_none=True) == POLICY_A.version
    assert store.active_policy_version() == POLICY_A.version


def test_values_put_get_overwrite_delete_and_items(store: StateStore) -> None:
    assert store.get("cache", "a1") is None
    store.put("cache", "a1", b"one")
    store.put("cache", "a1", b"uno")
    store.put("cache", "a2", b"\x00\xff")
    store.put("cache", "b1", b"b")
    store.put("budget", "a1", b"other namespace")
    assert store.get("cache", "a1") == b"uno"
    assert store.items("cache", "a") == [("a1", b"uno"), ("a2", b"\x00\xff")]
    assert [k for k, _ in store.items("cache")] == ["a1", "a2", "b1"]
    assert [k for k, _ in store.items("cache", limit=1)] == ["a1"]
    assert store.delete("cache", "a1") and not store.delete("cache", "a1")
    assert store.get("cache", "a1") is None and store.get("budget", "a1") == b"other namespace"


def test_put_if_absent(store: StateStore) -> None:
    assert store.put_if_absent("lock", "job-1", b"replica-a")
    assert not store.put_if_absent("lock", "job-1", b"replica-b")
    assert store.get("lock", "job-1") == b"replica-a"


def test_expired_values_read_as_absent_and_can_be_replaced(store: StateStore) -> None:
    store.put("cache", "short", b"x", ttl_s=0.05)
    assert store.put_if_absent("lock", "lease", b"a", ttl_s=0.05)
    store.put("cache", "long", b"y", ttl_s=3600)
    time.sleep(0.1)
    assert store.get("cache", "short") is None
    assert store.items("cache") == [("long", b"y")]
    assert store.put_if_absent("lock", "lease", b"b")  # the old lease expired
    assert store.get("lock", "lease") == b"b"


def test_counters(store: StateStore) -> None:
    assert store.counter("tokens", "acme") == 0
    assert store.incr("tokens", "acme") == 1
    assert store.incr("tokens", "acme", 41) == 42
    assert store.incr("tokens", "acme", -2) == 40
    assert store.counter("tokens", "acme") == 40
    assert store.counter("tokens", "clinic") == 0


def test_a_windowed_counter_restarts_after_its_window(store: StateStore) -> None:
    assert store.incr("rate", "acme:minute", 5, ttl_s=0.05) == 5
    assert store.incr("rate", "acme:minute", 1, ttl_s=0.05) == 6
    time.sleep(0.1)
    assert store.counter("rate", "acme:minute") == 0
    assert store.incr("rate", "acme:minute", 2, ttl_s=3600) == 2


@pytest.mark.parametrize(
    ("namespace", "key"),
    [("", "k"), ("Upper", "k"), ("ns", ""), ("ns", "has space"), ("ns", "x" * 256)],
)
def test_names_are_machine_tokens(store: StateStore, namespace: str, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(namespace, key, b"v")
    with pytest.raises(ValueError):
        store.incr(namespace, key)


def test_another_instance_sees_every_write(opener: Callable[[], StateStore]) -> None:
    """Two instances of one store are two replicas: no per-instance state."""
    a, b = opener(), opener()
    a.insert_key(KEY)
    a.publish_policy(POLICY_A)
    a.incr("n", "k", 3)
    assert b.get_key(KEY.key_id) == KEY
    assert b.active_policy_version() == POLICY_A.version
    assert b.incr("n", "k") == 4
    assert b.revoke_key(KEY.key_id, "2026-12-03T00:00:00+00:00")
    assert a.get_key(KEY.key_id).revoked_at is not None


def _hammer(spec: Spec, worker: int, rounds: int) -> list[int]:
    """In a separate process: increment one counter, add keys, publish policies."""
    store = open_spec(spec)
    try:
        seen = []
        for i in range(rounds):
            seen.append(store.incr("race", "counter"))
            store.insert_key(replace(KEY, key_id=f"{worker:08x}{i:08x}"))
            store.publish_policy(POLICY_A if (worker + i) % 2 else POLICY_B)
        return seen
    finally:
        store.close()


def test_concurrent_writers_in_several_processes(spec: Spec, store: StateStore) -> None:
    workers, rounds = 4, 25
    # spawn: a forked child would share (and at exit close) the parent's connections
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_hammer, [spec] * workers, range(workers), [rounds] * workers))
    values = sorted(v for seen in results for v in seen)
    assert values == list(range(1, workers * rounds + 1))  # every increment counted once
    assert store.counter("race", "counter") == workers * rounds
    assert store.count_keys() == workers * rounds
    assert store.active_policy_version() in {POLICY_A.version, POLICY_B.version}
