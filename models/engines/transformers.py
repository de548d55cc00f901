"""transformers engine: the reference implementation, on CPU or CUDA.

Loads a Hugging Face model directory, or a GGUF file (dequantized by transformers, which needs the
`gguf` package). Everything comes from local paths; HF_HUB_OFFLINE is forced on.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from models.engines._streaming import StopMatcher, stream_from_thread
from models.engines.base import (
    Delta,
    Engine,
    EngineError,
    EngineUnavailable,
    GenerationRequest,
    ModelInfo,
    Usage,
)
from models.engines.chat_template import render_chat_template
from models.engines.constrain import JsonLogitsProcessor, TokenizerData
from models.weights import resolve_model_path

__all__ = ["TransformersEngine"]


class TransformersEngine(Engine):
    """A causal LM run by ``transformers``; one generation at a time per instance.

    ``response_format`` is enforced by a logits processor (models/engines/constrain.py); its
    view of the vocabulary is built at the first structured request and kept.
    """

    enforces_formats = True

    def __init__(
        self,
        name: str,
        version: str = "v1",
        path: str | None = None,
        context_length: int = 2048,
        device: str = "auto",
        threads: int | None = None,
    ) -> None:
        self._path = path
        self._device_choice = device
        self._threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._vocabulary: TokenizerData | None = None  # for constrained decoding, built lazily
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hf-{name}")
        self._start_lock = asyncio.Lock()
        self.info = ModelInfo(name, version, "transformers", context_length)

    async def start(self) -> None:
        async with self._start_lock:
            if self._model is None:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise EngineUnavailable("torch and transformers are required") from exc
        if self._threads:
            torch.set_num_threads(self._threads)
        device = self._device_choice
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise EngineUnavailable("device 'cuda' requested but no CUDA GPU is available")
        path = resolve_model_path(self._path)
        if path.is_file():  # a GGUF file: transformers dequantizes it
            where, kwargs = str(path.parent), {"gguf_file": path.name}
        else:
            where, kwargs = str(path), {}
        dtype = torch.float16 if device == "cuda" else torch.float32
        self._tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            where, local_files_only=True, torch_dtype=dtype, **kwargs
        )
        self._model = model.to(device).eval()
        self._device = device
        self.info = ModelInfo(
            self.info.name,
            self.info.version,
            "transformers",
            self.info.context_length,
            {"device": device, "file": Path(path).name},
        )

    def _require(self) -> Any:
        if self._model is None:
            raise EngineUnavailable("engine not started")
        return self._model

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        self._require()
        tok = self._tokenizer
        return render_chat_template(
            tok.chat_template, messages, tok.bos_token or "", tok.eos_token or ""
        )

    def count_tokens(self, text: str) -> int:
        self._require()
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        self._require()
        ids = self._tokenizer(request.prompt, add_special_tokens=False)["input_ids"]
        self.check_context(len(ids), request.max_tokens)
        return stream_from_thread(self._executor, lambda cancel: self._run(ids, request, cancel))

    def _run(
        self, ids: list[int], request: GenerationRequest, cancel: threading.Event
    ) -> Iterator[Delta]:
        import torch

        model, tok = self._model, self._tokenizer
        generator = torch.Generator(device=self._device)
        generator.manual_seed(request.seed if request.seed is not None else torch.seed())
        eos = set(_as_list(model.generation_config.eos_token_id) + _as_list(tok.eos_token_id))
        stops = StopMatcher(request.stop)
        produced, finish, cut, emitted = 0, "length", False, ""
        generated: list[int] = []
        past: Any = None
        inputs = torch.tensor([ids], device=self._device)
        try:
            constrain = self._processor(request, sorted(eos))
            with torch.inference_mode():
                while produced < request.max_tokens and not cancel.is_set():
                    out = model(input_ids=inputs, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    logits = out.logits[0, -1]
                    if constrain is not None:
                        logits = constrain(ids + generated, logits)
                    token = _sample(logits, request, generator)
                    if token in eos:
                        finish = "stop"
                        break
                    produced += 1
                    generated.append(token)
                    # Decode the whole tail so multi-token characters come out whole.
                    text = tok.decode(generated, skip_special_tokens=True)
                    if text.endswith("\ufffd"):
                        inputs = torch.tensor([[token]], device=self._device)
                        continue
                    piece, emitted = text[len(emitted) :], text
                    piece, cut = stops.feed(piece)
                    if piece:
                        yield Delta(piece)
                    if cut:
                        finish = "stop"
                        break
                    inputs = torch.tensor([[token]], device=self._device)
        except Exception as exc:
            raise EngineError(f"transformers generation failed: {type(exc).__name__}") from exc
        tail = ""
        if not cut:
            rest = tok.decode(generated, skip_special_tokens=True)[len(emitted) :]
            tail, _ = stops.feed(rest)
            tail += stops.flush()
        yield Delta(tail, finish, Usage(len(ids), produced))

    def _processor(self, request: GenerationRequest, eos: list[int]) -> JsonLogitsProcessor | None:
        if not request.response_format.structured:
            return None
        if self._vocabulary is None:  # on the engine's own thread: one build at a time
            self._vocabulary = TokenizerData(self._tokenizer, eos)
        return JsonLogitsProcessor(self._vocabulary, request.response_format)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [int(value)]


def _sample(logits: Any, request: GenerationRequest, generator: Any) -> int:
    import torch

    if request.temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / request.temperature, dim=-1)
    if request.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < request.top_p
        sorted_probs = sorted_probs * keep
        choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))
