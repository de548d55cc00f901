"""The OpenAI-compatible Batch API routes (docs/batch.md): files (purpose ``batch``, JSONL) and
batches, scoped to the caller's tenant (another tenant's id is a 404). Each is a recorded route
(authenticate → action → audit); the work itself is serving/batch/."""

from __future__ import annotations

import asyncio
import base64
import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Request
from fastapi.responses import Response

from policies.access import Role
from serving.batch.jobs import ENDPOINTS, openai_batch, parse_input
from serving.batch.service import batch_service, new_job
from serving.http.drive import respond, state
from serving.pipeline import InvalidRequest, RequestState, Route
from serving.pipeline.errors import NotFound

__all__ = ["router"]

router = APIRouter()

WINDOWS = frozenset({"24h"})


def _form(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (the SDK's file upload)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest("upload the file as multipart/form-data", "file")
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidRequest("upload the file as multipart/form-data", "file")
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def _route(request: Request, route: Route) -> None:
    state(request).route = route  # the driver's field: which audit event this request is


@router.post("/v1/files")
async def upload(request: Request) -> Response:
    _route(request, Route.BATCH_FILE_UPLOADED)
    content_type = request.headers.get("content-type", "")

    async def work(st: RequestState) -> dict:
        assert st.principal is not None and st.read_body is not None
        service = batch_service(request.app)
        fields = _form(content_type, await st.read_body())
        purpose = fields.get("purpose", b"").decode("utf-8", "replace")
        if purpose != "batch":
            raise InvalidRequest("purpose must be 'batch'", "purpose")
        data = fields.get("file")
        if data is None:
            raise InvalidRequest("the request has no file", "file")
        # checked now, so a bad file is a 400 here and again (whole) when a batch names it
        lines = parse_input(data, _endpoint_of(data), service.settings.max_lines)
        meta = await asyncio.to_thread(service.store.put_file, st.principal.tenant, "batch", data)
        st.detail = {"file_id": meta.id, "bytes": meta.bytes, "lines": len(lines)}
        return meta.openai()

    return await respond(request, work, (Role.APP,))


def _endpoint_of(data: bytes) -> str:
    """The url of the first line (each line must name the same one)."""
    for raw in data.decode("utf-8", "replace").splitlines():
        if raw.strip():
            try:
                url = json.loads(raw).get("url")
            except (ValueError, AttributeError):
                return ""
            return url if url in ENDPOINTS else ""
    return ""


async def _file(request: Request, file_id: str, st: RequestState) -> Any:
    assert st.principal is not None
    service = batch_service(request.app)
    meta = await asyncio.to_thread(service.store.file_meta, file_id, st.principal.tenant)
    if meta is None:
        raise NotFound("No such file.")
    st.detail = {"file_id": meta.id}
    return service, meta


@router.get("/v1/files/{file_id}")
async def file_info(request: Request, file_id: str) -> Response:
    _route(request, Route.BATCH_FILE_READ)

    async def work(st: RequestState) -> dict:
        _, meta = await _file(request, file_id, st)
        return meta.openai()

    return await respond(request, work, (Role.APP,))


@router.get("/v1/files/{file_id}/content")
async def file_content(request: Request, file_id: str) -> Response:
    _route(request, Route.BATCH_FILE_READ)

    async def work(st: RequestState) -> Response:
        service, meta = await _file(request, file_id, st)
        data = await asyncio.to_thread(service.store.file_content, meta)
        if data is None:
            raise NotFound("No such file.")
        return Response(data, media_type="application/jsonl")

    return await respond(request, work, (Role.APP,))


@router.post("/v1/batches")
async def create(request: Request) -> Response:
    _route(request, Route.BATCH_CREATED)

    async def work(st: RequestState) -> dict:
        assert st.principal is not None and st.read_body is not None
        service = batch_service(request.app)
        try:
            body = json.loads(await st.read_body())
        except ValueError:
            raise InvalidRequest("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be a JSON object")
        endpoint = body.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise InvalidRequest("endpoint must be one of " + ", ".join(ENDPOINTS), "endpoint")
        if body.get("completion_window", "24h") not in WINDOWS:
            raise InvalidRequest("completion_window must be '24h'", "completion_window")
        metadata = body.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and len(metadata) <= 16
            and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        ):
            raise InvalidRequest("metadata must map at most 16 strings to strings", "metadata")
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str):
            raise InvalidRequest("input_file_id is required", "input_file_id")
        tenant = st.principal.tenant
        store = service.store
        meta = await asyncio.to_thread(store.file_meta, file_id, tenant)
        data = None if meta is None else await asyncio.to_thread(store.file_content, meta)
        if meta is None or data is None or meta.purpose != "batch":
            raise NotFound("No such file.")
        lines = parse_input(data, endpoint, service.settings.max_lines)
        job = new_job(
            store, tenant, st.principal.key_id, file_id, endpoint, len(lines), st.purpose, metadata
        )
        await asyncio.to_thread(store.put_job, job)
        await asyncio.to_thread(store.activate, job["id"])
        service.worker.start()
        service.worker.wake()
        st.detail = {"batch_id": job["id"], "file_id": file_id, "lines": len(lines)}
        return _public(service, job, metadata)

    return await respond(request, work, (Role.APP,))


def _public(
    service: Any, job: dict[str, Any], metadata: Any = ..., cancelling: bool = False
) -> dict:
    out = openai_batch(job, cancelling)
    if metadata is ...:
        try:
            raw = service.store.unseal(
                job["_tenant"], job["id"], base64.b64decode(job["_private"]), "job\n" + job["id"]
            )
        except InvalidTag:  # sealed under a batch key since shredded: the metadata is gone
            raw = b"{}"
        metadata = json.loads(raw).get("metadata")
    out["metadata"] = metadata
    return out


async def _job(request: Request, batch_id: str, st: RequestState) -> tuple[Any, dict]:
    assert st.principal is not None
    service = batch_service(request.app)
    job = await asyncio.to_thread(service.store.job, batch_id, st.principal.tenant)
    if job is None:
        raise NotFound("No such batch.")
    st.detail = {"batch_id": job["id"]}
    return service, job


@router.get("/v1/batches/{batch_id}")
async def retrieve(request: Request, batch_id: str) -> Response:
    _route(request, Route.BATCH_VIEWED)

    async def work(st: RequestState) -> dict:
        service, job = await _job(request, batch_id, st)
        service.worker.start()  # a restarted replica picks up unfinished jobs
        cancelling = await asyncio.to_thread(service.store.cancel_requested, job["id"])
        return _public(service, job, cancelling=cancelling)

    return await respond(request, work, (Role.APP,))


@router.post("/v1/batches/{batch_id}/cancel")
async def cancel(request: Request, batch_id: str) -> Response:
    _route(request, Route.BATCH_CANCELLED)

    async def work(st: RequestState) -> dict:
        service, job = await _job(request, batch_id, st)
        if job["status"] not in ("completed", "failed", "cancelled", "expired"):
            await asyncio.to_thread(service.store.request_cancel, job["id"])
            service.worker.start()
            service.worker.wake()
        return _public(service, job, cancelling=True)

    return await respond(request, work, (Role.APP,))
