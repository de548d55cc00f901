"""Changing aliases, for the admin API (serving/http/admin.py) and ``bastion models``
(models/cli.py): one validation, one audit detail (who is the caller's; what, before and
after are here), and the semantic cache of the versions involved invalidated."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.aliases import AliasError, AliasFollower, Change, describe
from state import StateStore

__all__ = [
    "AliasRequest",
    "alias_detail",
    "apply_change",
    "invalidate_cache",
    "parse_weights",
    "registry_view",
]

log = logging.getLogger("bastion.registry")


class AliasRequest(BaseModel):
    """Body of POST /v1/admin/aliases/{promote,split,rollback}."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(..., min_length=1, max_length=63)
    version: str | None = Field(None, max_length=200, description="promote: the target.")
    weights: dict[str, int] | None = Field(
        None, max_length=8, description="split: version id → weight, e.g. {m@v1: 90, m@v2: 10}."
    )
    eval_result: dict[str, Any] | None = Field(
        None,
        description="promote of an alias listed in registry.require_eval: the result file "
        "`bastion eval run --out` wrote for the target version.",
    )


def parse_weights(items: Iterable[str]) -> list[tuple[str, int]]:
    """``["m@v1=90", "m@v2=10"]`` → ``[("m@v1", 90), ("m@v2", 10)]``."""
    out = []
    for item in items:
        version, sep, weight = item.rpartition("=")
        if not sep or not version or not weight.isdigit():
            raise AliasError("write each arm as VERSION=WEIGHT, e.g. m@v2=10")
        out.append((version, int(weight)))
    return out


def apply_change(
    follower: AliasFollower,
    action: str,
    body: AliasRequest,
    require_eval: frozenset[str] = frozenset(),
) -> Change:
    """Apply one change to the shared store (raises AliasError for a bad one). A promote of an
    alias in ``require_eval`` needs ``body.eval_result``: a passing eval of the target version
    (serving/evals/gate.py), or it is refused."""
    if action == "promote":
        if not body.version:
            raise AliasError("promote needs a version")
        if body.alias in require_eval:
            from serving.evals.gate import passed_result

            if body.eval_result is None or not passed_result(body.eval_result, body.version):
                raise AliasError(
                    f"alias {body.alias} requires a passing eval result for {body.version} "
                    "(bastion eval run ... --out RESULT.json, then promote with --eval "
                    "RESULT.json)"
                )
        return follower.promote(body.alias, body.version)
    if action == "split":
        if not body.weights:
            raise AliasError("split needs weights")
        return follower.split(body.alias, list(body.weights.items()))
    if action == "rollback":
        return follower.rollback(body.alias)
    raise AliasError("unknown alias action")


def parse_request(raw: bytes) -> AliasRequest:
    try:
        return AliasRequest.model_validate(json.loads(raw or b"{}"))
    except (ValueError, ValidationError) as exc:
        raise AliasError("the body must be {alias, version} or {alias, weights}") from exc


def alias_detail(change: Change) -> dict[str, str | int]:
    """The audit record's facts: what changed, from what, to what (one token per arm, so a
    long split never overflows a field)."""
    detail: dict[str, str | int] = {
        "alias": change.alias,
        "action": change.action,
        "revision": change.after.revision,
    }
    for side, assignment in (("before", change.before), ("after", change.after)):
        if assignment is None:
            detail[side] = "none"
            continue
        for i, (version, weight) in enumerate(assignment.arms):
            detail[f"{side}.{i}"] = f"{version}:{weight}"
    return detail


def invalidate_cache(store: StateStore, change: Change, kind: str) -> None:
    """Cached answers of every version the alias pointed or points at are dropped (the
    semantic cache, when this build has one)."""
    try:
        from serving.semantic_cache import invalidate  # type: ignore[attr-defined]
    except ImportError:
        return
    versions = set(change.after.versions) | set(change.before.versions if change.before else ())
    for version in sorted(versions):
        try:
            if kind == "prompt":
                invalidate(store, template=version)
            else:
                invalidate(store, version)
        except Exception as exc:  # the change stands; stale answers expire with their TTL
            log.error("cache invalidation failed", extra={"error_type": type(exc).__name__})


def registry_view(registry: Any) -> dict[str, Any]:
    """Versions, prompt templates and aliases (GET /v1/admin/registry, ``bastion models
    list``). Template texts are left out: only ids and variable names."""
    return {
        "models": [
            {"id": mv.key, "site": mv.site, "engine": mv.engine, "kind": mv.kind}
            for mv in registry.versions()
        ],
        "prompts": [{"id": t.key, "variables": sorted(t.variables)} for t in registry.prompts],
        "aliases": {
            alias: {
                "targets": dict(a.arms),
                "revision": a.revision,
                "last_action": a.action,
                "changed_at": a.at,
                "rollback_to": a.back,
                "describe": describe(a),
            }
            for alias, a in sorted(registry.aliases.all().items())
        },
    }
