"""The Ray Serve application: ``Ingress`` → one ``ModelServer`` per model version, ``Embedder``.

Ray is applied here and only here: the hosted classes (Gateway, ModelServer, Embedder) are plain
Python; the shells below only build them inside replicas and adapt handles to the gateway.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ray
from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle

from models.embeddings import Embedded
from models.engines.base import Delta, EngineFailure, GenerateRequest
from serving.audit_client import RayAuditClient
from serving.config import ModelConfig, Settings, _Replicated
from serving.ray_env import worker_env

__all__ = [
    "build_app",
    "build_app_from_args",
    "deployment_name",
    "serve_config",
]

# Serve's access log would record client-chosen paths; Bastion keeps its own request metrics.
SERVE_LOGGING = {"encoding": "JSON", "enable_access_log": False}


# Exactly one replica orders the log; many concurrent appends make group commits large.
SEQUENCER_OPTIONS: dict[str, Any] = {
    "name": "AuditSequencer",
    "num_replicas": 1,
    "max_ongoing_requests": 4096,
    "ray_actor_options": {"num_cpus": 0.5},
    "logging_config": dict(SERVE_LOGGING),
}


def deployment_name(model: ModelConfig) -> str:
    return "ModelServer-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{model.name}-{model.version}")


def site_resource(site: str) -> str:
    """The Ray custom resource a node of ``site`` advertises and that site's models require."""
    return f"site:{site}"


def _options(cfg: _Replicated, extra_resources: dict[str, float] | None = None) -> dict[str, Any]:
    actor: dict[str, Any] = {"num_cpus": cfg.num_cpus, "num_gpus": cfg.num_gpus}
    if extra_resources:
        actor["resources"] = extra_resources
    options: dict[str, Any] = {
        "ray_actor_options": actor,
        "max_ongoing_requests": cfg.max_ongoing_requests,
        "logging_config": dict(SERVE_LOGGING),
    }
    if cfg.autoscaling is not None:
        options["autoscaling_config"] = cfg.autoscaling.model_dump()
    else:
        options["num_replicas"] = cfg.num_replicas
    return options


class ModelServerShell:
    """Ray replica hosting one engine (see models/deployment.py for the wire format)."""

    async def __init__(self, model: dict[str, Any], log_level: str = "INFO") -> None:
        from models.deployment import ModelServer
        from models.engines import create_engine
        from serving.observability import configure_logging

        configure_logging(log_level)
        cfg = ModelConfig.model_validate(model)
        self.server = ModelServer(create_engine(cfg), cfg.default_max_tokens)
        await self.server.start()

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta | EngineFailure]:
        from serving.observability import REQUEST_ID

        # Every log line written for this request carries its id (each request runs in its
        # own task, so the value never leaks into another request's lines).
        REQUEST_ID.set(request.request_id)
        async for item in self.server.generate(request):
            yield item

    async def info(self) -> dict[str, Any]:
        return await self.server.info()

    async def stats(self) -> dict[str, int]:
        return await self.server.stats()

    async def check_health(self) -> None:
        await self.server.health()


class EmbedderShell:
    """Ray replica hosting the sentence-embedding model. Inputs of concurrent requests are
    batched, at most ``max_batch_size`` inputs per batch (``embeddings.max_batch_size``); a
    request with more inputs is split across batches."""

    def __init__(self, name: str, path: str | None, max_batch_size: int = 32) -> None:
        from models.embeddings import Embedder

        self.embedder = Embedder(name, path)
        self.embedder.start()
        self.max_batch_size = max_batch_size
        self._embed_batch.set_max_batch_size(max_batch_size)

    @serve.batch(
        max_batch_size=32,  # set per replica from the configuration (__init__)
        batch_wait_timeout_s=0.005,
        batch_size_fn=lambda chunks: sum(len(chunk) for chunk in chunks),
    )
    async def _embed_batch(self, chunks: list[list[str]]) -> list[list[list[float]]]:
        # Off the event loop: it is the replica's own loop (ray_env.SERVE_TUNING_ENV).
        texts = [text for chunk in chunks for text in chunk]
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        out, i = [], 0
        for chunk in chunks:
            out.append(vectors[i : i + len(chunk)])
            i += len(chunk)
        return out

    async def embed(self, texts: list[str]) -> Embedded | EngineFailure:
        tokens, failure = self.embedder.check_lengths(texts)
        if failure is not None:
            return failure
        size = self.max_batch_size
        parts = await asyncio.gather(
            *(self._embed_batch(texts[i : i + size]) for i in range(0, len(texts), size))
        )
        return Embedded([v for part in parts for v in part], tokens)


class AuditSequencerShell:
    """The one replica that orders, group-commits and signs the audit log (fail closed: if the
    log cannot be opened or verified at start, the deployment fails and nothing is served)."""

    async def __init__(
        self,
        audit: dict[str, Any],
        data_dir: str,
        log_level: str = "INFO",
        policy_files: list[str] | None = None,
    ) -> None:
        from policies.audit import AuditConfig, build_audit_log
        from policies.audit.retention import policy_retention
        from serving.audit_client import LocalAuditClient
        from serving.observability import configure_logging

        configure_logging(log_level)
        # Secrets (the PostgreSQL DSN, the signing key's path) come from the replica's
        # environment, e.g. a Kubernetes secret, never from the Serve config.
        env = {
            name: os.environ[f"BASTION_AUDIT__{name.upper()}"]
            for name in AuditConfig.model_fields
            if f"BASTION_AUDIT__{name.upper()}" in os.environ
        }
        config = AuditConfig.model_validate({**audit, **env})
        # Per-tenant capture retention: read from the policy documents at each expiry run.
        retention = policy_retention(policy_files) if policy_files else None
        log = await build_audit_log(config, Path(data_dir), retention=retention)
        self.client = LocalAuditClient(log)

    async def append(self, record: dict[str, Any], content: str | None = None) -> int:
        from policies.audit import AuditRecord

        return await self.client.append(AuditRecord.model_validate(record), content)

    async def query(self, filters: dict[str, Any], limit: int, cursor: int | None) -> dict:
        return await self.client.query(filters, limit, cursor)

    async def export(self, *args: Any) -> tuple[bytes, dict[str, Any]]:
        return await self.client.export(*args)

    async def checkpoint(self) -> dict[str, Any]:
        return await self.client.checkpoint()

    async def status(self) -> dict[str, Any]:
        return await self.client.status()

    async def summary(self, filters: dict[str, Any], bucket: int | None) -> dict[str, Any]:
        return await self.client.summary(filters, bucket)

    async def content(self, index: int, tenant: str | None) -> dict[str, Any]:
        return await self.client.content(index, tenant)

    async def shred(self, tenant: str) -> dict[str, Any]:
        return await self.client.shred(tenant)


class RaySites:
    """Sites with capacity: the ``site:<id>`` resources of the cluster's live nodes, refreshed
    every few seconds, so requests for a model pinned to an absent site fail at once."""

    def __init__(self, refresh_s: float = 5.0) -> None:
        self.refresh_s = refresh_s
        self._sites: set[str] = set()
        self._next = 0.0

    def available(self, site: str) -> bool:
        now = time.monotonic()
        if now >= self._next:
            self._sites = {
                key.removeprefix("site:")
                for key in ray.cluster_resources()
                if key.startswith("site:")
            }
            self._next = now + self.refresh_s
        return site in self._sites


class RayModelClient:
    """Adapts a ModelServer deployment handle to the pipeline's ModelClient protocol."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle
        self._streaming = handle.options(stream=True)  # built once, not per request

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta | EngineFailure]:
        response = self._streaming.generate.remote(request)
        done = False
        try:
            async for item in response:
                yield item
                done = isinstance(item, EngineFailure) or item.finish_reason is not None
        finally:
            if not done:
                response.cancel()  # client gone: stop generation in the replica

    async def info(self) -> dict[str, Any]:
        return await self.handle.info.remote()

    async def stats(self) -> dict[str, int]:
        return await self.handle.stats.remote()


class RayEmbedderClient:
    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    async def embed_request(self, texts: list[str]) -> Embedded | EngineFailure:
        return await self.handle.embed.remote(texts)


@serve.ingress()
class Ingress:
    """Ray replica running the gateway behind the FastAPI app (built per replica)."""

    def __init__(
        self,
        settings_data: dict[str, Any],
        models: dict[str, DeploymentHandle],
        embedder: DeploymentHandle,
        audit: DeploymentHandle,
    ) -> None:
        from models.registry import Registry
        from policies.access import KeyStore
        from policies.decide import PolicyEngine
        from privacy import Redactor
        from serving.gateway import Gateway
        from serving.observability import configure_logging
        from serving.pipeline.usage import UsageControl
        from serving.policy_reload import PolicyReloader, deployed_sites
        from state import open_state
        from state.purge import StatePurger

        self.settings = cfg = Settings.model_validate(settings_data)
        configure_logging(cfg.log_level)
        # Keys and the policy in force are shared by every replica (state/): the store the
        # audit settings name, its DSN from this replica's environment (BASTION_AUDIT__DSN).
        shared = open_state(cfg.audit, cfg.data_dir)
        policy = PolicyEngine.from_paths(cfg.policy_files())
        self.reloader = PolicyReloader(
            policy,
            cfg.policy_files(),
            shared,
            cfg.policy.reload_check_s,
            deployed_sites(cfg),
            models=cfg.models,
        )
        self.reloader.sync()  # serve the store's active policy from the first request
        self.reloader.start()  # then follow it every reload_check_s
        self.purger = StatePurger(shared, cfg.server.state_purge_interval_s)
        self.purger.start()  # expired values and counters leave the store
        from serving.metrics_cluster import ReplicaMetrics

        # one /metrics for every ingress replica, shared through the store (docs/observability.md)
        self.metrics = ReplicaMetrics(shared, _replica_id())
        self.metrics.start()
        redactor = Redactor(cfg.privacy)
        redactor.warmup()  # load spaCy now, not on the first request
        # The one catalog; its aliases follow the shared store (docs/models.md).
        self.registry = Registry(
            cfg.models,
            cfg.embeddings,
            policy.policy_set,
            cfg.site,
            cfg.registry.prompts,
            cfg.registry.require_eval,
        )
        self.registry.follow(shared, cfg.policy.reload_check_s, cfg.registry.initial_aliases())
        self.gateway = Gateway(
            KeyStore(shared, cache_s=cfg.policy.reload_check_s),
            self.registry,
            policy,
            RaySites(),
            {key: RayModelClient(handle) for key, handle in models.items()},
            RayEmbedderClient(embedder),
            redactor,
            capture=cfg.audit.capture == "redacted",
        )
        self.gateway.structured_retries = cfg.structured_output.retries  # structured.py
        # the semantic cache: entries in the shared store, the Embedder deployment as embedder
        from serving.semantic_cache.cache import SemanticCache

        self.gateway.cache = SemanticCache.from_settings(cfg, shared, self.gateway.embedder, policy)
        # usage ledger, budgets and rate limits, shared by every replica through the store
        self.gateway.usage = UsageControl.from_settings(cfg, shared, policy)
        self.audit = RayAuditClient(audit)

    def __serve_build_asgi_app__(self) -> Any:
        from serving.api import create_api
        from serving.limits import request_limits

        server = self.settings.server
        api = create_api(
            server.max_body_bytes,
            server.metrics_public,
            behind_ray=True,
            limits=request_limits(self.settings),
            openapi_public=server.openapi_public,
        )
        api.state.gateway = self.gateway
        api.state.policy_reloader = self.reloader
        api.state.audit = self.audit
        api.state.cluster_metrics = self.metrics
        from serving.batch.service import attach_batch

        # the Batch API and its worker (docs/batch.md); files sealed under the audit KEK
        cfg = self.settings
        attach_batch(api, cfg.batch, cfg.audit.resolve_kek_file(cfg.data_dir))
        api.add_middleware(ReplicaHeader, replica=_replica_id())
        return api


def _replica_id() -> str:
    try:
        return str(serve.get_replica_context().replica_id.unique_id)
    except Exception:  # outside a Serve replica
        return "local"


class ReplicaHeader:
    """ASGI middleware: ``x-bastion-replica`` names the ingress replica that served a response
    (operators and the two-replica test tell replicas apart by it; no request data)."""

    def __init__(self, app: Any, replica: str) -> None:
        self.app = app
        self.header = (b"x-bastion-replica", replica.encode("ascii", "replace"))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_replica(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_replica)


def build_app(settings: Settings) -> Application:
    """The whole application graph for ``serve.run`` (local) or a Serve config (cluster).

    Refuses (PolicyDocumentError, PolicySiteMismatch) documents that do not load or that place
    a configured model on another site, as ``bastion serve`` does; publishes them otherwise."""
    from serving.policy_reload import placed_settings, prepare_policy

    prepare_policy(settings)
    settings = placed_settings(settings)  # each version's site, declared once in policy
    data = settings.model_dump(mode="json")
    models = {
        m.key: serve.deployment(
            ModelServerShell, name=deployment_name(m), **_options(m, {site_resource(m.site): 0.001})
        ).bind(m.model_dump(mode="json"), settings.log_level)
        for m in settings.models
    }
    emb = settings.embeddings
    embedder = serve.deployment(
        EmbedderShell, name="Embedder", **_options(emb, {site_resource(emb.site): 0.001})
    ).bind(emb.name, emb.path, emb.max_batch_size)
    audit = serve.deployment(AuditSequencerShell, **SEQUENCER_OPTIONS).bind(
        settings.audit.model_dump(mode="json"),
        str(settings.data_dir),
        settings.log_level,
        [str(p) for p in settings.policy_files()],
    )
    ingress = serve.deployment(Ingress, name="Ingress", **_options(settings.ingress))
    return ingress.bind(data, models, embedder, audit)


def build_app_from_args(args: dict[str, Any]) -> Application:
    """Entry point for ``serve deploy`` / RayService: ``args: {settings: {...}}``."""
    return build_app(Settings.model_validate(args.get("settings", {})))


def serve_config(settings: Settings) -> dict[str, Any]:
    """The Ray Serve config (for ``serve deploy`` or a KubeRay RayService) equivalent to
    what ``bastion serve`` runs locally with the same settings."""
    deployments = [{"name": "Ingress", **_options(settings.ingress)}]
    deployments.append(dict(SEQUENCER_OPTIONS))
    emb = settings.embeddings
    deployments.append({"name": "Embedder", **_options(emb, {site_resource(emb.site): 0.001})})
    for m in settings.models:
        deployments.append(
            {"name": deployment_name(m), **_options(m, {site_resource(m.site): 0.001})}
        )
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": "0.0.0.0", "port": settings.server.port},
        "logging_config": dict(SERVE_LOGGING),
        "applications": [
            {
                "name": "bastion",
                "route_prefix": "/",
                "import_path": "serving.app:build_app_from_args",
                "runtime_env": {"env_vars": worker_env()},
                "args": {"settings": settings.model_dump(mode="json")},
                "deployments": deployments,
            }
        ],
    }


def local_ray_resources(settings: Settings) -> dict[str, float]:
    return {site_resource(settings.site): 1000.0}


def default_cpus(settings: Settings) -> int:
    return settings.server.ray_num_cpus or max(4, os.cpu_count() or 1)
