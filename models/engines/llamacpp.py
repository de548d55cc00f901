"""llama.cpp engine (llama-cpp-python): quantized GGUF weights on CPU, or offloaded to a GPU."""

from __future__ import annotations

import asyncio
import codecs
import functools
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from models.engines._streaming import StopMatcher, stream_from_thread
from models.engines.base import (
    Background,
    Delta,
    Engine,
    EngineError,
    EngineUnavailable,
    GenerationRequest,
    ModelInfo,
    Usage,
)
from models.engines.chat_template import render_chat_template
from models.engines.constrain import llama_grammar
from models.engines.ggml_cpu import disable_extra_buffer_types
from models.engines.priority import BACKGROUND, GATE
from models.weights import resolve_model_path

__all__ = ["LlamaCppEngine"]

# Prompt tokens a background generation evaluates between two looks at the priority gate: an
# interactive request waits for at most one chunk. On the 2-core test VM with the bundled 135M
# model a 4-token chunk takes ~23 ms (16 tokens: ~60 ms); chunking makes a batch line's prefill
# ~1.6x slower than one pass (bench/batch.py measures the net effect on batch throughput).
PREFILL_CHUNK = 4


class _Progress:
    """What one generation produced so far; carried across a background generation's pauses."""

    def __init__(self, stop: tuple[str, ...]) -> None:
        self.tokens: list[int] = []
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.stops = StopMatcher(stop)
        self.paused = False


class LlamaCppEngine(Engine):
    """One ``llama_cpp.Llama`` instance; generations run one at a time on a private thread.

    llama.cpp contexts are not thread-safe, so requests queue on a single-worker executor; a
    cancelled request leaves the queue at its next token. ``response_format`` is enforced with a
    grammar built from the JSON Schema (models/engines/constrain.py).
    """

    enforces_formats = True

    def __init__(
        self,
        name: str,
        version: str = "v1",
        path: str | None = None,
        context_length: int = 2048,
        threads: int | None = None,
        n_gpu_layers: int = 0,
    ) -> None:
        self._path = path
        # Default: leave one core to the server around the engine (HTTP, Ray, redaction), whose
        # processes otherwise take CPU from llama.cpp's threads (bench/serving.py; on a 2-core
        # host two threads still serve more, see the README's performance section).
        self._threads = threads or max(1, min((os.cpu_count() or 2) - 1, 8))
        self._gpu_layers = n_gpu_layers
        self._llm: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{name}")
        self._start_lock = asyncio.Lock()
        self.tokens_generated = 0  # lifetime total; shows that cancelled requests stop early
        self.pauses = 0  # background generations paused for interactive work (lifetime)
        self.info = ModelInfo(name, version, "llamacpp", context_length)

    async def start(self) -> None:
        async with self._start_lock:
            if self._llm is not None:
                return
            path = resolve_model_path(self._path)
            loop = asyncio.get_running_loop()
            self._llm = await loop.run_in_executor(self._executor, self._load, str(path))
            meta = self._llm.metadata
            self._template = meta.get("tokenizer.chat_template")
            self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "false") == "true"
            self._bos = self._token_text(self._llm.token_bos())
            self._eos = self._token_text(self._llm.token_eos())
            self.info = ModelInfo(
                self.info.name,
                self.info.version,
                "llamacpp",
                self.info.context_length,
                {"architecture": meta.get("general.architecture"), "file": path.name},
            )

    def _load(self, path: str) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise EngineUnavailable("llama-cpp-python is not installed (extra [cpu])") from exc
        disable_extra_buffer_types()  # llama.cpp's AMX buffers crash on Xeon: ggml_cpu.py
        return Llama(
            model_path=path,
            n_ctx=self.info.context_length,
            n_threads=self._threads,
            n_threads_batch=self._threads,
            n_gpu_layers=self._gpu_layers,
            verbose=False,
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def _require(self) -> Any:
        if self._llm is None:
            raise EngineUnavailable("engine not started")
        return self._llm

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        self._require()
        return render_chat_template(self._template, messages, self._bos, self._eos)

    def _tokens(self, text: str) -> list[int]:
        return self._require().tokenize(text.encode("utf-8"), add_bos=self._add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    def generate(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        llm = self._require()
        prompt = self._tokens(request.prompt)
        self.check_context(len(prompt), request.max_tokens)
        background = BACKGROUND.get()
        if background is not None:
            return self._background(llm, prompt, request, background)
        progress = _Progress(request.stop)
        return stream_from_thread(
            self._executor, lambda cancel: self._run(llm, prompt, request, cancel, progress)
        )

    async def _background(
        self, llm: Any, prompt: list[int], request: GenerationRequest, background: Background
    ) -> AsyncIterator[Delta]:
        """A background generation (models/engines/priority.py): run in segments on the
        engine's thread; a segment ends after its current token (or prefill chunk) once
        interactive work is in flight, and the next one starts when none is, from the prompt
        plus the tokens generated so far (the llama.cpp cache keeps the common prefix). At most
        ``background.max_wait_s`` spent waiting in all; then it runs to its end. A structured
        answer pauses only before its first token (its grammar state is not carried over)."""
        progress = _Progress(request.stop)
        left = background.max_wait_s
        while True:
            if left > 0 and GATE.busy():
                left -= await GATE.wait_idle_async(left)
            pausable = left > 0 and not (request.response_format.structured and progress.tokens)
            pause = GATE.busy if pausable else None
            progress.paused = False
            segment = functools.partial(self._run, llm, prompt, request, progress=progress)
            async for delta in stream_from_thread(
                self._executor, lambda cancel, run=segment, p=pause: run(cancel, pause=p)
            ):
                yield delta
            if not progress.paused:
                return

    def _prefill(self, llm: Any, tokens: list[int], pause: Callable[[], bool]) -> bool:
        """Evaluate all but the last of ``tokens`` in chunks, keeping the prefix the context
        already holds; False as soon as ``pause()`` says to give the engine up."""
        head = tokens[:-1]
        cached = 0
        for held, wanted in zip(llm.input_ids[: llm.n_tokens].tolist(), head, strict=False):
            if held != wanted:
                break
            cached += 1
        if cached == 0:
            llm.reset()
        else:
            llm.n_tokens = cached  # eval() drops the cache past n_tokens before decoding
        for start in range(cached, len(head), PREFILL_CHUNK):
            if pause():
                return False
            llm.eval(head[start : start + PREFILL_CHUNK])
        return True

    def _run(
        self,
        llm: Any,
        prompt: list[int],
        request: GenerationRequest,
        cancel: threading.Event,
        progress: _Progress,
        pause: Callable[[], bool] | None = None,
    ) -> Iterator[Delta]:
        import llama_cpp

        if request.seed is not None and not progress.tokens:
            llm.set_seed(request.seed)
        context = prompt + progress.tokens  # a resumed background generation: what it had
        finish, cut = "length", False
        try:
            if pause is not None and not self._prefill(llm, context, pause):
                progress.paused = True
                self.pauses += 1
                return
            grammar = llama_grammar(request.response_format)
            tokens = llm.generate(
                context,
                temp=request.temperature,
                top_p=request.top_p,
                top_k=0 if request.temperature > 0 else 1,
                min_p=0.0,
                repeat_penalty=1.0,
                reset=True,
                grammar=grammar,
            )
            for token in tokens:
                if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                    finish = "stop"
                    break
                progress.tokens.append(token)
                self.tokens_generated += 1
                text, cut = progress.stops.feed(progress.decoder.decode(llm.detokenize([token])))
                if text:
                    yield Delta(text)
                if cut:
                    finish = "stop"
                    break
                if len(progress.tokens) >= request.max_tokens or cancel.is_set():
                    break
                if pause is not None and pause():
                    progress.paused = True
                    self.pauses += 1
                    return
        except Exception as exc:
            raise EngineError(f"llama.cpp generation failed: {type(exc).__name__}") from exc
        tail = ""
        if not cut:
            tail, _ = progress.stops.feed(progress.decoder.decode(b"", final=True))
            tail += progress.stops.flush()
        yield Delta(tail, finish, Usage(len(prompt), len(progress.tokens)))

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._llm = None
