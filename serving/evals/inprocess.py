"""The whole Bastion pipeline in this process, without Ray: the same HTTP app, gateway and
stages ``bastion serve`` runs, over the configured policy, catalog and bundled models, with a
throwaway key store and audit log (eval traffic is not the service's). ``bastion eval run``
talks to it with the official openai SDK, exactly as it talks to a running server."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.config import Settings

__all__ = ["InProcess", "in_process", "wanted_versions"]

log = logging.getLogger("bastion.evals")


@dataclass
class InProcess:
    app: Any  # the FastAPI app
    key: str  # an app key of ``tenant`` in the throwaway key store
    tenant: str
    embedder: Any
    redactor: Any


def wanted_versions(settings: Settings, registry: Any, model: str) -> list[str]:
    """The generating versions ``model`` (name, name@version or alias) can be served by."""
    try:
        return [registry.resolve(model).key]
    except LookupError:
        pass
    assignment = registry.aliases.get(model)
    if assignment is not None:
        return list(assignment.versions())
    # a policy alias or a prompt template: every configured generating version
    return [m.key for m in settings.models if m.engine != "openai"]


def _tenant_for(policy: Any, model: str, tenant: str | None) -> str:
    tenants = policy.policy_set.tenants
    if tenant is not None:
        return tenant
    fits = [t.id for t in tenants if model in t.models or model.split("@")[0] in t.models]
    if not fits:
        raise ValueError(f"no tenant of the policy may call {model!r}: name one with --tenant")
    return fits[0]


@contextlib.asynccontextmanager
async def in_process(
    settings: Settings, model: str, tenant: str | None = None
) -> AsyncIterator[InProcess]:
    from models.deployment import ModelServer
    from models.embeddings import Embedder
    from models.engines import create_engine
    from models.registry import Registry
    from policies.access import KeyStore, Role
    from policies.audit import AuditConfig, build_audit_log
    from policies.decide import PolicyEngine
    from privacy import Redactor
    from serving.api import create_api
    from serving.audit_client import LocalAuditClient
    from serving.gateway import Gateway, StaticSites

    policy = PolicyEngine.from_paths(settings.policy_files())
    registry = Registry(
        settings.models, settings.embeddings, policy.policy_set, settings.site,
        settings.registry.prompts,
    )  # fmt: skip
    registry.aliases = _aliases(settings, registry)
    keys_needed = wanted_versions(settings, registry, model)
    tenant = _tenant_for(policy, model, tenant)
    with tempfile.TemporaryDirectory(prefix="bastion-eval-") as tmp:
        work = Path(tmp)
        keys = KeyStore(work / "keys.db")
        key = keys.create(tenant, Role.APP, "eval")[0]
        servers: dict[str, Any] = {}
        for cfg in settings.models:
            if cfg.key in keys_needed:
                server = ModelServer(create_engine(cfg), cfg.default_max_tokens)
                await server.start()
                servers[cfg.key] = server
        embedder = Embedder(settings.embeddings.name, settings.embeddings.path)
        embedder.start()
        redactor = Redactor(settings.privacy)
        redactor.warmup()
        sites = {mv.site for mv in registry.versions() if mv.key in servers or mv.kind == "embed"}
        gateway = Gateway(keys, registry, policy, StaticSites(sites), servers, embedder, redactor)
        gateway.structured_retries = settings.structured_output.retries
        audit_log = await build_audit_log(AuditConfig(), work)
        app = create_api(settings.server.max_body_bytes)
        app.state.gateway = gateway
        app.state.audit = LocalAuditClient(audit_log)
        try:
            yield InProcess(app, key, tenant, embedder, redactor)
        finally:
            await audit_log.close()
            for server in servers.values():
                with contextlib.suppress(Exception):
                    stop = getattr(server.engine, "close", None)
                    if stop is not None:
                        await stop()


def _aliases(settings: Settings, registry: Any) -> Any:
    """The aliases as the shared store holds them now (read once), else as configured."""
    from models.aliases import StaticAliases

    try:
        from state import open_state

        store = open_state(settings.audit, settings.data_dir, migrate=False)
        return registry.follow(store, 3600, settings.registry.initial_aliases(), start=False)
    except Exception as exc:  # no store here: the configured starting points
        log.info("aliases from the configuration", extra={"error_type": type(exc).__name__})
        return StaticAliases()
