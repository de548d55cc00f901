"""Stage 1b: read the body (bounded) and validate it against the route's request schema.

Runs after authentication, so an unauthenticated client learns nothing about the request
format, and a body that is too large or malformed is recorded with the key that sent it.
"""

from __future__ import annotations

from pydantic import BaseModel

from serving import protocol
from serving.pipeline.errors import InvalidRequest
from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState, Route

__all__ = ["Validate"]

_SCHEMAS: dict[Route, type[BaseModel]] = {
    Route.CHAT: protocol.ChatCompletionRequest,
    Route.COMPLETION: protocol.CompletionRequest,
    Route.EMBEDDING: protocol.EmbeddingRequest,
}


class Validate(Stage):
    """Owns ``request``. The driver's ``read_body`` enforces the size limit (→ 413)."""

    name = "validate"

    async def before(self, state: RequestState) -> None:
        schema = _SCHEMAS.get(state.route)
        if schema is None or state.read_body is None:
            raise InvalidRequest("this route takes no request body")
        raw = await state.read_body()
        # JSON pydantic's parser rejects but Python's accepts (a lone surrogate escape) is
        # validated from Python's parse, so the error names the field (serving/protocol.py).
        state.request = protocol.parse_request(schema, raw)  # type: ignore[assignment]
