"""The bundled all-MiniLM-L6-v2 embedding model, loaded offline from site-packages."""

import math


def test_embeddings_are_normalized_and_semantic(embedder):
    result = embedder.embed(
        [
            "The patient has a fever.",
            "The patient is febrile.",
            "Wire transfer to a savings account.",
        ]
    )
    vecs = result.vectors
    assert len(vecs) == 3 and all(len(v) == 384 for v in vecs)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-4 for v in vecs)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]) + 0.2
    assert result.prompt_tokens == sum(
        embedder.count_tokens(
            [
                "The patient has a fever.",
                "The patient is febrile.",
                "Wire transfer to a savings account.",
            ]
        )
    )


def test_too_long_input_is_reported_not_truncated(embedder):
    error = embedder.check_lengths(["short", "word " * 600])
    assert error and error["kind"] == "context_length"
    assert embedder.check_lengths(["short"]) is None
