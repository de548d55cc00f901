"""Reload: a good document swaps atomically, a bad one leaves the old set in force, and
decisions taken from other threads during reloads each match exactly one version."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from policies.decide import DecisionInput, PolicyEngine
from policies.documents import PolicyDocumentError, load_documents
from tests.policies.policy_docs import ALL, write_policy

# Version B also forbids PII on external upstreams, so the hospital's PII request to gpt-4o
# is rerouted instead of allowed.
B = ALL.replace("label: 2026-11-a", "label: 2026-11-b").replace(
    "when: {data_classes: [PHI], external: true}",
    "when: {data_classes: [PHI, PII], external: true}",
)
REQUEST = DecisionInput("hospital", "app", "key-1", "gpt-4o", frozenset({"PII"}), None)


def test_good_reload_swaps_version_and_decisions(tmp_path: Path) -> None:
    engine = PolicyEngine(load_documents([write_policy(tmp_path, ALL, "a.yaml")]))
    old = engine.version
    assert engine.decide(REQUEST).outcome == "allow"
    new = engine.reload([write_policy(tmp_path, B, "b.yaml")])
    assert new == engine.version != old
    assert new.startswith("2026-11-b+")
    decision = engine.decide(REQUEST)
    assert (decision.outcome, decision.policy_version) == ("reroute", new)
    assert engine.policy_set.label == "2026-11-b"


@pytest.mark.parametrize(
    "bad",
    [
        ALL.replace("region: NA}", "regoin: NA}"),
        ALL.replace("sites: [us-east-1, ext-upstream]", "sites: [us-east-1, nowhere]"),
        ALL + "  - {id: [broken\n",
    ],
    ids=["schema", "reference", "syntax"],
)
def test_bad_reload_keeps_the_old_set(tmp_path: Path, bad: str) -> None:
    engine = PolicyEngine(load_documents([write_policy(tmp_path, ALL, "a.yaml")]))
    before = engine.decide(REQUEST)
    with pytest.raises(PolicyDocumentError):
        engine.reload([write_policy(tmp_path, bad, "bad.yaml")])
    assert engine.version == before.policy_version
    assert engine.decide(REQUEST) == before
    assert engine.models_for_tenant("research") == ["gpt-4o@2024-08", "llama-3.1-70b@fp8-2024-07"]


def test_reload_of_a_missing_file_keeps_the_old_set(tmp_path: Path) -> None:
    engine = PolicyEngine(load_documents([write_policy(tmp_path)]))
    version = engine.version
    with pytest.raises(PolicyDocumentError):
        engine.reload([tmp_path / "gone.yaml"])
    assert engine.version == version


def test_decisions_under_concurrent_reloads_match_one_version(tmp_path: Path) -> None:
    paths = {
        "a": [write_policy(tmp_path, ALL, "a.yaml")],
        "b": [write_policy(tmp_path, B, "b.yaml")],
        "bad": [write_policy(tmp_path, ALL.replace("region: EU}", "region: 'E U'}"), "bad.yaml")],
    }
    engine = PolicyEngine(load_documents(paths["a"]))
    expected = {
        engine.version: ("allow", "gpt-4o@2024-08", "allow/approved"),
        load_documents(paths["b"]).version: (
            "reroute",
            "llama-3.1-8b@q4-2024-07",
            "reroute/approved-alias",
        ),
    }
    seen: Counter[tuple[str, tuple[str, str | None, str]]] = Counter()
    stop = threading.Event()
    errors: list[BaseException] = []

    def decide_loop() -> None:
        local: Counter[tuple[str, tuple[str, str | None, str]]] = Counter()
        try:
            while not stop.is_set():
                d = engine.decide(REQUEST)
                local[(d.policy_version, (d.outcome, d.model_version, d.rule_id))] += 1
        except BaseException as err:  # surfaced to the main thread below
            errors.append(err)
        with lock:
            seen.update(local)

    lock = threading.Lock()

    threads = [threading.Thread(target=decide_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(30):
            if i % 3 == 2:
                with pytest.raises(PolicyDocumentError):
                    engine.reload(paths["bad"])
            else:
                engine.reload(paths["b" if i % 2 else "a"])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors
    assert {version for version, _ in seen} == set(expected)
    for version, got in seen:
        assert got == expected[version]
