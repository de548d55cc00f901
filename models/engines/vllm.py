"""vLLM engine for production GPUs (continuous batching; AWQ, GPTQ, FP8 and GGUF weights).

vllm is imported only in :meth:`VLLMEngine.start`, so this module loads on machines without it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

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
from models.engines.constrain import vllm_sampling_kwargs
from models.weights import resolve_model_path

__all__ = ["VLLMEngine", "vllm_available"]


def vllm_available() -> tuple[bool, str]:
    """Whether vLLM can run here, and why not."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU on this machine"
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False, "vllm is not installed (extra [gpu])"
    return True, ""


class VLLMEngine(Engine):
    """``vllm.AsyncLLMEngine`` behind the Bastion engine protocol. ``response_format`` is
    enforced by vLLM's structured-output (guided) decoding."""

    enforces_formats = True

    def __init__(
        self,
        name: str,
        version: str = "v1",
        path: str | None = None,
        context_length: int = 4096,
        gpu_memory_utilization: float = 0.85,
        quantization: str | None = None,
        tensor_parallel_size: int = 1,
    ) -> None:
        self._path = path
        self._gpu_memory_utilization = gpu_memory_utilization
        self._quantization = quantization
        self._tp = tensor_parallel_size
        self._engine: Any = None
        self._tokenizer: Any = None
        self._start_lock = asyncio.Lock()
        self.info = ModelInfo(name, version, "vllm", context_length)

    async def start(self) -> None:
        async with self._start_lock:
            if self._engine is not None:
                return
            ok, why = vllm_available()
            if not ok:
                raise EngineUnavailable(f"vLLM engine unavailable: {why}")
            os.environ["HF_HUB_OFFLINE"] = "1"
            from vllm import AsyncEngineArgs, AsyncLLMEngine

            path = resolve_model_path(self._path)
            args = AsyncEngineArgs(
                model=str(path),
                tokenizer=str(path),
                max_model_len=self.info.context_length,
                gpu_memory_utilization=self._gpu_memory_utilization,
                quantization=self._quantization,
                tensor_parallel_size=self._tp,
                disable_log_requests=True,
            )
            self._engine = AsyncLLMEngine.from_engine_args(args)
            self._tokenizer = await self._engine.get_tokenizer()

    def _require(self) -> Any:
        if self._engine is None:
            raise EngineUnavailable("engine not started")
        return self._engine

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        self._require()
        tok = self._tokenizer
        return render_chat_template(
            tok.chat_template, messages, tok.bos_token or "", tok.eos_token or ""
        )

    def count_tokens(self, text: str) -> int:
        self._require()
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def generate(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        engine = self._require()
        ids = self._tokenizer.encode(request.prompt, add_special_tokens=False)
        self.check_context(len(ids), request.max_tokens)
        return self._stream(engine, ids, request)

    async def _stream(
        self, engine: Any, ids: list[int], request: GenerationRequest
    ) -> AsyncIterator[Delta]:
        from vllm import SamplingParams, TokensPrompt
        from vllm import sampling_params as vllm_params

        params = SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=list(request.stop) or None,
            seed=request.seed,
            **vllm_sampling_kwargs(request.response_format, vllm_params),
        )
        request_id = uuid.uuid4().hex
        sent, produced, finish = 0, 0, "length"
        try:
            async for output in engine.generate(
                TokensPrompt(prompt_token_ids=ids), params, request_id
            ):
                choice = output.outputs[0]
                produced = len(choice.token_ids)
                if choice.text[sent:]:
                    yield Delta(choice.text[sent:])
                    sent = len(choice.text)
                if choice.finish_reason:
                    finish = "stop" if choice.finish_reason == "stop" else "length"
        except (asyncio.CancelledError, GeneratorExit):
            await engine.abort(request_id)
            raise
        except Exception as exc:
            raise EngineError(f"vLLM generation failed: {type(exc).__name__}") from exc
        yield Delta("", finish, Usage(len(ids), produced))
