"""Bastion issues the request id, whatever the client sends.

Ray Serve's HTTP servers (its proxy, and the Ingress replica under direct ingress) wrap every
app in their own ``RequestIdMiddleware``: it takes the client's ``x-request-id`` as the
request's id and echoes it on the response. A client-chosen id would then become Bastion's id
(a UUID) or give the response a second ``x-request-id`` (anything else). :class:`ReissueRequestId`
runs outside Ray's middleware (Ray's HTTP proxy callback,
``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=serving.http.request_id:ray_middlewares``): it
moves the client's value to ``x-bastion-client-request-id`` and puts a fresh UUID in its place,
marked as issued, so Ray, its logs and Bastion share one id and the response carries exactly
one ``x-request-id``. The app (serving/http/scope.py) keeps the client's value only as a
sanitized correlation field.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CALLBACK", "CLIENT_ID", "ISSUED", "ReissueRequestId", "ray_middlewares"]

CALLBACK = "serving.http.request_id:ray_middlewares"
REQUEST_ID = b"x-request-id"
CLIENT_ID = b"x-bastion-client-request-id"
ISSUED = b"x-bastion-request-id-issued"
_OURS = (REQUEST_ID, CLIENT_ID, ISSUED)


class ReissueRequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = list(scope.get("headers", []))
            client = next((v for k, v in headers if k.lower() == REQUEST_ID), None)
            kept = [(k, v) for k, v in headers if k.lower() not in _OURS]
            kept += [(REQUEST_ID, str(uuid.uuid4()).encode()), (ISSUED, b"1")]
            if client is not None:
                kept.append((CLIENT_ID, client))
            scope["headers"] = kept
        await self.app(scope, receive, send)


def ray_middlewares() -> list[Any]:
    """Ray Serve's HTTP proxy callback: the middlewares its HTTP servers add (outermost)."""
    from starlette.middleware import Middleware

    return [Middleware(ReissueRequestId)]
