"""The OpenAI-compatible routes: map HTTP to the inference pipeline and its stream back."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from serving.feedback import mark_served, mark_stream, served_store
from serving.http.drive import error_json, pipelines, respond, sse, state, stream_response
from serving.pipeline import RequestState, chunks, whole
from serving.pipeline.cache import cache_headers

__all__ = ["router"]

router = APIRouter()


def _redactions(st: RequestState) -> dict[str, str]:
    headers = {"x-bastion-redactions": str(st.redaction.count if st.redaction else 0)}
    if st.model is not None:  # the version served, and the prompt template rendered
        headers["x-bastion-model-version"] = st.model.key
    if st.prompt_version is not None:
        headers["x-bastion-prompt-version"] = st.prompt_version
    return headers


async def _infer(request: Request) -> Response:
    st = state(request)
    pipeline = pipelines(request).inference
    try:
        items = await pipeline.open(st)
    except Exception as exc:
        return error_json(exc)
    headers = _redactions(st) | cache_headers(st)  # x-bastion-cache: hit|miss|bypass|skip
    gateway = request.app.state.gateway
    store = served_store(gateway)
    if st.stream:
        headers["cache-control"] = "no-cache"
        # the answer's feedback marker once it is recorded (serving/feedback.py)
        marked = mark_stream(store, st, sse(chunks(st, items)), gateway.capture)
        return stream_response(marked, headers, lambda: pipeline.abandon(st))
    try:
        body = await whole(st, items)
    except Exception as exc:
        return error_json(exc)
    await mark_served(store, st, gateway.capture)
    return JSONResponse(body, headers=headers)


@router.post("/v1/chat/completions")
async def chat(request: Request) -> Response:
    return await _infer(request)


@router.post("/v1/completions")
async def completions(request: Request) -> Response:
    return await _infer(request)


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    return await _infer(request)


@router.get("/v1/models")
async def models(request: Request) -> Response:
    async def work(st: RequestState) -> dict:
        assert st.principal is not None
        return await request.app.state.gateway.list_models(st.principal)

    return await respond(request, work)
