"""Privacy configuration: what to detect, how to replace it, and limits. Per tenant overrides."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from privacy.entities import ENTITY_TYPES

__all__ = [
    "EffectivePrivacyConfig",
    "Operator",
    "PrivacyConfig",
    "TenantPrivacyConfig",
    "resolve_salt",
]


class Operator(StrEnum):
    """How a detected identifier is replaced."""

    PLACEHOLDER = "placeholder"  # reversible: [PERSON_1], restored in the answer
    MASK = "mask"  # irreversible: every character replaced by '*'
    HASH = "hash"  # irreversible: [PERSON_3f9a0c12e4b7], HMAC-SHA256 with the tenant's salt


def _check_entities(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = sorted(set(value) - set(ENTITY_TYPES))
    if unknown:
        raise ValueError(f"unknown entity types {unknown}; known: {list(ENTITY_TYPES)}")
    return value


def _check_salt_ref(value: str | None) -> str | None:
    if value is not None and not value.startswith(("env:", "file:")):
        raise ValueError("hash_salt_ref must be 'env:VARIABLE' or 'file:/path/to/secret'")
    return value


class TenantPrivacyConfig(BaseModel):
    """Overrides for one tenant; unset fields inherit the global value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: list[str] | None = Field(
        default=None,
        description="Entity types to detect for this tenant (replaces the global list).",
    )
    score_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Minimum detection score for this tenant."
    )
    allow_list: list[str] = Field(
        default_factory=list,
        description="Extra terms never redacted for this tenant (added to the global allow-list), "
        "e.g. the hospital's own name.",
    )
    operator: Operator | None = Field(default=None, description="Replacement operator.")
    hash_salt_ref: str | None = Field(
        default=None, description="Where the tenant's hash salt is read: 'env:VAR' or 'file:/path'."
    )
    fail_closed: bool | None = Field(
        default=None, description="Fail the request when detection fails (default true)."
    )
    output_redaction: bool | None = Field(
        default=None,
        description="Redact identifiers the model produced that were not in the request "
        "(default true).",
    )

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: list[str] | None) -> list[str] | None:
        return _check_entities(value)

    @field_validator("hash_salt_ref")
    @classmethod
    def _salt_ref_form(cls, value: str | None) -> str | None:
        return _check_salt_ref(value)


class EffectivePrivacyConfig(BaseModel):
    """The configuration that applies to one tenant, global values merged with its overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: frozenset[str]
    score_threshold: float
    allow_list: tuple[str, ...]
    operator: Operator
    hash_salt_ref: str | None
    fail_closed: bool
    output_redaction: bool = True


class PrivacyConfig(BaseModel):
    """Detection and pseudonymization settings (the ``privacy:`` section of Bastion's YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: list[str] = Field(
        default_factory=lambda: list(ENTITY_TYPES),
        description="Entity types to detect; see docs/privacy.md for the list.",
    )
    score_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Minimum detection score for an entity to count."
    )
    allow_list: list[str] = Field(
        default_factory=list,
        description="Terms never redacted (case-insensitive, whole phrase), e.g. a hospital name.",
    )
    operator: Operator = Field(default=Operator.PLACEHOLDER, description="Replacement operator.")
    hash_salt_ref: str | None = Field(
        default=None,
        description="Where the hash salt is read for operator 'hash': 'env:VAR' or 'file:/path'. "
        "The salt itself never appears in configuration.",
    )
    fail_closed: bool = Field(
        default=True,
        description="When detection fails (error, timeout), raise RedactionError so nothing "
        "reaches the model. When false, fall back to pattern-only detection (no NER).",
    )
    output_redaction: bool = Field(
        default=True,
        description="Scan the model's answers (whole and streamed) for identifiers that were "
        "not in the request and replace them with markers that are never restored, "
        "e.g. [PERSON_REDACTED]. Per-tenant override in tenants.<id>.output_redaction.",
    )
    max_input_chars: int = Field(
        default=1_000_000, gt=0, description="Largest total input (all messages) accepted."
    )
    timeout_s: float = Field(
        default=10.0, gt=0, description="Deadline for detecting one request (all messages)."
    )
    regex_timeout_s: float = Field(
        default=2.0, gt=0, description="Deadline for one pattern over one text chunk."
    )
    chunk_chars: int = Field(
        default=8_000,
        ge=1_000,
        description="Long texts are analysed in chunks of about this size (with overlap).",
    )
    learned_detector: bool | None = Field(
        default=None,
        description="Run the trained token classifier (privacy/recognizers/learned.py) beside "
        "the patterns, the lexicon and spaCy; its spans are added to theirs (union). Default "
        "(unset): on when its weights are installed. true: required (start-up fails without "
        "it). false: off.",
    )
    tenants: dict[str, TenantPrivacyConfig] = Field(
        default_factory=dict, description="Per-tenant overrides keyed by tenant id."
    )

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: list[str] | None) -> list[str] | None:
        return _check_entities(value)

    @field_validator("hash_salt_ref")
    @classmethod
    def _salt_ref_form(cls, value: str | None) -> str | None:
        return _check_salt_ref(value)

    def for_tenant(self, tenant: str) -> EffectivePrivacyConfig:
        """Merge the global settings with ``tenant``'s overrides (unknown tenant: global only)."""
        override = self.tenants.get(tenant) or TenantPrivacyConfig()
        entities = override.entities if override.entities is not None else self.entities
        return EffectivePrivacyConfig(
            entities=frozenset(entities),
            score_threshold=(
                override.score_threshold
                if override.score_threshold is not None
                else self.score_threshold
            ),
            allow_list=tuple(self.allow_list) + tuple(override.allow_list),
            operator=override.operator or self.operator,
            hash_salt_ref=override.hash_salt_ref or self.hash_salt_ref,
            fail_closed=override.fail_closed
            if override.fail_closed is not None
            else self.fail_closed,
            output_redaction=override.output_redaction
            if override.output_redaction is not None
            else self.output_redaction,
        )

    @classmethod
    def from_yaml(cls, path: Path) -> PrivacyConfig:
        """Read the top-level ``privacy:`` section of a YAML file (missing section: defaults)."""
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        return cls.model_validate(data.get("privacy") or {})


def resolve_salt(ref: str | None) -> bytes:
    """Read the hash salt named by ``ref`` ('env:VAR' or 'file:/path'). Raises ValueError."""
    if ref is None:
        raise ValueError("operator 'hash' needs hash_salt_ref")
    kind, _, where = ref.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if not value:
            raise ValueError(f"hash salt environment variable {where!r} is not set")
        return value.encode("utf-8")
    data = Path(where).read_bytes().strip()
    if not data:
        raise ValueError(f"hash salt file {where!r} is empty")
    return data
