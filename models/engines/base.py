"""The engine protocol every model runtime implements.

An engine owns one loaded model. The serving layer talks to it only through :class:`Engine`:
``start`` once, then ``prompt_for`` / ``count_tokens`` to prepare a request and ``generate`` to
stream text. Engines are plain classes; Ray deployments wrap them (models/deployment.py).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ContextLengthExceeded",
    "Delta",
    "Engine",
    "EngineError",
    "EngineUnavailable",
    "GenerationRequest",
    "ModelInfo",
    "Usage",
]


class EngineError(Exception):
    """Generation failed inside the engine. The message MUST NOT contain prompt text."""


class EngineUnavailable(EngineError):
    """The engine cannot run here (missing package, no GPU, weights not found)."""


class ContextLengthExceeded(EngineError):
    """The prompt plus the requested completion does not fit the context window."""

    def __init__(self, context_length: int, prompt_tokens: int, max_tokens: int) -> None:
        self.context_length = context_length
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        super().__init__(
            f"This model's maximum context length is {context_length} tokens. However, you "
            f"requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the prompt, "
            f"{max_tokens} for the completion). Shorten the prompt or lower max_tokens."
        )


@dataclass(frozen=True)
class GenerationRequest:
    """One generation, already rendered to a prompt string (chat templates applied)."""

    prompt: str
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Delta:
    """A piece of generated text. The last delta of a stream has ``finish_reason`` and ``usage``."""

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    engine: str
    context_length: int
    metadata: dict[str, Any] = field(default_factory=dict)


class Engine(abc.ABC):
    """An adapter around one model runtime.

    Contract:
    - ``start`` loads weights from a local path only; nothing is downloaded.
    - ``generate`` yields :class:`Delta` objects whose texts concatenate to the completion; the
      final delta (possibly with empty text) carries ``finish_reason`` ("stop" or "length") and
      ``usage``. Closing the iterator early (client gone) MUST stop generation promptly and free
      the engine for the next request.
    - ``generate`` raises :class:`ContextLengthExceeded` before producing anything when the
      prompt plus ``max_tokens`` exceeds the context window.
    - Errors are :class:`EngineError` subclasses whose messages contain no prompt text.
    """

    info: ModelInfo

    @abc.abstractmethod
    async def start(self) -> None:
        """Load the model. Idempotent."""

    @abc.abstractmethod
    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """Apply the model's own chat template, ending with the assistant turn's opening."""

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (the way ``generate`` will encode it)."""

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Stream the completion of ``request.prompt`` (see the class contract)."""

    async def check_health(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`EngineError` when the engine cannot serve."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model's memory."""

    def check_context(self, prompt_tokens: int, max_tokens: int) -> None:
        if prompt_tokens + max_tokens > self.info.context_length:
            raise ContextLengthExceeded(self.info.context_length, prompt_tokens, max_tokens)
