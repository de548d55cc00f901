"""The audit record and its canonical bytes (what the Merkle leaf hashes).

Canonical JSON: keys sorted, no whitespace, UTF-8, absent (None) fields omitted, no floats (cost in
micro-USD and latency in whole milliseconds), time as ``YYYY-MM-DDTHH:MM:SS.mmmZ``. Any verifier in
any language hashes the exported bytes as they are; it never needs to re-serialize.

Invariant: a record MUST NOT carry an identifier (name, MRN, card number, ...). Free-text fields
are constrained to short machine tokens, and entities appear only as counts by type.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

__all__ = [
    "EVENT_TYPES",
    "Actor",
    "AuditRecord",
    "ContentRef",
    "PolicyRef",
    "Resource",
    "Tokens",
    "canonical_json",
    "format_time",
    "parse_time",
]

EVENT_TYPES = (
    "inference.chat",
    "inference.completion",
    "inference.embedding",
    "auth.failed",
    "key.created",
    "key.revoked",
    "policy.reloaded",
    "model.promoted",
    "model.rolled_back",
    "audit.exported",
    "audit.queried",
    "audit.content_shredded",
    "audit.content_read",
    "audit.content_expired",
    "audit.page_viewed",
    "api.models_listed",
    "admin.models_viewed",
    "metrics.scraped",
    "api.openapi_viewed",
    "http.unknown_route",
)

# Short machine tokens only: no spaces or free text, bounded length.
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/+-]{0,127}$")]
UpperToken = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
Count = Annotated[int, Field(ge=0, strict=True)]
NonNegInt = Annotated[int, Field(ge=0, strict=True)]


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def parse_time(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def format_time(t: datetime) -> str:
    if t.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return t.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sorted_dict(v: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if v is None else dict(sorted(v.items()))


class _Model(BaseModel):
    """Fields MUST be declared in alphabetical order: pydantic then emits canonical JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        names = [n for n in cls.__annotations__ if not n.startswith("_")]
        if names != sorted(names):
            raise TypeError(f"{cls.__name__}: declare fields in alphabetical order")


class Actor(_Model):
    key_id: Token | None = Field(None, description="API key id (never the secret).")
    role: Literal["app", "auditor", "admin", "system"] | None = Field(None, description="Role.")
    tenant: Token | None = Field(None, description="Tenant the key belongs to.")


class Resource(_Model):
    model: Token | None = Field(None, description="Model name.")
    site: Token | None = Field(None, description="Site (data residency) where it ran.")
    version: Token | None = Field(None, description="Model version.")


class PolicyRef(_Model):
    outcome: Literal["allow", "deny", "reroute"] | None = Field(None, description="Decision.")
    rule_id: Token | None = Field(None, description="Rule that decided the request.")
    version: Token | None = Field(None, description="Policy document version.")


class Tokens(_Model):
    cached: NonNegInt | None = Field(
        None, description="Prompt tokens served from a cache (absent: none)."
    )
    completion: NonNegInt = Field(0, description="Completion tokens.")
    prompt: NonNegInt = Field(0, description="Prompt tokens.")


class ContentRef(_Model):
    """Commitment to captured content stored outside the leaf (so it can be crypto-shredded)."""

    dek_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="Tenant data key that encrypted it."
    )
    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="Content id (random)."
    )
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of nonce||ciphertext (reveals nothing once the key is destroyed)."
    )


class AuditRecord(_Model):
    actor: Actor = Field(default_factory=Actor, description="Who (PCI DSS 10.2.2 user id).")
    cache_hit: bool | None = Field(None, description="Answered from the semantic cache.")
    content: ContentRef | None = Field(
        None, description="Set by the log when capture=redacted; callers leave it empty."
    )
    cost_micro_usd: NonNegInt | None = Field(None, description="Cost in millionths of a USD.")
    data_classes: tuple[UpperToken, ...] = Field((), description="Data classes, e.g. PHI, PCI.")
    degraded: bool | None = Field(
        None,
        description="Identifier detection fell back to patterns only (fail-open tenant, NER "
        "failed) for the request or its answer.",
    )
    detail: dict[Token, Token | NonNegInt | bool] | None = Field(
        None, description="Event-specific facts for admin/audit events (tokens or counts only)."
    )
    entity_counts: dict[UpperToken, Count] = Field(
        default_factory=dict, description="Detected identifiers: count by entity type, no values."
    )
    error_type: Token | None = Field(None, description="Error type (machine token), if any.")
    event_type: Annotated[str, StringConstraints(pattern=r"^[a-z]+(\.[a-z_]+)+$")] = Field(
        description="What happened, e.g. inference.chat, key.revoked (see EVENT_TYPES)."
    )
    guardrails: dict[Token, Token] | None = Field(None, description="Guardrail name -> verdict.")
    latency_ms: NonNegInt | None = Field(None, description="End-to-end latency (ms).")
    origin: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.:\[\]_-]{1,64}$")] | None = (
        Field(None, description="Client network address (origination).")
    )
    outcome: Literal["success", "failure", "denied"] = Field(description="Success or failure.")
    output_redactions: dict[UpperToken, Count] | None = Field(
        None,
        description="Identifiers the model produced that were not in the request and were "
        "redacted from its answer: count by entity type, no values.",
    )
    policy: PolicyRef | None = Field(None, description="Policy rule, version and decision.")
    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = Field(
        None, description="x-request-id of the request."
    )
    resource: Resource | None = Field(None, description="Affected resource (model@version, site).")
    status_code: Annotated[int, Field(ge=100, le=599, strict=True)] | None = Field(
        None, description="HTTP status returned."
    )
    stream: bool | None = Field(None, description="Streamed response.")
    time: str = Field(
        description="When it happened: UTC, millisecond precision, YYYY-MM-DDTHH:MM:SS.mmmZ "
        "(a datetime is accepted and converted)."
    )
    tokens: Tokens | None = Field(None, description="Token usage.")
    v: Literal[1] = Field(1, description="Record schema version.")

    @field_validator("entity_counts", "guardrails", "detail", "output_redactions")
    @classmethod
    def _sort_keys(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _sorted_dict(v)

    @field_validator("time", mode="before")
    @classmethod
    def _utc_ms(cls, t: object) -> object:
        if isinstance(t, datetime):
            return format_time(t)
        if isinstance(t, str) and not _TIME.fullmatch(t):
            raise ValueError("time must be a datetime or YYYY-MM-DDTHH:MM:SS.mmmZ")
        return t

    @field_validator("data_classes")
    @classmethod
    def _sorted_unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(v)))

    @property
    def tenant(self) -> str | None:
        return self.actor.tenant

    def canonical_bytes(self) -> bytes:
        """The exact bytes hashed into the Merkle leaf: equal to ``canonical_json`` of the
        record's JSON form (tested), produced by pydantic's serializer in one pass."""
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)

    @classmethod
    def from_canonical(cls, data: bytes) -> AuditRecord:
        return cls.model_validate_json(data)
