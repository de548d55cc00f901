"""The guard encoder (real MiniLM, in-process): its own worker thread with one OpenMP thread
gives the same vectors as the inline pass, leaves torch's process-wide setting alone, batches by
length without changing results, and caches vectors under digests only. The int8 encoder (the
classifier's) gives a text the same vector alone or among others, close to the fp32 one; the
shared fp32 and int8 encoders are distinct; counting tokens does not load the model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from policies.guardrails.classifier import load_classifier
from policies.guardrails.encoder import BATCH, SentenceEncoder, shared_encoder

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


def test_the_int8_encoder_gives_a_text_one_vector(encoders) -> None:
    quantized = SentenceEncoder(cache=0, quantized=True)
    together = quantized.encode(TEXTS)
    alone = np.stack([quantized.encode([t])[0] for t in TEXTS[:4]])
    assert np.array_equal(alone, together[:4])  # activation scales never mix texts
    assert quantized.encode(TEXTS[:1]).tolist() == quantized.encode(TEXTS[:1]).tolist()
    fp32 = encoders[0].encode(TEXTS)
    cosine = (fp32 * together).sum(1)
    assert together.shape == fp32.shape and np.allclose(np.linalg.norm(together, axis=1), 1.0)
    assert cosine.min() > 0.8 and cosine.mean() > 0.9  # close to fp32, not the same


def test_the_shipped_classifier_uses_the_encoder_its_weights_were_trained_on() -> None:
    import json

    from policies.guardrails.classifier import META

    classifier = load_classifier()
    assert classifier.encoder.quantized == json.loads(META.read_text()).get("quantized", False)
    assert classifier.encoder is shared_encoder(classifier.encoder.quantized)
    assert shared_encoder() is not shared_encoder(True) and not shared_encoder().quantized
    with pytest.raises(ValueError):
        load_classifier(encoder=SentenceEncoder(quantized=not classifier.encoder.quantized))


def test_counting_tokens_does_not_load_the_model() -> None:
    encoder = SentenceEncoder()
    assert encoder.count_tokens(["Forget my last message.", "How do I order a card?"]) > 5
    assert encoder._model is None
