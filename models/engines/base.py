"""The engine protocol every model runtime implements, and the typed wire around it.

An engine owns one loaded model. The serving layer talks to it only through :class:`Engine`:
``start`` once, then ``chat(messages, sampling)`` or ``complete(prompt, sampling)`` to stream
:class:`Delta` objects. Engines are plain classes; Ray deployments wrap them
(models/deployment.py).

The wire between the ingress and a model server is made of the frozen, picklable dataclasses
below (:class:`GenerateRequest` in, :class:`Delta` or :class:`EngineFailure` out): no untyped
dicts, no string kinds.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "Background",
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


# -- the wire ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn as an engine sees it (``developer`` is sent as ``system``)."""

    role: Literal["system", "user", "assistant"]
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ResponseFormat:
    """What shape the answer must take. ``schema`` is a JSON Schema as JSON text (kept as text
    so the wire stays hashable and picklable); engines that cannot enforce a format MUST refuse
    anything but ``text`` rather than ignore it."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: str | None = None  # json_schema only
    name: str | None = None  # json_schema only: the schema's name (OpenAI ``json_schema.name``)
    strict: bool = False  # json_schema only: the client asked for strict adherence

    @property
    def structured(self) -> bool:
        """The answer must be JSON (an object, or an instance of ``schema``)."""
        return self.type != "text"


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters. ``max_tokens=None``: as many as fit, up to the server's default."""

    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: ResponseFormat = field(default_factory=ResponseFormat)


@dataclass(frozen=True)
class Background:
    """Marks a generation as background work (a Batch API line): it yields to the interactive
    work in flight on its model server (before it starts and, where the engine can, between
    tokens), for at most ``max_wait_s`` seconds in all; then it runs to its end like any other
    (models/engines/priority.py)."""

    max_wait_s: float = 30.0


@dataclass(frozen=True)
class GenerateRequest:
    """One generation sent to a model server: chat ``messages`` or a plain ``prompt`` (exactly
    one), already redacted. ``request_id`` is Bastion's id, for the replica's log lines;
    ``background`` marks a lower-priority generation (None: interactive)."""

    request_id: str
    sampling: Sampling
    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    background: Background | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a GenerateRequest has either messages or a prompt")


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


class FailureKind(StrEnum):
    CONTEXT_LENGTH = "context_length"  # the request does not fit (→ 400)
    INVALID_MESSAGES = "invalid_messages"  # the chat template refused the messages (→ 400)
    UNAVAILABLE = "unavailable"  # the engine cannot serve (→ 503)
    ENGINE = "engine"  # generation failed (→ 503)


@dataclass(frozen=True)
class EngineFailure:
    """An engine error as it crosses the wire (exception classes are not sent between
    processes). ``message`` contains no prompt text."""

    kind: FailureKind
    message: str


# -- engines ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationRequest:
    """One generation, already rendered to a prompt string (chat templates applied) and with
    its token budget resolved: what :meth:`Engine.generate` runs."""

    prompt: str
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: ResponseFormat = field(default_factory=ResponseFormat)


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
    - ``chat(messages, sampling)`` renders the model's own chat template (the way transformers'
      ``apply_chat_template`` does) and streams the answer; ``complete(prompt, sampling)``
      streams the continuation of a plain prompt. Engines that talk to a server taking chat
      messages directly override ``chat``.
    - Streams yield :class:`Delta` objects whose texts concatenate to the completion; the
      final delta (possibly with empty text) carries ``finish_reason`` ("stop" or "length") and
      ``usage``. Closing the iterator early (client gone) MUST stop generation promptly and free
      the engine for the next request.
    - :class:`ContextLengthExceeded` is raised before anything is produced when the prompt plus
      ``max_tokens`` exceeds the context window.
    - Errors are :class:`EngineError` subclasses whose messages contain no prompt text.
    - ``sampling.response_format`` other than ``text`` raises :class:`EngineError` unless the
      engine enforces it (``enforces_formats``: constrained decoding, models/engines/constrain.py).
      Enforcing engines MUST constrain every token of the answer to the format; the serving
      layer still validates the result (serving/pipeline/structured.py).
    """

    info: ModelInfo
    enforces_formats: bool = False  # constrains decoding to ``response_format``
    default_max_tokens: int = 256  # when ``sampling.max_tokens`` is None (the server sets it)

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
        """Stream the completion of an already rendered ``request.prompt``."""

    def chat(self, messages: tuple[ChatMessage, ...], sampling: Sampling) -> AsyncIterator[Delta]:
        """Stream the assistant's answer to ``messages`` (see the class contract)."""
        return self.complete(self.render_chat([m.as_dict() for m in messages]), sampling)

    def complete(self, prompt: str, sampling: Sampling) -> AsyncIterator[Delta]:
        """Stream the continuation of ``prompt`` (see the class contract)."""
        if sampling.response_format.structured and not self.enforces_formats:
            raise EngineError(f"response_format {sampling.response_format.type} is not supported")
        max_tokens = sampling.max_tokens
        if max_tokens is None:
            room = self.info.context_length - self.count_tokens(prompt)
            max_tokens = max(1, min(self.default_max_tokens, room))
        return self.generate(
            GenerationRequest(
                prompt,
                max_tokens,
                sampling.temperature,
                sampling.top_p,
                sampling.stop,
                sampling.seed,
                sampling.response_format,
            )
        )

    async def check_health(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`EngineError` when the engine cannot serve."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model's memory."""

    def check_context(self, prompt_tokens: int, max_tokens: int) -> None:
        if prompt_tokens + max_tokens > self.info.context_length:
            raise ContextLengthExceeded(self.info.context_length, prompt_tokens, max_tokens)
