"""The audit record and its canonical bytes (what the Merkle leaf hashes).

Canonical JSON: keys sorted, no whitespace, UTF-8, absent (None) fields omitted, no floats (cost in
micro-USD and latency in whole milliseconds), time as ``YYYY-MM-DDTHH:MM:SS.mmmZ``. Any verifier in
any language hashes the exported bytes as they are; it never needs to re-serialize.

Invariant: a record MUST NOT carry an identifier (name, MRN, card number, ...). Free-text fields
are constrained to short machine tokens, and entities appear only as counts by type.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
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
)

# Short machine tokens only: no spaces or free text, bounded length.
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/+-]{0,127}$")]
UpperToken = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
Count = Annotated[int, Field(ge=0, strict=True)]
NonNegInt = Annotated[int, Field(ge=0, strict=True)]


def format_time(t: datetime) -> str:
    if t.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Model):
    key_id: Token | None = Field(None, description="API key id (never the secret).")
    tenant: Token | None = Field(None, description="Tenant the key belongs to.")
    role: Literal["app", "auditor", "admin", "system"] | None = Field(None, description="Role.")


class Resource(_Model):
    model: Token | None = Field(None, description="Model name.")
    version: Token | None = Field(None, description="Model version.")
    site: Token | None = Field(None, description="Site (data residency) where it ran.")


class PolicyRef(_Model):
    rule_id: Token | None = Field(None, description="Rule that decided the request.")
    version: Token | None = Field(None, description="Policy document version.")
    outcome: Literal["allow", "deny", "reroute"] | None = Field(None, description="Decision.")


class Tokens(_Model):
    prompt: NonNegInt = Field(0, description="Prompt tokens.")
    completion: NonNegInt = Field(0, description="Completion tokens.")


class ContentRef(_Model):
    """Commitment to captured content stored outside the leaf (so it can be crypto-shredded)."""

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="Content id (random)."
    )
    dek_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="Tenant data key that encrypted it."
    )
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of nonce||ciphertext (reveals nothing once the key is destroyed)."
    )


class AuditRecord(_Model):
    v: Literal[1] = Field(1, description="Record schema version.")
    event_type: Annotated[str, StringConstraints(pattern=r"^[a-z]+(\.[a-z_]+)+$")] = Field(
        description="What happened, e.g. inference.chat, key.revoked (see EVENT_TYPES)."
    )
    time: datetime = Field(description="When it happened (UTC, millisecond precision).")
    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = Field(
        None, description="x-request-id of the request."
    )
    actor: Actor = Field(default_factory=Actor, description="Who (PCI DSS 10.2.2 user id).")
    origin: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.:\[\]_-]{1,64}$")] | None = (
        Field(None, description="Client network address (origination).")
    )
    outcome: Literal["success", "failure", "denied"] = Field(description="Success or failure.")
    status_code: Annotated[int, Field(ge=100, le=599, strict=True)] | None = Field(
        None, description="HTTP status returned."
    )
    error_type: Token | None = Field(None, description="Error type (machine token), if any.")
    resource: Resource | None = Field(None, description="Affected resource (model@version, site).")
    data_classes: tuple[UpperToken, ...] = Field((), description="Data classes, e.g. PHI, PCI.")
    entity_counts: dict[UpperToken, Count] = Field(
        default_factory=dict, description="Detected identifiers: count by entity type, no values."
    )
    policy: PolicyRef | None = Field(None, description="Policy rule, version and decision.")
    guardrails: dict[Token, Token] | None = Field(None, description="Guardrail name -> verdict.")
    tokens: Tokens | None = Field(None, description="Token usage.")
    cost_micro_usd: NonNegInt | None = Field(None, description="Cost in millionths of a USD.")
    latency_ms: NonNegInt | None = Field(None, description="End-to-end latency (ms).")
    cache_hit: bool | None = Field(None, description="Answered from the semantic cache.")
    stream: bool | None = Field(None, description="Streamed response.")
    detail: dict[Token, Token | NonNegInt | bool] | None = Field(
        None, description="Event-specific facts for admin/audit events (tokens or counts only)."
    )
    content: ContentRef | None = Field(
        None, description="Set by the log when capture=redacted; callers leave it empty."
    )

    @field_validator("time")
    @classmethod
    def _utc_ms(cls, t: datetime) -> datetime:
        if t.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        t = t.astimezone(UTC)
        return t.replace(microsecond=(t.microsecond // 1000) * 1000)

    @field_validator("data_classes")
    @classmethod
    def _sorted_unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(v)))

    @field_serializer("time")
    def _ser_time(self, t: datetime) -> str:
        return format_time(t)

    @property
    def tenant(self) -> str | None:
        return self.actor.tenant

    def canonical_bytes(self) -> bytes:
        """The exact bytes that are hashed into the Merkle leaf."""
        return canonical_json(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_canonical(cls, data: bytes) -> AuditRecord:
        return cls.model_validate_json(data)
