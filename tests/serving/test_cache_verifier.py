"""The semantic cache's pair verifier and its in-process embedding: signatures keep no words,
a swapped slot is refused, entries without a signature are never served by the verifier, and
the ingress embedding is the guard's vector (reused, not computed again) and the embedder
deployment's."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from policies.guardrails.classifier import load_classifier
from serving.semantic_cache import CacheSettings
from serving.semantic_cache.cache import SemanticCache
from serving.semantic_cache.terms import is_edit, terms
from serving.semantic_cache.verify import load_verifier, signature
from tests.serving.test_cache import replicas, where  # noqa: F401 (fixtures)

ADULT = "What is the maximum daily dose of paracetamol for an adult?"
CHILD = "What is the maximum daily dose of paracetamol for a child?"
CREDIT = "What is the daily ATM withdrawal limit on my credit card?"
DEBIT = "What is the daily ATM withdrawal limit on my debit card?"


def _terms(text: str) -> tuple[str, ...]:
    return terms(text) + signature(text)


def test_a_signature_keeps_digests_and_classes_only():
    sig = signature("Remind [PERSON_1] about the flu vaccine on 3 May, not in June")
    assert sig and all(re.fullmatch(r"[0-9a-f]{10}[A-Z][a-z-]", t) for t in sig)
    joined = "".join(sig).lower()
    for word in ("remind", "person", "flu", "vaccine", "may", "june"):
        assert word not in joined
    # the edit guard reads only the word digests, the verifier only the signature
    assert not is_edit(_terms(ADULT), _terms(ADULT), 2, 0.4)
    assert is_edit(_terms(CHILD), _terms(ADULT), 2, 0.4)


def test_the_verifier_refuses_a_swapped_slot_and_accepts_the_same_question():
    verifier = load_verifier()
    assert verifier.probability(_terms(ADULT), _terms(ADULT), 1.0) >= verifier.threshold
    # cosine of these pairs with the bundled MiniLM is about 0.94-0.96
    assert verifier.probability(_terms(CHILD), _terms(ADULT), 0.95) < verifier.threshold
    assert verifier.probability(_terms(DEBIT), _terms(CREDIT), 0.96) < verifier.threshold


def test_an_entry_without_a_signature_is_never_served_by_the_verifier():
    verifier = load_verifier()
    assert verifier.probability(_terms(ADULT), terms(ADULT), 1.0) == 0.0


def test_the_ingress_embedding_reuses_the_guards_vector(aio, monkeypatch):
    cache = SemanticCache(None, None, None, CacheSettings())  # type: ignore[arg-type]
    encoder = cache.encoder
    assert encoder is load_classifier().encoder  # the injection guard's encoder
    text = "What   is a normal resting\nheart rate for adults, [PERSON_1]?"
    guard = encoder.encode([" ".join(text.split())])[0]  # as the input guard screens it

    def no_forward(texts: list[str]) -> Any:
        raise AssertionError("embedded again")

    monkeypatch.setattr(encoder, "_forward", no_forward)
    for vector in (cache._embed_here(text), aio.run(cache.embed(text))):
        assert vector is not None and np.array_equal(vector, guard)


def test_a_question_longer_than_the_encoders_window_is_not_cached(aio):
    cache = SemanticCache(None, None, None, CacheSettings())  # type: ignore[arg-type]
    text = "word " * 300
    cache.encoder.encode([text.strip()])  # even when the encoder remembers it (truncated)
    assert cache._embed_here(text) is None
    assert aio.run(cache.embed(text)) is None


def test_ingress_and_deployment_embeddings_agree(embedder):
    """The same model and pooling (int8 layers, when the guard uses them, move it a little)."""
    cache = SemanticCache(None, embedder, None, CacheSettings())  # type: ignore[arg-type]
    here = cache._embed_here(ADULT)
    there = np.asarray(embedder.embed([ADULT])[0], dtype=np.float32)
    assert here is not None
    assert float(here @ there) > (0.97 if getattr(cache.encoder, "quantized", False) else 0.999)


@pytest.mark.parametrize("settings", [CacheSettings(verifier=True)], ids=["verifier"])
def test_the_verifier_in_the_pipeline(replicas, settings):  # noqa: F811
    node = replicas(settings)
    key = node.key("clinic")
    first = node.chat(key, ADULT)
    again = node.chat(key, ADULT)
    child = node.chat(key, CHILD)
    assert first.headers["x-bastion-cache"] == "miss"
    assert again.headers["x-bastion-cache"] == "hit"
    assert child.headers["x-bastion-cache"] == "miss"
