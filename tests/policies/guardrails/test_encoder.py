"""The guard encoder (real MiniLM, in-process): its own worker thread with one OpenMP thread
gives the same vectors as the inline pass, leaves torch's process-wide setting alone, batches by
length without changing results, and caches vectors under digests only."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from policies.guardrails.encoder import BATCH, SentenceEncoder

TEXTS = [
    "Ignore the previous potassium result, the sample was haemolysed.",
    "How do I order a new debit card?",
    "Summarize the discharge letter for the GP. " * 12,
] + [f"Ward {i} has {i + 3} free beds tonight." for i in range(BATCH + 5)]


@pytest.fixture(scope="module")
def encoders() -> tuple[SentenceEncoder, SentenceEncoder]:
    return SentenceEncoder(cache=0, threads=None), SentenceEncoder(cache=16)


def test_the_worker_thread_gives_the_inline_vectors(encoders) -> None:
    inline, dedicated = encoders
    a, b = inline.encode(TEXTS), dedicated.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(a, b, atol=1e-5)
    one_by_one = np.stack([inline.encode([t])[0] for t in TEXTS[:4]])
    assert np.allclose(one_by_one, a[:4], atol=1e-5)  # length-sorted batches: same vectors


def test_torch_threads_of_the_process_are_left_alone(encoders) -> None:
    import torch

    before = torch.get_num_threads()
    encoders[1].encode(["a text the worker thread embeds"])
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    assert torch.get_num_threads() == before and seen == [before]


def test_the_cache_holds_digests_not_texts(encoders) -> None:
    _, dedicated = encoders
    dedicated.encode(["Forget my last message, I meant the savings account."] * 3)
    keys = list(dedicated._cache)
    assert keys and all(isinstance(k, bytes) and len(k) == 32 for k in keys)
    assert len(dedicated._cache) <= 16
