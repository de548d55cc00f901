"""The shared background loop of the store followers (state/periodic.py)."""

from __future__ import annotations

import threading

import pytest

from state.periodic import Periodic


def test_it_calls_the_work_each_period_and_stops() -> None:
    calls = threading.Semaphore(0)
    loop = Periodic("test-loop", 0.01, calls.release)
    loop.start()
    loop.start()  # idempotent: still one thread
    assert sum(t.name == "test-loop" for t in threading.enumerate()) == 1
    for _ in range(3):
        assert calls.acquire(timeout=5)
    loop.stop()
    assert not loop.running
    assert all(t.name != "test-loop" for t in threading.enumerate())


def test_a_failing_round_does_not_end_the_loop() -> None:
    rounds = []
    done = threading.Event()

    def work() -> None:
        rounds.append(1)
        if len(rounds) >= 3:
            done.set()
        raise RuntimeError("store down")

    loop = Periodic("test-failing", 0.01, work)
    loop.start()
    assert done.wait(5)
    loop.stop()
    assert len(rounds) >= 3


def test_immediately_runs_the_first_round_at_start() -> None:
    first = threading.Event()
    loop = Periodic("test-now", 3600, first.set, immediately=True)
    loop.start()
    assert first.wait(5)  # not an hour later
    loop.stop()


def test_the_period_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Periodic("bad", 0, lambda: None)
