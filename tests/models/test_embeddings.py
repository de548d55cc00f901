"""The bundled all-MiniLM-L6-v2 embedding model, loaded offline from site-packages."""

import math

from models.engines.base import FailureKind


def test_embeddings_are_normalized_and_semantic(embedder):
    texts = [
        "The patient has a fever.",
        "The patient is febrile.",
        "Wire transfer to a savings account.",
    ]
    vecs = embedder.embed(texts)
    assert len(vecs) == 3 and all(len(v) == 384 for v in vecs)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-4 for v in vecs)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]) + 0.2


def test_request_reports_prompt_tokens(aio, embedder):
    texts = ["The patient has a fever.", "Wire transfer."]
    result = aio.run(embedder.embed_request(texts))
    assert result.prompt_tokens == sum(embedder.count_tokens(texts)) > 4
    assert len(result.vectors) == 2


def test_too_long_input_is_reported_not_truncated(embedder):
    _, failure = embedder.check_lengths(["short", "word " * 600])
    assert failure is not None and failure.kind is FailureKind.CONTEXT_LENGTH
    assert embedder.check_lengths(["short"])[1] is None
