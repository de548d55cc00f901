"""Per-tenant guardrail settings: ``tenants[].guardrails`` in the policy documents.

A tenant that sets nothing gets the defaults: injection screening on, action ``block`` at the
shipped threshold (policies/guardrails/meta.json), no limits beyond the server's, no blocked
topics, system-prompt leakage blocked, no blocked output content.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Action",
    "BlockedOutput",
    "BlockedTopics",
    "GuardrailSettings",
    "InjectionSettings",
    "LeakageAction",
    "LeakageSettings",
    "Limits",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Action(StrEnum):
    """What a positive verdict does: stop the request (400), record it, or nothing."""

    BLOCK = "block"
    FLAG = "flag"
    ALLOW = "allow"


class LeakageAction(StrEnum):
    BLOCK = "block"  # stop the answer (a stream ends with one error event and [DONE])
    REDACT = "redact"  # replace the repeated span with [SYSTEM_PROMPT_REDACTED]
    ALLOW = "allow"  # no check


class InjectionSettings(_Strict):
    """Prompt-injection screening of user messages, tool results and content parts."""

    action: Action = Field(
        Action.BLOCK,
        description="block: 400 prompt_injection; flag: recorded in the audit record only; "
        "allow: screening off.",
    )
    threshold: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Score at or above which a text is an injection; unset: the shipped "
        "threshold (meta.json). A rule match scores 1.0.",
    )
    rules: bool = Field(True, description="Apply the pattern rules as well as the classifier.")


class Limits(_Strict):
    """Size limits, checked before the model is called (400 limit_exceeded)."""

    max_prompt_tokens: int | None = Field(
        None,
        ge=1,
        description="Most prompt tokens (all messages), counted with the guard's WordPiece "
        "tokenizer (an estimate of the model's count).",
    )
    max_messages: int | None = Field(None, ge=1, description="Most messages in a chat request.")
    max_body_bytes: int | None = Field(
        None, ge=1, description="Largest request, as its JSON serialization in UTF-8 bytes."
    )


class BlockedTopics(_Strict):
    """Topics a tenant's applications must not be asked about (400 blocked_topic)."""

    phrases: tuple[str, ...] = Field(
        (),
        description="Phrases matched case-insensitively on word boundaries in user messages.",
    )
    examples: tuple[str, ...] = Field(
        (),
        description="Example requests; a message whose sentence embedding is at least "
        "`similarity` (cosine) to one of them is on a blocked topic.",
    )
    similarity: float = Field(0.6, gt=0.0, le=1.0, description="Cosine similarity threshold.")
    action: Action = Field(Action.BLOCK, description="block, flag or allow.")

    @field_validator("phrases", "examples")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() or len(item) > 1000 for item in value):
            raise ValueError("entries must be non-blank and at most 1000 characters")
        return value


class LeakageSettings(_Strict):
    """The answer repeats a long enough span of the request's system prompt."""

    action: LeakageAction = Field(LeakageAction.BLOCK, description="block, redact or allow.")
    min_words: int = Field(
        8, ge=3, le=64, description="Consecutive words of the system prompt that count as a leak."
    )


class BlockedOutput(_Strict):
    """Content the answer must not contain: phrases or regular expressions (a stream ends)."""

    phrases: tuple[str, ...] = Field(
        (), description="Phrases matched case-insensitively in the answer."
    )
    patterns: tuple[str, ...] = Field(
        (), description="Python regular expressions, matched case-insensitively."
    )
    hold_back_chars: int = Field(
        128,
        ge=16,
        le=4096,
        description="Characters a stream holds back so a match is caught before it is sent; "
        "a phrase longer than this raises it to the phrase's length. A pattern match longer "
        "than the window may be partly sent before the stream stops.",
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc.msg})") from None
        return value

    @field_validator("phrases")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() or len(item) > 1000 for item in value):
            raise ValueError("phrases must be non-blank and at most 1000 characters")
        return value


class GuardrailSettings(_Strict):
    """One tenant's guardrails; every part has safe defaults."""

    injection: InjectionSettings = Field(default_factory=InjectionSettings)
    limits: Limits = Field(default_factory=Limits)
    topics: BlockedTopics = Field(default_factory=BlockedTopics)
    leakage: LeakageSettings = Field(default_factory=LeakageSettings)
    blocked_output: BlockedOutput = Field(default_factory=BlockedOutput)
