"""The HTTP app: the routers (serving/http/), the request-scope middleware, and the handler that
records requests no route matched. Routes map HTTP to the pipeline (serving/pipeline/) and back;
errors become OpenAI-style bodies in one place (``serving.pipeline.errors.error_response``).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving import openapi
from serving.batch.priority import InteractiveGauge
from serving.http import admin, audit, batch, feedback, openai
from serving.http.drive import error_json, pipelines, state
from serving.http.scope import RequestScope
from serving.limits import RequestLimiter
from serving.pipeline.errors import error_response
from serving.protocol import RequestLimits

__all__ = ["create_api", "error_response"]

log = logging.getLogger("bastion.api")

# Probes and the page's static assets are not requests by a principal and are not recorded.
UNRECORDED = frozenset({"/healthz", "/readyz", "/audit/app.js", "/audit/app.css"})


def create_api(
    max_body_bytes: int = 1_048_576,
    metrics_public: bool = False,
    behind_ray: bool = False,
    limits: RequestLimits | None = None,
    openapi_public: bool = False,
) -> FastAPI:
    """The HTTP app. Whoever hosts it sets ``app.state.gateway`` (serving/gateway.py),
    ``app.state.audit`` (an AuditClient) and ``app.state.policy_reloader``. ``behind_ray``:
    Ray Serve's HTTP server puts the request id on responses (serving/http/request_id.py).
    ``limits``: per-request caps (serving/limits.py); ``openapi_public``: /openapi.json
    without a key."""
    app = FastAPI(title="Bastion", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = None
    app.state.policy_reloader = None
    app.state.audit = None
    app.state.metrics_public = metrics_public
    app.state.limits = limits
    app.state.openapi_public = openapi_public
    app.add_middleware(RequestLimiter, limits=limits)
    app.add_middleware(InteractiveGauge)  # batch work yields to it (serving/batch/)
    app.add_middleware(RequestScope, max_body_bytes=max_body_bytes, behind_ray=behind_ray)
    for router in (openai.router, admin.router, audit.router, feedback.router, openapi.router):
        app.include_router(router)
    app.include_router(batch.router)  # the Batch API (docs/batch.md)

    async def unrouted(request: Request, exc: Exception) -> JSONResponse:
        """No route took the request (unknown path, wrong method) or a route's parameters
        failed FastAPI's own validation: record it, then answer with the error."""
        if request.url.path not in UNRECORDED:
            try:
                await pipelines(request).unrouted.reject(state(request), "http", exc)
            except Exception as failure:  # cannot record: fail closed
                return error_json(failure)
        return error_json(exc)

    app.add_exception_handler(StarletteHTTPException, unrouted)
    app.add_exception_handler(RequestValidationError, unrouted)
    return app
