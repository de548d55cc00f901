"""Per-request caps, in force before any work is done on a request.

The request models (serving/protocol.py) check the number of messages in a chat request and of
inputs in an embedding request while validating, before the items themselves are validated and
long before anything is tokenized or redacted. The caps come from the configuration
(``server.max_messages``, ``embeddings.max_inputs``); :class:`RequestLimiter` puts the app's
caps in force for each request it serves (a context variable, so apps with different caps can
share a process). The body size limit is enforced where the body is read
(serving/http/scope.py).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from serving.protocol import REQUEST_LIMITS, RequestLimits

__all__ = ["RequestLimiter", "request_limits"]


def request_limits(settings: Any) -> RequestLimits:
    """The caps configured in ``settings`` (a serving.config.Settings)."""
    return RequestLimits(
        max_messages=settings.server.max_messages,
        max_embedding_inputs=settings.embeddings.max_inputs,
    )


class RequestLimiter:
    """ASGI middleware: ``limits`` are the caps for every request of the app it wraps."""

    def __init__(self, app: ASGIApp, limits: RequestLimits | None = None) -> None:
        self.app = app
        self.limits = limits or RequestLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = REQUEST_LIMITS.set(self.limits)
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_LIMITS.reset(token)
