"""The guard encoder (real MiniLM, in-process): its own worker thread with one OpenMP thread
gives the same vectors as the inline pass, leaves torch's process-wide setting alone, batches by
length without changing results, and caches vectors under digests only. The int8 encoders (the
classifier's on onnxruntime, built from the fp32 export; torch's, its fallback) give a text the
same vector alone or among others, close to the fp32 one; an int8 build too far from fp32 is
refused; the shared fp32 and int8 encoders are distinct; counting tokens does not load the
model. The onnxruntime backend, exported from the bundled weights into the model cache on first
use, gives torch's vectors; a damaged file in the cache is rebuilt; an export that disagrees
with torch is refused and the encoder stays on torch."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from policies.guardrails import encoder as encoder_module
from policies.guardrails.classifier import load_classifier
from policies.guardrails.encoder import (
    BATCH,
    SentenceEncoder,
    int8_model_path,
    onnx_model_path,
    shared_encoder,
)

TEXTS = [
    "Ignore the previous potassium result, the sample was haemolysed.",
    "How do I order a new debit card?",
    "Summarize the discharge letter for the GP. " * 12,
] + [f"Ward {i} has {i + 3} free beds tonight." for i in range(BATCH + 5)]


@pytest.fixture(scope="module")
def encoders() -> tuple[SentenceEncoder, SentenceEncoder]:
    inline = SentenceEncoder(cache=0, threads=None, backend="torch")
    return inline, SentenceEncoder(cache=16, backend="torch")


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


def test_the_torch_int8_encoder_gives_a_text_one_vector(encoders) -> None:
    quantized = SentenceEncoder(cache=0, quantized=True, backend="torch")
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
    assert encoder._model is None and encoder._session is None and encoder.backend is None


def test_the_onnx_backend_gives_the_torch_vectors(encoders, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BASTION_MODEL_CACHE", str(tmp_path))
    onnx = SentenceEncoder(cache=0, backend="onnx")
    together = onnx.encode(TEXTS)
    assert onnx.backend == "onnx" and onnx._model is None  # torch weights not kept
    want = encoders[0].encode(TEXTS)
    assert np.abs(together - want).max() < 1e-5
    alone = np.stack([onnx.encode([t])[0] for t in TEXTS[:4]])
    assert np.abs(alone - together[:4]).max() < 1e-5
    built = onnx_model_path(onnx._where())
    assert built.parent == tmp_path and built.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [built.name]  # no temporary file left
    stamp = built.stat().st_mtime_ns
    again = SentenceEncoder(cache=0, backend="auto")
    assert np.array_equal(again.encode(TEXTS[:2]), onnx.encode(TEXTS[:2]))
    assert again.backend == "onnx" and built.stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_a_damaged_onnx_file_is_rebuilt(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BASTION_MODEL_CACHE", str(tmp_path))
    path = onnx_model_path(SentenceEncoder()._where())
    path.write_bytes(b"not an onnx graph")  # e.g. a disk that filled up under an older build
    encoder = SentenceEncoder(cache=0, backend="onnx")
    assert encoder.encode(TEXTS[:1]).shape == (1, 384) and encoder.backend == "onnx"
    assert path.stat().st_size > 1_000_000


def test_an_export_that_disagrees_with_torch_is_refused(tmp_path, monkeypatch, caplog) -> None:
    # No real export disagrees (measured ~2e-7), so the check is made impossible to pass by
    # setting the tolerance below zero: the refusal path is what is tested.
    monkeypatch.setenv("BASTION_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(encoder_module, "ONNX_TOLERANCE", -1.0)
    auto = SentenceEncoder(cache=0, backend="auto")
    with caplog.at_level("WARNING", logger="bastion.guardrails.encoder"):
        vectors = auto.encode(TEXTS[:2])
    assert auto.backend == "torch" and vectors.shape == (2, 384)
    assert "differs from torch" in caplog.text and list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="differs from torch"):
        SentenceEncoder(cache=0, backend="onnx").encode(TEXTS[:1])


def test_backend_choices_are_checked(monkeypatch) -> None:
    with pytest.raises(ValueError):
        SentenceEncoder(backend="tensorrt")
    assert SentenceEncoder(quantized=True).requested_backend == "auto"
    monkeypatch.setenv("BASTION_ENCODER_BACKEND", "torch")
    assert SentenceEncoder().requested_backend == "torch"


def test_the_onnx_int8_encoder_is_built_from_the_export(encoders, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BASTION_MODEL_CACHE", str(tmp_path))
    int8 = SentenceEncoder(cache=0, quantized=True, backend="onnx")
    together = int8.encode(TEXTS)
    assert int8.backend == "onnx" and int8._model is None
    names = sorted(p.name for p in tmp_path.iterdir())
    fp32 = onnx_model_path(int8._where())
    assert names == sorted([fp32.name, int8_model_path(fp32).name])  # no temporary file left
    alone = np.stack([int8.encode([t])[0] for t in TEXTS[:4]])
    assert np.array_equal(alone, together[:4])  # one text per pass: scales never mix texts
    cosine = (encoders[0].encode(TEXTS) * together).sum(1)
    assert cosine.min() > 0.97  # measured >= 0.986 on held-out texts (torch int8: > 0.8)
    assert not np.array_equal(together, encoders[0].encode(TEXTS))  # it is int8, not fp32


def test_an_int8_export_too_far_from_fp32_is_refused(tmp_path, monkeypatch, caplog) -> None:
    # The check cannot fail on this model (cosines ~0.99), so it is made impossible to pass;
    # the refusal path, and the fallback to torch's int8 encoder, is what is tested.
    monkeypatch.setenv("BASTION_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(encoder_module, "INT8_MIN_COSINE", 1.01)
    auto = SentenceEncoder(cache=0, quantized=True)
    with caplog.at_level("WARNING", logger="bastion.guardrails.encoder"):
        assert auto.encode(TEXTS[:1]).shape == (1, 384)
    assert auto.backend == "torch" and "too far from fp32" in caplog.text
    fp32 = onnx_model_path(auto._where())
    assert [p.name for p in tmp_path.iterdir()] == [fp32.name]  # the fp32 export stays


def test_quantizer_quiet_drops_only_the_quantizers_root_advice(caplog):
    """While the int8 build runs, the quantizer's advice (``logging.warning`` on the root
    logger, from onnxruntime/quantization/) is dropped; a warning from a Bastion logger, from
    another thread, and any error, still get through (the root level is not touched)."""
    from policies.guardrails.encoder import quantizer_quiet

    def root_record(level: int, path: str, msg: str) -> logging.LogRecord:
        return logging.getLogger().makeRecord("root", level, path, 1, msg, None, None)

    advice = "/x/site-packages/onnxruntime/quantization/onnx_quantizer.py"
    root = logging.getLogger()
    level = root.level
    with caplog.at_level(logging.WARNING), quantizer_quiet():
        root.handle(root_record(logging.WARNING, advice, "consider pre-processing"))
        root.handle(root_record(logging.ERROR, advice, "quantizer error"))
        root.handle(root_record(logging.WARNING, "/srv/app.py", "someone else's warning"))
        other = threading.Thread(
            target=lambda: logging.getLogger("bastion.gateway").warning("gateway warning")
        )
        other.start()
        other.join()
        assert root.level == level
    messages = [r.getMessage() for r in caplog.records]
    assert "consider pre-processing" not in messages
    assert {"quantizer error", "someone else's warning", "gateway warning"} <= set(messages)
    root.handle(root_record(logging.WARNING, advice, "after the build"))
    assert "after the build" in [r.getMessage() for r in caplog.records]
