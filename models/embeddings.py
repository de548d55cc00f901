"""Sentence embeddings (bundled all-MiniLM-L6-v2) for /v1/embeddings and the semantic cache."""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass
from typing import Any

from models.engines.base import EngineFailure, EngineUnavailable, FailureKind
from models.weights import bundled_embedding_dir

__all__ = ["Embedded", "Embedder"]


@dataclass(frozen=True)
class Embedded:
    """An embedding request's answer on the wire: one normalized vector per input, in order,
    and the tokens the inputs took (the usage figure)."""

    vectors: list[list[float]]
    prompt_tokens: int


class Embedder:
    """A sentence-transformers model loaded from a local folder, normalized vectors."""

    def __init__(self, name: str = "all-minilm-l6-v2", path: str | None = None) -> None:
        self.name = name
        self._path = path
        self._model: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EngineUnavailable("sentence-transformers is not installed") from exc
            where = self._path or str(bundled_embedding_dir())
            self._model = SentenceTransformer(where, device="cpu", local_files_only=True)

    @property
    def dimensions(self) -> int:
        self.start()
        return int(self._model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        self.start()
        return int(self._model.get_max_seq_length() or 256)

    def count_tokens(self, texts: list[str]) -> list[int]:
        self.start()
        tokenizer = self._model.tokenizer
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]

    def check_lengths(self, texts: list[str]) -> tuple[int, EngineFailure | None]:
        """``(prompt tokens, failure)``: the failure when an input exceeds the model's window —
        the model would silently truncate it."""
        counts = self.count_tokens(texts)
        if max(counts) > self.max_tokens:
            message = f"an input is {max(counts)} tokens; this model accepts {self.max_tokens}"
            return sum(counts), EngineFailure(FailureKind.CONTEXT_LENGTH, message)
        return sum(counts), None

    async def embed_request(self, texts: list[str]) -> Embedded | EngineFailure:
        """In-process twin of the Embedder deployment: checked, off the event loop."""
        tokens, failure = self.check_lengths(texts)
        if failure is not None:
            return failure
        return Embedded(await asyncio.to_thread(self.embed, texts), tokens)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Normalized vectors for ``texts`` (check lengths first: the model truncates)."""
        self.start()
        vectors = self._model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        return vectors.tolist()
