"""The Batch API of one ingress replica: its store and worker, built on first use from what the
host put on ``app.state`` (``attach_batch``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.audit.content import FileKek
from serving.batch.settings import BatchSettings
from serving.batch.store import BatchStore
from serving.batch.worker import BatchWorker
from serving.pipeline import Pipelines, UpstreamError

__all__ = ["BatchService", "attach_batch", "batch_service", "pipelines_of"]


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


def pipelines_of(app: Any) -> Pipelines:
    """The replica's pipelines (the same cache as serving/http/drive.py)."""
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
