"""The services one ingress replica serves requests with (keys, catalog, policy, sites, model
clients, embedder, redaction), and the read-only views over them that the model listing,
readiness and admin routes show. The request path itself is serving/pipeline/; this module
holds no per-request logic and imports no HTTP or Ray."""

from __future__ import annotations

import asyncio
from typing import Any

from models.registry import DeployedModel, Registry
from policies.access import KeyStore, Principal
from policies.decide import PolicyEngine
from privacy import Redactor
from serving.pipeline.errors import (
    InvalidRequest,
    ModelUnavailable,
    PermissionDenied,
    UpstreamError,
)
from serving.pipeline.generate import EmbedderClient, ModelClient
from serving.pipeline.route import Sites, StaticSites
from serving.redaction_batcher import RedactionBatcher

__all__ = [
    "EmbedderClient",
    "Gateway",
    "InvalidRequest",
    "ModelClient",
    "ModelUnavailable",
    "PermissionDenied",
    "Sites",
    "StaticSites",
    "UpstreamError",
]


class Gateway:
    def __init__(
        self,
        keys: KeyStore,
        registry: Registry,
        policy: PolicyEngine,
        sites: Sites,
        models: dict[str, ModelClient],
        embedder: EmbedderClient | None,
        redactor: Redactor | None,
        capture: bool = False,
    ) -> None:
        self.capture = capture  # audit.capture == "redacted": keep redacted text for the log
        self.redactor = redactor
        self.batcher = RedactionBatcher(redactor) if redactor is not None else None
        self.keys = keys
        self.registry = registry
        self.policy = policy
        self.sites = sites
        self.models = models
        self.embedder = embedder

    async def list_models(self, principal: Principal) -> dict[str, Any]:
        """The model versions this tenant may call (by policy), with where they run and
        whether they can serve now."""
        allowed = set(self.policy.models_for_tenant(principal.tenant))
        keys = [mv.key for mv in self.registry.versions() if mv.key in allowed]
        infos = await asyncio.gather(*(self._ready(key) for key in keys), return_exceptions=True)
        data = []
        for key, ready in zip(keys, infos, strict=True):
            mv = self.registry.resolve(key)
            card = _model_card(key, mv, ready is True, self.sites.available(mv.site))
            data.append(card)
            if self.registry.is_default(mv):
                data.append({**card, "id": mv.name})
        data += _alias_cards(self.registry, {c["id"]: c for c in data})
        return {"object": "list", "data": data}

    async def _ready(self, key: str) -> bool:
        mv = self.registry.resolve(key)
        if not self.sites.available(mv.site):
            return False
        if mv.kind == "embed":
            return self.embedder is not None
        client = self.models.get(key)
        if client is None:
            return False
        try:
            info = await asyncio.wait_for(client.info(), timeout=5)
        except Exception:
            return False
        return bool(info.get("ready"))

    async def model_stats(self) -> dict[str, Any]:
        """Per model version: generations active, completed and cancelled (admin view);
        None for a version that has no running replica (e.g. its site is absent)."""

        async def one(key: str) -> dict[str, int] | None:
            if not self.sites.available(self.registry.resolve(key).site):
                return None
            try:
                return await asyncio.wait_for(self.models[key].stats(), timeout=5)
            except Exception:
                return None

        keys = list(self.models)
        stats = await asyncio.gather(*(one(k) for k in keys))
        return dict(zip(keys, stats, strict=True))

    async def readiness(self) -> dict[str, str]:
        """Per deployed model version: "ready", "loading", or "unavailable" (its site has no
        capacity in this cluster, so it cannot start here)."""
        keys = [mv.key for mv in self.registry.versions()]
        states = await asyncio.gather(*(self._ready(k) for k in keys))
        return {
            key: "ready"
            if ok
            else (
                "loading"
                if self.sites.available(self.registry.resolve(key).site)
                else "unavailable"
            )
            for key, ok in zip(keys, states, strict=True)
        }


def _alias_cards(registry: Registry, cards: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Aliases (docs/models.md) whose every arm the tenant may call (``cards``)."""
    out = []
    for alias, assignment in sorted(registry.aliases.all().items()):
        if all(version in cards for version in assignment.versions):
            out.append(
                {
                    "id": alias,
                    "object": "model",
                    "created": 0,
                    "owned_by": "bastion",
                    "alias_of": dict(assignment.arms),
                    "ready": all(cards[v]["ready"] for v in assignment.versions),
                }
            )
    return out


def _model_card(model_id: str, mv: DeployedModel, ready: bool, available: bool) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": "bastion",
        "version": mv.version,
        "site": mv.site,
        "engine": mv.engine,
        "context_length": mv.context_length,
        "kind": mv.kind,
        "site_available": available,
        "ready": ready,
    }
