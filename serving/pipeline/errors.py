"""The typed errors a stage may stop a request with, and the one mapping from any error to
``(status, OpenAI-style error body)`` — for whole responses, for the stream error event, and
for the audit record's error type. Messages never echo request text.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from models.registry import ModelNotFound
from policies.access import AuthenticationFailed
from policies.audit import AuditUnavailable, ContentShredded
from policies.budgets import BudgetExceeded, RateLimited
from policies.decide import PolicyDenied
from policies.documents import PolicyDocumentError
from privacy import RedactionError
from serving import protocol
from state import StateUnavailable

__all__ = [
    "BodyTooLarge",
    "InvalidRequest",
    "ModelUnavailable",
    "NotFound",
    "PermissionDenied",
    "StructuredOutputInvalid",
    "UpstreamError",
    "error_code",
    "error_response",
    "stream_error_event",
]

log = logging.getLogger("bastion.errors")


class InvalidRequest(ValueError):
    """The request is well-formed JSON but cannot be served as asked (→ 400)."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class PermissionDenied(Exception):
    """The principal's role may not use this route (→ 403)."""


class BodyTooLarge(Exception):
    """The request body exceeds the configured limit (→ 413)."""


class NotFound(Exception):
    """The addressed resource does not exist or is outside the principal's scope (→ 404)."""


class StructuredOutputInvalid(Exception):
    """The answer does not satisfy the request's ``response_format``, also after the retries
    (→ 422 ``invalid_structured_output``). The message names no answer content."""


class UpstreamError(Exception):
    """A model or embedder failed or is unavailable (→ 503). Message has no request content."""


class ModelUnavailable(UpstreamError):
    """Policy allows the model version but it cannot run: its site has no capacity in this
    cluster, or it is not deployed here (→ 503, at once: requests never queue for it)."""


_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    410: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


def _body(message: str, status: int, param: str | None = None, code: str | None = None) -> dict:
    kind = _STATUS_TYPES.get(status, "server_error")
    return {
        "error": protocol.ErrorBody(message=message, type=kind, param=param, code=code).model_dump()
    }


def _validation_message(errors: list[Any]) -> tuple[str, str | None]:
    # Names only fields the API defines, never input values (serving/protocol.py).
    return protocol.validation_message(errors)


def _validation_errors(exc: BaseException) -> list[Any] | None:
    if isinstance(exc, ValidationError):
        return list(exc.errors(include_input=False))
    try:  # FastAPI's own validation error (query or path parameters)
        from fastapi.exceptions import RequestValidationError
    except ImportError:  # pragma: no cover - fastapi is a dependency
        return None
    if isinstance(exc, RequestValidationError):
        return list(exc.errors())
    return None


def _http_error(exc: BaseException) -> tuple[int, str] | None:
    try:
        from starlette.exceptions import HTTPException
    except ImportError:  # pragma: no cover - starlette is a dependency
        return None
    if not isinstance(exc, HTTPException):
        return None
    status = exc.status_code
    return status, {404: "Unknown path.", 405: "Method not allowed."}.get(status, str(exc.detail))


AUDIT_UNAVAILABLE = _body(
    "The audit log is unavailable; the request was not processed.",
    503,
    code="audit_unavailable",
)


def error_response(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Map any exception to ``(status, OpenAI error body)``. Messages never echo request text."""
    errors = _validation_errors(exc)
    if errors is not None:
        message, param = _validation_message(errors)
        return 400, _body(message, 400, param)
    if isinstance(exc, AuthenticationFailed):
        return 401, _body(f"Incorrect or missing API key ({exc}).", 401, code="invalid_api_key")
    if isinstance(exc, PermissionDenied):
        return 403, _body(str(exc), 403)
    if isinstance(exc, PolicyDenied):
        d = exc.decision
        message = f"Denied by policy rule {d.rule_id} (policy {d.policy_version}): {d.reason}"
        return 403, _body(message, 403, code="policy_denied")
    if isinstance(exc, PolicyDocumentError):
        return 400, _body(f"policy documents rejected: {len(exc.issues)} problem(s)", 400)
    if isinstance(exc, ModelNotFound):
        return 404, _body(
            "The model does not exist or you do not have access to it.",
            404,
            "model",
            "model_not_found",
        )
    if isinstance(exc, InvalidRequest):
        return 400, _body(str(exc), 400, exc.param, exc.code)
    if isinstance(exc, RedactionError):
        return 422, _body(
            f"identifier detection failed, so the request was not processed ({exc})",
            422,
            code="redaction_failed",
        )
    if isinstance(exc, NotFound):
        return 404, _body(str(exc), 404, code="not_found")
    if isinstance(exc, ContentShredded):
        return 410, _body(
            "The captured content of this record was shredded (its data key was destroyed); "
            "the record itself remains and verifies.",
            410,
            code="content_shredded",
        )
    if isinstance(exc, BudgetExceeded):
        return 429, _body(str(exc), 429, code="budget_exceeded")
    if isinstance(exc, RateLimited):
        return 429, _body(str(exc), 429, code="rate_limit_exceeded")
    if isinstance(exc, StructuredOutputInvalid):
        return 422, _body(str(exc), 422, "response_format", "invalid_structured_output")
    if isinstance(exc, BodyTooLarge):
        return 413, _body(str(exc), 413, code="request_too_large")
    if isinstance(exc, AuditUnavailable):
        return 503, json.loads(json.dumps(AUDIT_UNAVAILABLE))
    if isinstance(exc, ModelUnavailable):
        return 503, _body(str(exc), 503, "model", "model_unavailable")
    if isinstance(exc, StateUnavailable):
        return 503, _body(
            "The state store is unavailable; the request was not processed.",
            503,
            code="state_unavailable",
        )
    if isinstance(exc, UpstreamError):
        return 503, _body(str(exc), 503)
    http = _http_error(exc)
    if http is not None:
        return http[0], _body(http[1], http[0])
    log.error("unhandled error", extra={"error_type": type(exc).__name__})
    return 500, _body("The server had an error processing the request.", 500)


def error_code(body: dict[str, Any]) -> str:
    """The machine token an error body is recorded under (its code, else its type)."""
    return body["error"]["code"] or body["error"]["type"]


def stream_error_event(exc: BaseException) -> bytes:
    """The SSE event a failure inside a stream becomes (the driver then sends ``[DONE]``)."""
    _, body = error_response(exc)
    return b"data: " + json.dumps(body).encode() + b"\n\n"
