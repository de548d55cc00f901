"""User feedback on answers (``POST /v1/feedback``), kept in the shared StateStore.

Two namespaces:

- ``feedback.served``: one small marker per answered inference request, written by the HTTP
  driver once the request's audit record is durable: the tenant, the model version served and,
  only when the deployment captures redacted content (``audit.capture: redacted``), the roles
  of the request's messages (their redacted texts stay in the audit log's encrypted, shreddable
  captured content, where ``bastion eval from-feedback`` reads them). It expires after
  :data:`SERVED_TTL_S` (the window in which feedback is taken).
- ``feedback``: the feedback itself, keyed by the request id: rating, and the comment and the
  corrected answer **after redaction** (placeholders, never an identifier).

Ratings are thumbs (-1, 0, 1) or stars (1-5); ``1`` is a thumb up unless ``scale: "stars"``.
The metric label is a bounded set: ``down|neutral|up`` or ``1``-``5``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from serving.pipeline.errors import InvalidRequest, NotFound, UpstreamError
from serving.pipeline.state import RequestState
from state import StateStore

__all__ = [
    "FEEDBACK_NS",
    "SERVED_NS",
    "SERVED_TTL_S",
    "Feedback",
    "list_feedback",
    "mark_served",
    "mark_stream",
    "parse_feedback",
    "scrub_numbers",
]

log = logging.getLogger("bastion.feedback")

SERVED_NS = "feedback.served"
FEEDBACK_NS = "feedback"
SERVED_TTL_S = 30 * 86400.0  # feedback is taken for 30 days after the answer
MAX_TEXT = 16_000  # characters of a comment or a correction
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_THUMBS = {-1: "down", 0: "neutral", 1: "up"}
# A run of 6+ digits (separators allowed) the analyzer let through: record, account and phone
# numbers, dates. Feedback never needs one, so it is replaced (fail closed).
_LONG_NUMBER = re.compile(r"(?<![\w\[])\d(?:[ ./-]?\d){5,}(?!\w)")


def scrub_numbers(text: str) -> str:
    return _LONG_NUMBER.sub("[NUMBER]", text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _served_record(st: RequestState, capture: bool) -> dict[str, Any] | None:
    if st.principal is None or st.model is None:
        return None
    if st.route.value not in ("inference.chat", "inference.completion"):
        return None  # answers only: embeddings are not rated
    record: dict[str, Any] = {
        "tenant": st.principal.tenant,
        "model_version": st.model.key,
        "route": st.route.value,
        "at": _now(),
    }
    if capture and st.redaction is not None and st.route.value == "inference.chat":
        # Only the roles: the redacted texts stay in the audit log's captured content, encrypted
        # and crypto-shreddable (docs/audit.md); `bastion eval from-feedback` reads them there.
        record["roles"] = [str(m.role) for m in getattr(st.request, "messages", [])]
    return record


async def mark_served(store: StateStore | None, st: RequestState, capture: bool) -> None:
    """Leave the request's marker (after its audit record is durable). A failure is logged and
    does not fail the answer already recorded: feedback on it is then answered 404."""
    if store is None or st.outcome is None or st.outcome.status >= 400:
        return
    record = _served_record(st, capture)
    if record is None:
        return
    data = json.dumps(record, ensure_ascii=False).encode()
    try:
        await asyncio.to_thread(store.put, SERVED_NS, st.request_id, data, SERVED_TTL_S)
    except Exception as exc:
        log.warning("feedback marker not written", extra={"error_type": type(exc).__name__})


async def mark_stream(
    store: StateStore | None, st: RequestState, chunks: AsyncIterator[bytes], capture: bool
) -> AsyncIterator[bytes]:
    """Pass a streamed answer through; leave the marker once it ended normally."""
    async for chunk in chunks:
        yield chunk
    await mark_served(store, st, capture)


class Feedback:
    """A parsed ``POST /v1/feedback`` body (before redaction)."""

    def __init__(
        self,
        request_id: str,
        rating: int,
        scale: str,
        comment: str | None,
        correction: str | None,
    ) -> None:
        self.request_id = request_id
        self.rating = rating
        self.scale = scale
        self.comment = comment
        self.correction = correction

    @property
    def label(self) -> str:
        """The metric label: ``down|neutral|up`` (thumbs) or ``1``-``5`` (stars)."""
        return _THUMBS[self.rating] if self.scale == "thumbs" else str(self.rating)

    @property
    def positive(self) -> bool:
        return self.rating >= (1 if self.scale == "thumbs" else 4)


def _text(body: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"'{name}' must be a string", name)
        if len(value) > MAX_TEXT:
            raise InvalidRequest(f"'{name}' is longer than {MAX_TEXT} characters", name)
        return value if value.strip() else None
    return None


def parse_feedback(raw: bytes) -> Feedback:
    """Validate the body; :class:`InvalidRequest` (400) names the bad field, never its value."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        raise InvalidRequest("'request_id' must be a Bastion request id", "request_id")
    rating = body.get("rating")
    scale = body.get("scale")
    if scale is not None and scale not in ("thumbs", "stars"):
        raise InvalidRequest("'scale' must be 'thumbs' or 'stars'", "scale")
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise InvalidRequest("'rating' must be an integer: -1, 0, 1 or 1-5", "rating")
    if scale is None:
        scale = "thumbs" if rating in (-1, 0, 1) else "stars"
    allowed = (-1, 0, 1) if scale == "thumbs" else (1, 2, 3, 4, 5)
    if rating not in allowed:
        raise InvalidRequest("'rating' must be -1, 0, 1 (thumbs) or 1-5 (stars)", "rating")
    comment = _text(body, "comment")
    correction = _text(body, "corrected_answer", "correction")
    return Feedback(request_id, rating, scale, comment, correction)


async def store_feedback(
    store: StateStore, batcher: Any, tenant: str, key_id: str, fb: Feedback
) -> dict[str, Any]:
    """Link the feedback to the served request (404 when unknown or another tenant's), redact
    its texts, store it. Returns the stored record (no identifier in it)."""
    raw = await asyncio.to_thread(store.get, SERVED_NS, fb.request_id)
    served = json.loads(raw) if raw else None
    if served is None or served.get("tenant") != tenant:
        raise NotFound("no answered request with this id")  # another tenant's: same answer
    texts = [t for t in (fb.comment, fb.correction) if t is not None]
    redacted_texts: list[str] = []
    if texts:
        if batcher is None:  # fail closed: nothing unredacted is stored
            raise UpstreamError("redaction is not available")
        result = await batcher.redact(texts, tenant)
        redacted_texts = [scrub_numbers(t) for t in result.texts]
    it = iter(redacted_texts)
    record = {
        "request_id": fb.request_id,
        "tenant": tenant,
        "key_id": key_id,
        "model_version": served["model_version"],
        "rating": fb.rating,
        "scale": fb.scale,
        "label": fb.label,
        "positive": fb.positive,
        "comment": next(it) if fb.comment is not None else None,
        "correction": next(it) if fb.correction is not None else None,
        "at": _now(),
    }
    if "roles" in served:  # the captured content's message roles (its texts: the audit log)
        record["roles"] = served["roles"]
    data = json.dumps(record, ensure_ascii=False).encode()
    await asyncio.to_thread(store.put, FEEDBACK_NS, fb.request_id, data)
    return record


def list_feedback(store: StateStore, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every stored feedback record (oldest first), given ``at`` >= ``since``."""
    out = []
    for _, value in store.items(FEEDBACK_NS, "", limit=1_000_000):
        record = json.loads(value)
        at = datetime.fromisoformat(record["at"])
        if since is None or at >= since:
            out.append(record)
    out.sort(key=lambda r: r["at"])
    return out


def served_store(gateway: Any) -> StateStore | None:
    """The shared store the gateway's keys live in (every ingress replica sees it)."""
    return getattr(getattr(gateway, "keys", None), "store", None)
