"""Stage 1: the bearer key → principal (tenant, role, key id). First, for every request and
every body: nothing about the request is read before the key is checked."""

from __future__ import annotations

from typing import Protocol

from policies.access import AuthenticationFailed, KeyStore, Principal, Role
from serving.observability import METRICS
from serving.pipeline.errors import PermissionDenied
from serving.pipeline.stage import Stage
from serving.pipeline.state import RequestState

__all__ = ["Authenticate", "Keys"]


class Keys(Protocol):
    """The key store's interface as this stage uses it (policies/access.py)."""

    def authenticate(self, bearer: str | None) -> Principal: ...


class Authenticate(Stage):
    """Owns ``principal`` and ``key_id_attempted``. ``roles``: the roles this route admits
    (empty: any role)."""

    name = "authenticate"

    def __init__(self, keys: Keys, roles: tuple[Role, ...] = ()) -> None:
        self.keys = keys
        self.roles = roles

    async def before(self, state: RequestState) -> None:
        try:
            principal = self.keys.authenticate(state.bearer)
        except AuthenticationFailed:
            METRICS.auth_failures.inc()
            state.key_id_attempted = KeyStore.key_id_of(state.bearer)
            raise
        state.principal = principal
        if self.roles and principal.role not in self.roles:
            raise PermissionDenied(f"role '{principal.role}' may not use this endpoint")
