"""The one typed state of a request as it moves through the pipeline.

Each field group belongs to one owner, named in its comment: the driver fills the request's
facts when it builds the state, and each stage fills only its own fields (stages read the others).
Nothing outside the pipeline writes to a state once it has been handed over.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from models.engines.base import Delta, EngineFailure, Usage
from models.registry import DeployedModel
from policies.access import Principal
from policies.decide import Decision
from privacy import RedactionResult
from serving import protocol

if TYPE_CHECKING:
    from policies.usage import RequestUsage
    from serving.pipeline.cache import CacheState
    from serving.pipeline.usage import Reservation

__all__ = [
    "Embeddings",
    "Item",
    "Outcome",
    "RequestState",
    "Route",
    "correlation_id",
]


class Route(StrEnum):
    """What a request asks for; decides its stages and its audit event type."""

    CHAT = "inference.chat"
    COMPLETION = "inference.completion"
    EMBEDDING = "inference.embedding"
    MODELS = "api.models_listed"
    ADMIN_MODELS = "admin.models_viewed"
    POLICY_RELOAD = "policy.reloaded"
    AUDIT_QUERY = "audit.queried"
    ALIAS_PROMOTED = "models.alias_promoted"
    ALIAS_SPLIT = "models.alias_split"
    ALIAS_ROLLED_BACK = "models.alias_rolled_back"
    AUDIT_EXPORT = "audit.exported"
    AUDIT_PAGE = "audit.page_viewed"
    AUDIT_CONTENT = "audit.content_read"  # GET /v1/audit/records/{index}/content
    AUDIT_SHRED = "audit.content_shredded"  # POST /v1/admin/audit/shred
    CACHE_INVALIDATED = "cache.invalidated"  # POST /v1/admin/cache/invalidate
    FEEDBACK = "feedback.submitted"  # POST /v1/feedback (serving/feedback.py)
    BATCH_FILE_UPLOADED = "batch.file_uploaded"  # POST /v1/files (serving/http/batch.py)
    BATCH_FILE_READ = "batch.file_read"  # GET /v1/files/{id}[/content]
    BATCH_CREATED = "batch.created"  # POST /v1/batches
    BATCH_VIEWED = "batch.viewed"  # GET /v1/batches/{id}
    BATCH_CANCELLED = "batch.cancel_requested"  # POST /v1/batches/{id}/cancel
    METRICS = "metrics.scraped"
    OPENAPI = "api.openapi_viewed"
    UNKNOWN = "http.unknown_route"

    @property
    def inference(self) -> bool:
        return self in (Route.CHAT, Route.COMPLETION, Route.EMBEDDING)


InferenceRequest = (
    protocol.ChatCompletionRequest | protocol.CompletionRequest | protocol.EmbeddingRequest
)


@dataclass(frozen=True)
class Embeddings:
    """The stream item of an embedding request: all vectors at once."""

    vectors: list[list[float]]
    usage: Usage


Item = Delta | Embeddings  # what flows back through the stages' ``wrap``


@dataclass(frozen=True)
class Outcome:
    """How the request ended: HTTP-style status, error type, and the stage that stopped it."""

    status: int
    error_type: str | None = None
    stage: str | None = None


_CORRELATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def correlation_id(value: str | None) -> str | None:
    """A client's own request id, kept only when it is a short machine token: a UUID, or at most
    64 characters of letters, digits and ``._:-`` of which at least half of the letters and
    digits are digits (so a name such as ``john.smith`` can never be recorded). Anything else
    is dropped whole, never cut or echoed."""
    if not value or not _CORRELATION.match(value):
        return None
    if _UUID.match(value):
        return value
    alnum = [c for c in value if c.isalnum()]
    digits = sum(c.isdigit() for c in alnum)
    return value if digits * 2 >= len(alnum) else None


@dataclass(eq=False)
class RequestState:
    """Everything the pipeline knows about one request; the audit record is built from it."""

    # -- the driver (at construction) --------------------------------------------------------
    request_id: str
    route: Route
    origin: str | None = None
    bearer: str | None = field(default=None, repr=False)
    purpose: str | None = None
    correlation_id: str | None = None
    read_body: Callable[[], Awaitable[bytes]] | None = field(default=None, repr=False)
    wall_start: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    end_user: str | None = field(default=None, repr=False)  # x-bastion-user: only ever hashed
    cache_control: str | None = None  # x-bastion-cache request header ("bypass")
    # -- authenticate ---------------------------------------------------------------------------
    principal: Principal | None = None
    key_id_attempted: str | None = None  # public id of a well-formed but rejected key
    # -- validate -------------------------------------------------------------------------------
    request: InferenceRequest | None = field(default=None, repr=False)
    # -- redact -----------------------------------------------------------------------------------
    redaction: RedactionResult | None = field(default=None, repr=False)
    # -- decide -----------------------------------------------------------------------------------
    decision: Decision | None = None
    # -- select (route.py: aliases, A/B splits, prompt templates) ---------------------------------
    alias_version: str | None = None  # name@version an alias split chose (policy decides on it)
    variant: str | None = None  # the split arm(s), e.g. prod/m@v2; None: no alias involved
    prompt_version: str | None = None  # the prompt template rendered, name@version
    # -- route ------------------------------------------------------------------------------------
    model: DeployedModel | None = None
    # -- cache (serving/pipeline/cache.py) -------------------------------------------------------
    cache: CacheState | None = field(default=None, repr=False)  # hit, miss, bypass or skip
    # -- meter (serving/pipeline/usage.py) -------------------------------------------------------
    reservation: Reservation | None = field(default=None, repr=False)  # budgets + rate limits
    # -- generate ---------------------------------------------------------------------------------
    upstream: Any = field(default=None, repr=False)  # the opened model stream
    first_item: Delta | EngineFailure | Embeddings | None = field(default=None, repr=False)
    first_token_at: float | None = None
    usage: Usage | None = None
    # -- settle (serving/pipeline/usage.py) ------------------------------------------------------
    spent: RequestUsage | None = None  # tokens (incl. cached) and cost, as settled
    # -- output redaction -------------------------------------------------------------------------
    output_redactions: dict[str, int] | None = None  # by entity type; None: answer not scanned
    output_degraded: bool = False  # the answer was scanned with patterns only
    # -- input guard, output guard (input_guard.py, output_guard.py) ----------------------------
    guardrails: dict[str, str] = field(default_factory=dict)  # guard -> verdict (the record)
    guard_detail: dict[str, str | int] = field(default_factory=dict)  # scores, rule ids
    # -- restore ----------------------------------------------------------------------------------
    output: list[str] = field(default_factory=list, repr=False)  # placeholder-form answer
    # -- action (the work of a non-inference route) -----------------------------------------------
    result: Any = field(default=None, repr=False)
    detail: dict[str, str | int | bool] | None = None  # facts for the audit record
    # -- the pipeline runner ----------------------------------------------------------------------
    outcome: Outcome | None = None

    @property
    def cache_hit(self) -> bool:
        """Answered from the semantic cache (the usage stage counts its prompt as cached)."""
        return self.cache is not None and self.cache.result == "hit"

    @property
    def stream(self) -> bool:
        request = self.request
        return bool(getattr(request, "stream", False))
