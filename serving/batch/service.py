"""The Batch API of one ingress replica: its store and worker, built on first use from what the
host put on ``app.state`` (``attach_batch``)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.audit.content import FileKek
from serving.batch.settings import BatchSettings
from serving.batch.store import BatchStore
from serving.batch.worker import BatchWorker
from serving.http.drive import pipelines_of
from serving.pipeline import UpstreamError

__all__ = ["BatchService", "attach_batch", "batch_service", "new_job", "pipelines_of"]


@dataclass
class BatchService:
    settings: BatchSettings
    store: BatchStore
    worker: BatchWorker


def attach_batch(app: Any, settings: BatchSettings, kek_file: Path) -> None:
    """Enable the Batch API on ``app``; the worker starts with the app (and on first use)."""
    app.state.batch_config = (settings, Path(kek_file))
    app.state.batch = None

    async def start() -> None:
        if app.state.gateway is not None and settings.enabled:
            batch_service(app).worker.start()

    app.router.on_startup.append(start)


def batch_service(app: Any) -> BatchService:
    service = getattr(app.state, "batch", None)
    if service is not None:
        return service
    config = getattr(app.state, "batch_config", None)
    if config is None or app.state.gateway is None:
        raise UpstreamError("the Batch API is not enabled on this server")
    settings, kek_file = config
    if not settings.enabled:
        raise UpstreamError("the Batch API is not enabled on this server")
    shared = app.state.gateway.keys.store
    store = BatchStore(shared, FileKek(kek_file), settings.retention_days * 86400)
    worker = BatchWorker(store, shared, lambda: pipelines_of(app), settings)
    service = BatchService(settings, store, worker)
    app.state.batch = service
    return service


def new_job(
    store: BatchStore,
    tenant: str,
    key_id: str,
    file_id: str,
    endpoint: str,
    total: int,
    purpose: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A new job (OpenAI's batch object plus Bastion's ``_`` fields); the purpose and the
    client's metadata are sealed, like every client text."""
    now = int(time.time())
    batch_id = "batch_" + uuid.uuid4().hex
    private = json.dumps({"purpose": purpose, "metadata": metadata}).encode()
    sealed = store.seal(tenant, batch_id, private, "job\n" + batch_id)
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": endpoint,
        "errors": None,
        "input_file_id": file_id,
        "completion_window": "24h",
        "status": "validating",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": now,
        "in_progress_at": None,
        "expires_at": now + 86400,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": total, "completed": 0, "failed": 0},
        "_tenant": tenant,
        "_key_id": key_id,
        "_private": base64.b64encode(sealed).decode(),
    }
