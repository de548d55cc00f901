"""The policy in force, the same on every ingress replica, through the state store.

Publishing: the start of the application (``build_app``), ``bastion policy reload``, SIGHUP to
``bastion serve`` and ``POST /v1/admin/policy/reload`` all read the configured documents,
validate them, check that they agree with the configuration on each model's site and, only if
all of that holds, store them (version and texts) as the store's active policy. A bad set is
rejected and the policy in force stays.

Following: each ingress replica reads the store's active version every
``policy.reload_check_s`` seconds (a background thread, :meth:`PolicyReloader.start`; requests
may also call the cheap :meth:`PolicyReloader.poll`); when it differs from its own, the replica
compiles the stored texts and swaps its engine in one assignment. A stored set that fails to
compile there is logged and skipped; the old one stays in force.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies.decide import PolicyEngine
from policies.documents import PolicyDocumentError, PolicyIssue, PolicySet, load_texts
from state import StateError, StateStore, StoredPolicy, open_state
from state.periodic import Periodic

if TYPE_CHECKING:
    from serving.config import Settings

__all__ = [
    "PolicyReloader",
    "PolicySiteMismatch",
    "deployed_sites",
    "placed_settings",
    "prepare_policy",
    "read_policy",
    "reload_configured",
    "request_reload",
]

log = logging.getLogger("bastion.policy")


class PolicySiteMismatch(PolicyDocumentError):
    """The configuration runs a model version on another site than policy places it (a
    rejected document set, like any other PolicyDocumentError)."""

    def __init__(self, mismatches: Sequence[tuple[str, str, str]]) -> None:
        self.mismatches = tuple(mismatches)
        super().__init__(
            [
                PolicyIssue(
                    "<configuration>",
                    None,
                    None,
                    f"model {key} is configured on site {site} but policy places it on {declared}",
                )
                for key, site, declared in self.mismatches
            ]
        )


def _sources(files: Sequence[Path]) -> list[tuple[str, str]]:
    """(name, text) of each document: files as given, folders as their sorted *.yaml/*.yml."""
    paths: list[Path] = []
    for path in map(Path, files):
        if path.is_dir():
            paths.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            paths.append(path)
    sources, issues = [], []
    for path in paths:
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as err:
            issues.append(PolicyIssue(str(path), None, None, f"cannot read: {type(err).__name__}"))
    if issues:
        raise PolicyDocumentError(issues)
    return sources


def read_policy(
    files: Sequence[Path], deployed: Mapping[str, str | None] | None = None
) -> tuple[PolicySet, StoredPolicy]:
    """Read and validate ``files``; with ``deployed`` (model version → configured site, None
    when the configuration leaves it to policy), also check the sites. Raises
    PolicyDocumentError (PolicySiteMismatch for a site)."""
    from models.registry import policy_sites, site_mismatches

    sources = _sources(files)
    policy = load_texts(sources)
    if deployed and (wrong := site_mismatches(deployed, policy_sites(policy))):
        raise PolicySiteMismatch(wrong)
    return policy, StoredPolicy(policy.version, tuple(sources))


def request_reload(
    files: Sequence[Path], state: StateStore, deployed: Mapping[str, str] | None = None
) -> str:
    """Validate ``files`` and make them the active policy of every replica; returns the
    version. Raises PolicyDocumentError / PolicySiteMismatch (nothing is published)."""
    _, stored = read_policy(files, deployed)
    return state.publish_policy(stored)


def deployed_sites(settings: Settings) -> dict[str, str | None]:
    """Each configured model version (and the embedder) → the site the configuration gives
    (None: left to the policy documents, where the site is declared once)."""
    from models.registry import configured_sites

    return configured_sites(settings)


def placed_settings(settings: Settings) -> Settings:
    """``settings`` with every model version's site taken from the policy documents (the one
    place it is declared; models/registry.py). Raises PolicyDocumentError, or
    PolicySiteMismatch when the configuration names another site than policy."""
    from models.registry import place

    policy, _ = read_policy(settings.policy_files(), deployed_sites(settings))
    return place(settings, policy)


def _check_hosts(models: Sequence[Any], policy: Any) -> None:
    """Engine openai residency: every upstream host is listed for its model's site (the
    policy's, where the configuration leaves the site to it)."""
    from models.engines.openai import check_upstream_hosts
    from models.registry import policy_sites

    declared = policy_sites(policy)
    models = [
        m if m.site is not None else m.model_copy(update={"site": declared.get(m.key)})
        for m in models
    ]
    if problems := check_upstream_hosts(models, policy):
        raise PolicyDocumentError([PolicyIssue("<configuration>", None, None, p) for p in problems])


def _moved(state: StateStore, settings: Settings, policy: PolicySet) -> list[tuple[str, str, str]]:
    """Versions whose site the configuration leaves to policy and that ``policy`` would move
    away from where the policy in force placed them (they run there until a restart)."""
    from models.registry import policy_sites, site_mismatches

    active = state.active_policy()
    if active is None:
        return []
    try:
        running = policy_sites(load_texts(active.documents))
    except PolicyDocumentError:
        return []
    unset = [key for key, site in deployed_sites(settings).items() if site is None]
    placed = {key: running.get(key) for key in unset}
    return site_mismatches(placed, policy_sites(policy))


def reload_configured(settings: Settings, live: bool = True) -> str:
    """`bastion policy reload` and SIGHUP: publish the configured documents. ``live``: the
    application is running, so no version may move to another site (a restart may)."""
    files = settings.policy_files()
    policy, stored = read_policy(files, deployed_sites(settings))
    _check_hosts(settings.models, policy)
    state = open_state(settings.audit, settings.data_dir, migrate=False)
    try:
        if live and (moved := _moved(state, settings, policy)):
            raise PolicySiteMismatch(moved)
        return state.publish_policy(stored)
    finally:
        state.close()


def prepare_policy(settings: Settings) -> str:
    """At application start (``build_app``, so also on the RayService path): the documents
    load, agree with the configuration on every model's site, and become the policy in force.
    Raises PolicyDocumentError (PolicySiteMismatch for a site) or state.StateError."""
    return reload_configured(settings, live=False)


class PolicyReloader:
    """Owned by one ingress replica: keeps its engine on the store's active policy.

    ``state`` is the shared store, or a data folder (its SQLite state file; one host).
    """

    def __init__(
        self,
        engine: PolicyEngine,
        files: list[Path],
        state: StateStore | Path,
        every_s: float = 1.0,
        deployed: Mapping[str, str | None] | None = None,
        models: Sequence[Any] = (),
    ) -> None:
        """``models``: the configured model versions, so that a reload from the admin API is
        refused when an ``engine: openai`` version's upstream host is not listed for its site."""
        if isinstance(state, str | Path):
            from state.sqlite import SqliteStateStore

            state = SqliteStateStore(Path(state) / "state.db")
        self.engine = engine
        self.files = files
        self.state: StateStore = state
        self.every_s = every_s
        self.deployed = dict(deployed or {})
        self.models = list(models)
        self._next = 0.0
        self._rejected: str | None = None
        self._sync_lock = threading.Lock()
        self._loop = Periodic("policy-reloader", every_s, self._tick)

    def start(self) -> None:
        """Check the store every ``every_s`` seconds on a daemon thread, whether or not
        requests arrive (a replica that serves no decision still follows the policy)."""
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _tick(self) -> None:
        self._next = 0.0
        self.poll()

    def poll(self) -> None:
        """Cheap: at most one read of the active version every ``every_s`` seconds; never
        raises (a store outage is logged and the policy in force stays)."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        try:
            self.sync()
        except StateError as exc:
            log.error("policy check failed; policy in force stays", extra={"error": str(exc)})

    def sync(self) -> bool:
        """Adopt the store's active policy if it differs from the one in force. True on a swap."""
        with self._sync_lock:
            return self._sync()

    def _sync(self) -> bool:
        version = self.state.active_policy_version()
        if version is None or version == self.engine.version or version == self._rejected:
            return False
        stored = self.state.active_policy()
        if stored is None:
            return False
        old = self.engine.version
        try:
            new = self.engine.install(load_texts(stored.documents))
        except PolicyDocumentError as exc:
            self._rejected = stored.version
            log.error(
                "stored policy rejected; previous policy stays in force",
                extra={"policy_version": old, "problems": len(exc.issues)},
            )
            return False
        log.info("policy reloaded", extra={"policy_version": new, "previous_version": old})
        return True

    def reload(self) -> str:
        """The admin API: validate this replica's configured documents, publish them to every
        replica and swap them in here at once. On any error the old set stays in force."""
        old = self.engine.version
        try:
            policy, stored = read_policy(self.files, self.deployed)
            _check_hosts(self.models, policy)
        except PolicyDocumentError as exc:
            log.error(
                "policy reload rejected; previous policy stays in force",
                extra={"policy_version": old, "error_type": type(exc).__name__},
            )
            raise
        self.state.publish_policy(stored)
        new = self.engine.install(policy)
        self._rejected = None
        log.info("policy reloaded", extra={"policy_version": new, "previous_version": old})
        return new
