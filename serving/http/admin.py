"""Admin and operations routes: model stats, policy reload, metrics, liveness, readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from policies.access import Role
from serving.http.drive import respond
from serving.observability import refresh_model_readiness, render_metrics
from serving.pipeline import RequestState, UpstreamError

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/admin/models")
async def admin_models(request: Request) -> Response:
    async def work(_: RequestState) -> dict:
        return {"models": await request.app.state.gateway.model_stats()}

    return await respond(request, work, (Role.ADMIN,))


@router.post("/v1/admin/policy/reload")
async def admin_policy_reload(request: Request) -> Response:
    async def work(st: RequestState) -> dict:
        reloader = request.app.state.policy_reloader
        if reloader is None:
            raise UpstreamError("policy reload is not configured")
        # Validates the configured documents and makes them the policy of every replica; a
        # rejected set raises PolicyDocumentError (→ 400) and the policy in force stays.
        version = reloader.reload()
        st.detail = {"policy_version": version}
        return {"policy_version": version}

    return await respond(request, work, (Role.ADMIN,))


@router.get("/v1/admin/registry")
async def admin_registry(request: Request) -> Response:
    async def work(_: RequestState) -> dict:
        from serving.registry_admin import registry_view

        return registry_view(request.app.state.gateway.registry)

    return await respond(request, work, (Role.ADMIN,))


@router.post("/v1/admin/aliases/{action}")
async def admin_alias(request: Request, action: str) -> Response:
    """promote {alias, version} | split {alias, weights} | rollback {alias} (docs/models.md)."""

    async def work(st: RequestState) -> dict:
        from models.aliases import AliasError, AliasFollower
        from serving.pipeline.errors import InvalidRequest
        from serving.registry_admin import apply_change, parse_request

        registry = request.app.state.gateway.registry
        aliases = registry.aliases
        if not isinstance(aliases, AliasFollower):
            raise UpstreamError("aliases are not kept in a state store here")
        assert st.read_body is not None
        body = await st.read_body()
        try:  # store writes off the event loop
            change = await asyncio.to_thread(
                apply_change, aliases, action, parse_request(body), registry.require_eval
            )
        except AliasError as exc:
            raise InvalidRequest(str(exc), "alias") from None
        from serving.registry_admin import alias_detail, invalidate_cache

        st.detail = alias_detail(change)
        kind = registry.targets()[change.after.arms[0][0]]
        await asyncio.to_thread(invalidate_cache, aliases.store, change, kind)
        return {"alias": change.alias, "revision": change.after.revision, **st.detail}

    return await respond(request, work, (Role.ADMIN,))


@router.post("/v1/admin/cache/invalidate")
async def admin_cache_invalidate(request: Request) -> Response:
    """Delete the semantic cache's entries of the admin's tenant (body: optional
    ``model_version``, ``template``); serving/semantic_cache/admin.py."""

    async def work(st: RequestState) -> dict:
        from serving.semantic_cache.admin import invalidate_for_tenant

        cache = getattr(request.app.state.gateway, "cache", None)
        if cache is None:
            raise UpstreamError("the semantic cache is not configured")
        assert st.principal is not None and st.read_body is not None
        raw = await st.read_body()
        body, st.detail = invalidate_for_tenant(cache.store, st.principal.tenant, raw)
        return body

    return await respond(request, work, (Role.ADMIN,))


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    async def work(_: RequestState) -> Response:
        await refresh_model_readiness(request.app.state.gateway)  # bastion_model_ready
        # under Ray Serve: every ingress replica's series (serving/metrics_cluster.py)
        cluster = getattr(request.app.state, "cluster_metrics", None)
        body = await asyncio.to_thread(cluster.render) if cluster else render_metrics()
        return Response(body, media_type="text/plain; version=0.0.4")

    public = request.app.state.metrics_public
    return await respond(request, work, None if public else ())


@router.get("/healthz")
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    gw = request.app.state.gateway
    models = await gw.readiness() if gw is not None else {}
    # Ready when every model that can run in this cluster is loaded; models pinned to an
    # absent site are reported "unavailable" and do not hold readiness back.
    placeable = [state for state in models.values() if state != "unavailable"]
    ready = bool(placeable) and all(state == "ready" for state in placeable)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "models": models},
        status_code=200 if ready else 503,
    )
