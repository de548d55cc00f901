"""Engines behind one async streaming protocol; see :mod:`models.engines.base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.engines.base import (
    ChatMessage,
    ContextLengthExceeded,
    Delta,
    Engine,
    EngineError,
    EngineFailure,
    EngineUnavailable,
    FailureKind,
    GenerateRequest,
    GenerationRequest,
    ModelInfo,
    ResponseFormat,
    Sampling,
    Usage,
)

if TYPE_CHECKING:
    from serving.config import ModelConfig

__all__ = [
    "ChatMessage",
    "ContextLengthExceeded",
    "Delta",
    "Engine",
    "EngineError",
    "EngineFailure",
    "EngineUnavailable",
    "FailureKind",
    "GenerateRequest",
    "GenerationRequest",
    "ModelInfo",
    "ResponseFormat",
    "Sampling",
    "Usage",
    "create_engine",
]


def create_engine(config: ModelConfig) -> Engine:
    """Build (not start) the engine a model version's configuration names."""
    if config.engine == "llamacpp":
        from models.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(
            config.name,
            config.version,
            config.path,
            config.context_length,
            config.threads,
            n_gpu_layers=-1 if config.num_gpus > 0 else 0,
        )
    if config.engine == "transformers":
        from models.engines.transformers import TransformersEngine

        return TransformersEngine(
            config.name,
            config.version,
            config.path,
            config.context_length,
            config.device,
            config.threads,
        )
    if config.engine == "openai":
        from models.engines.openai import OpenAIEngine

        assert config.upstream is not None  # validated with the configuration
        return OpenAIEngine(config.name, config.version, config.upstream, config.context_length)
    from models.engines.vllm import VLLMEngine

    return VLLMEngine(
        config.name,
        config.version,
        config.path,
        config.context_length,
        config.gpu_memory_utilization,
        config.quantization,
        tensor_parallel_size=max(1, int(config.num_gpus)),
    )
