"""Driving a pipeline from a route: errors become OpenAI-style bodies, streams become
server-sent events. The only HTTP knowledge the routers share."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from serving.pipeline import Pipelines, RequestState, UpstreamError, error_response
from serving.pipeline.compose import Work
from serving.pipeline.errors import stream_error_event
from serving.pipeline.stage import Pipeline, outlive_cancellation
from serving.pipeline.state import Item

__all__ = ["PipelineStream", "error_json", "pipelines", "run_action", "sse", "state"]

DONE = b"data: [DONE]\n\n"


def state(request: Request) -> RequestState:
    return request.scope["state"]["ctx"]


def pipelines(request: Request) -> Pipelines:
    """The replica's pipelines, built once from what the host put on ``app.state``."""
    return pipelines_of(request.app)


def pipelines_of(app: Any) -> Pipelines:
    """:func:`pipelines` for a driver without a request (the Batch API worker)."""
    app_state = app.state
    gateway = app_state.gateway
    if gateway is None:
        raise UpstreamError("the gateway is starting")
    key = (id(gateway), id(app_state.audit), id(app_state.policy_reloader))
    cached = getattr(app_state, "pipelines", None)
    if cached is None or cached[0] != key:
        cached = (key, Pipelines(gateway, app_state.audit, app_state.policy_reloader))
        app_state.pipelines = cached
    return cached[1]


def error_json(exc: BaseException) -> JSONResponse:
    status, body = error_response(exc)
    headers = getattr(exc, "headers", None)  # e.g. Allow on a 405, retry-after on a 429
    keep = status in (405, 429)
    return JSONResponse(body, status_code=status, headers=headers if keep else None)


async def sse(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Server-sent events; a failure mid-stream becomes one error event, then ``[DONE]``."""
    try:
        async for chunk in chunks:
            yield b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
    except Exception as exc:
        yield stream_error_event(exc)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    yield DONE


async def run_action(request: Request, pipeline: Pipeline) -> Any:
    """Run a recorded route's pipeline to its end; the action's result (raises on error)."""
    items: AsyncIterator[Item] = await pipeline.open(state(request))
    async for _ in items:
        pass
    return state(request).result


async def respond(request: Request, work: Work, roles: Any = ()) -> Response:
    """A recorded route: authenticate (``roles``), do ``work``, record, then answer."""
    try:
        result = await run_action(request, pipelines(request).action(work, roles))
    except Exception as exc:
        return error_json(exc)
    return result if isinstance(result, Response) else JSONResponse(result)


class PipelineStream(StreamingResponse):
    """Server-sent events of a pipeline's stream, recorded even when the server never reads it.

    The stages record and release from inside the stream (``wrap``). A server can drop a
    response before its body is ever iterated: under ASGI spec 2.4 ``send`` raises ``OSError``
    for a client that has gone, at the response start, and under older specs Starlette's
    disconnect listener can cancel the response first. Then no stage's ``wrap`` runs, and
    without ``abandon`` the request would go unrecorded and keep its generation and budget
    reservation open. ``abandon`` runs exactly when the body was never started."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        headers: dict[str, str],
        abandon: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self._started = False
        self._abandon = abandon
        super().__init__(self._tracked(body), media_type="text/event-stream", headers=headers)

    async def _tracked(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        self._started = True
        try:
            async for chunk in body:
                yield chunk
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._started:
                self._started = True  # once
                await outlive_cancellation(self._abandon())


def stream_response(
    body: AsyncIterator[bytes],
    headers: dict[str, str],
    abandon: Callable[[], Coroutine[Any, Any, None]],
) -> StreamingResponse:
    """``body`` as server-sent events; ``abandon()`` records and releases the request if the
    server drops the response before reading any of it (see :class:`PipelineStream`)."""
    return PipelineStream(body, headers, abandon)
