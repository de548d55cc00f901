"""The ``bastion`` command line."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from models import cli as models_cli
from policies import cli as policy_cli
from policies.audit import cli as audit_cli
from privacy import cli as privacy_cli
from serving import usage_cli
from serving.batch import cli as batch_cli
from serving.config import ConfigError, Settings, load_settings
from serving.datadir import private_umask
from serving.evals import cli as eval_cli
from serving.semantic_cache import cli as cache_cli

if TYPE_CHECKING:
    from policies.access import KeyStore

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Bastion inference server.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(keys_app, name="keys")
app.add_typer(policy_cli.app, name="policy")
app.add_typer(models_cli.app, name="models")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(cache_cli.app, name="cache")
app.add_typer(batch_cli.app, name="batch")
app.add_typer(eval_cli.app, name="eval")
app.command("usage", help="A tenant's usage and cost, from the usage ledger in the state store.")(
    usage_cli.usage
)
app.command("redact", help='Redact identifiers: JSON Lines {"text"} on stdin (or --text).')(
    privacy_cli.redact
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="bastion.yaml (default: $BASTION_CONFIG).")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="BASTION_DATA_DIR", help="Data folder (keys, audit, state)."),
]


def _settings(config: Path | None, data_dir: Path | None = None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings.model_copy(update={"data_dir": settings.data_dir.expanduser().resolve()})


def _bootstrap(settings: Settings) -> str | None:
    """Create the data folder and, on first start, one admin key (returned once) and, when no
    policy files are configured, a bootstrap policy for the local site."""
    from policies.access import Role
    from policies.defaults import bootstrap_policy_yaml

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    policy = settings.data_dir / "policy.yaml"
    if not settings.policy.files and not policy.exists():
        emb = settings.embeddings
        # A site left to policy is the node's own in the policy written here.
        local = [m.key for m in settings.models if (m.site or settings.site) == settings.site]
        if (emb.site or settings.site) == settings.site:
            local.append(f"{emb.name}@{emb.version}")
        policy.write_text(bootstrap_policy_yaml(settings.site, "default", local))
    store = _key_store(settings)
    if store.count() == 0:
        key, info = store.create("default", Role.ADMIN, name="bootstrap")
        _audit_admin_event(
            settings, "key.created", {"key_id": info.key_id, "role": "admin", "tenant": "default"}
        )
        return key
    return None


def _check_policy(settings: Settings) -> Settings:
    """The policy must load, and agree with the configuration on where each model runs (the
    site is declared once, in the policy documents). Returns ``settings`` with every model
    version's site filled in from the policy (models/registry.py ``place``)."""
    from models.engines.openai import check_upstream_hosts
    from models.registry import configured_sites, place, policy_sites, site_mismatches
    from policies.decide import PolicyEngine
    from policies.documents import PolicyDocumentError

    try:
        engine = PolicyEngine.from_paths(settings.policy_files())
    except PolicyDocumentError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo("policy documents rejected; not starting", err=True)
        raise typer.Exit(2) from None
    declared = policy_sites(engine.policy_set)
    for key, site, where in site_mismatches(configured_sites(settings), declared):
        typer.echo(
            f"model {key} is configured on site {site} but policy places it on {where}",
            err=True,
        )
        raise typer.Exit(2)
    settings = place(settings, engine.policy_set)
    for problem in (problems := check_upstream_hosts(settings.models, engine.policy_set)):
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(2)
    return settings


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Start a local Ray instance and run the Bastion application on it."""
    settings = _settings(config, data_dir)
    server = settings.server.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    settings = settings.model_copy(update={"server": server})

    from serving import ray_env

    os.environ.update(ray_env.OFFLINE_ENV)
    os.environ.update(ray_env.LOCAL_ENV)  # one host: Ray keeps its servers on loopback
    tuning = ray_env.apply(ray_env.SERVE_TUNING_ENV)  # an operator's own values win
    proxy_port = settings.server.port
    if settings.server.direct_ingress:
        _check_direct_ingress(settings)
        proxy_port = settings.server.proxy_port or _free_port(settings.server.host)
    # Follows the configuration, whatever the environment says: clients expect server.port.
    os.environ.update(ray_env.ingress_env(settings.server.direct_ingress, settings.server.port))

    # Ray Serve reads its settings when first imported: only after the environment is set.
    from serving.app import SERVE_LOGGING, build_app, default_cpus, local_ray_resources
    from serving.observability import DRIVER_LOGGERS, configure_logging

    configure_logging(settings.log_level, DRIVER_LOGGERS)
    _check_ports(settings, proxy_port)
    _warn_loose_files(settings)
    key = _bootstrap(settings)
    settings = _check_policy(settings)
    if key is not None:
        typer.echo("Bootstrap admin API key for tenant 'default' (shown once, store it safely):")
        typer.echo(key)
        sys.stdout.flush()

    import ray
    from ray import serve as ray_serve

    runtime_env: dict[str, object] = {
        "env_vars": {**ray_env.OFFLINE_ENV, **tuning},
        "worker_process_setup_hook": ray_env.WORKER_SETUP_HOOK,  # one host: serving/ray_env.py
    }
    ray.init(
        num_cpus=default_cpus(settings),
        resources=local_ray_resources(settings),
        include_dashboard=False,
        # One host: Ray's own servers listen on the loopback address only (docs/ports.md).
        _node_ip_address=ray_env.LOCAL_NODE_IP,
        runtime_env=runtime_env,
        logging_level="WARNING",
    )
    ray_serve.start(
        http_options={"host": settings.server.host, "port": proxy_port},
        logging_config=dict(SERVE_LOGGING),
    )
    if settings.server.direct_ingress:
        typer.echo(f"(Ray Serve's own proxy: port {proxy_port}; clients do not need it)", err=True)
    # Not serve.run: it would wait forever for a model pinned to a site this cluster lacks.
    ray_serve._run(build_app(settings), name="bastion", route_prefix="/", _blocking=False)
    _wait_for_local_deployments(settings)
    typer.echo(f"Bastion serving on http://{settings.server.host}:{settings.server.port}", err=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: _reload_quietly(settings))
    stop.wait()
    ray_serve.shutdown()
    ray.shutdown()


def _check_ports(settings: Settings, proxy_port: int | None, wait_s: float = 65) -> None:
    """The HTTP port (and Serve's own proxy port) must not be held by another live process:
    exit 2 naming the port and its owner. Connections of a previous server that are still
    closing (TIME_WAIT, right after a crash) do not count: the Ingress binds with SO_REUSEADDR
    (serving/ray_env.py); where that cannot be applied, wait for them, at most ``wait_s``."""
    import time

    from serving import ray_env
    from serving.ports import bind_error, listener_on

    host = settings.server.host
    for port in dict.fromkeys(p for p in (settings.server.port, proxy_port) if p is not None):
        owner = listener_on(host, port)
        if owner is not None:
            typer.echo(f"cannot serve on {host}:{port}: {owner.describe()}", err=True)
            raise typer.Exit(2)
        error = bind_error(host, port, reuse_address=True)
        if error is not None:
            typer.echo(f"cannot serve on {host}:{port}: {error}", err=True)
            raise typer.Exit(2)
    port = settings.server.port
    if not settings.server.direct_ingress or ray_env.ingress_bind_patchable():
        return
    deadline = time.monotonic() + wait_s
    if bind_error(host, port, reuse_address=False) is not None:
        typer.echo(
            f"port {port}: connections of a previous server are still closing; waiting up to "
            f"{wait_s:.0f} s",
            err=True,
        )
    while bind_error(host, port, reuse_address=False) is not None:
        if time.monotonic() > deadline:
            typer.echo(f"cannot serve on {host}:{port}: the port did not become free", err=True)
            raise typer.Exit(2)
        time.sleep(1)


def _warn_loose_files(settings: Settings) -> None:
    """Name every file and folder in the data folder that other users may access."""
    import stat

    from serving.datadir import loose_files

    for path in loose_files(settings.data_dir):
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = "700" if path.is_dir() else "600"
        typer.echo(
            f"warning: {path} is accessible to other users (mode {mode:04o}); "
            f"Bastion's data is private: chmod {want} {path}",
            err=True,
        )


def _check_direct_ingress(settings: Settings) -> None:
    ingress = settings.ingress
    if ingress.autoscaling is not None or ingress.num_replicas != 1:
        typer.echo(
            "invalid configuration: server.direct_ingress needs exactly one ingress replica "
            "(ingress.num_replicas: 1, no ingress.autoscaling); set server.direct_ingress: false "
            "to put Ray Serve's proxy in front of several",
            err=True,
        )
        raise typer.Exit(2)
    if settings.server.proxy_port == settings.server.port:
        typer.echo(
            "invalid configuration: server.proxy_port must differ from server.port", err=True
        )
        raise typer.Exit(2)


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_for_local_deployments(settings: Settings, timeout_s: float = 900) -> None:
    """Wait until the ingress and every deployment whose site this cluster has are healthy."""
    import time

    import ray
    from ray import serve as ray_serve

    from serving.app import deployment_name

    sites = {k.removeprefix("site:") for k in ray.cluster_resources() if k.startswith("site:")}
    wanted = {"Ingress", "AuditSequencer"}
    wanted |= {deployment_name(m) for m in settings.models if m.site in sites}
    if settings.embeddings.site in sites:
        wanted.add("Embedder")
    skipped = [m.key for m in settings.models if m.site not in sites]
    if skipped:
        typer.echo(f"not placeable here (site absent): {', '.join(skipped)}", err=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app_status = ray_serve.status().applications.get("bastion")
        if app_status is not None:
            states = {name: d.status for name, d in app_status.deployments.items()}
            if all(states.get(name) == "HEALTHY" for name in wanted):
                return
            if any(states.get(name) == "DEPLOY_FAILED" for name in wanted):
                if states.get("Ingress") == "DEPLOY_FAILED":
                    _check_ports(settings, None)  # taken meanwhile: exit 2 naming the owner
                typer.echo(f"deployment failed: {states}", err=True)
                raise typer.Exit(1)
        time.sleep(0.5)
    typer.echo("deployments did not become healthy in time", err=True)
    raise typer.Exit(1)


def _reload_quietly(settings: Settings) -> None:
    import logging

    from policies.documents import PolicyDocumentError
    from serving.policy_reload import reload_configured
    from state import StateError

    log = logging.getLogger("bastion.policy")
    try:
        version = reload_configured(settings)
    except PolicyDocumentError as exc:
        log.error("SIGHUP: policy documents rejected", extra={"problems": len(exc.issues)})
        return
    except StateError as exc:
        log.error("SIGHUP: policy not published", extra={"error": str(exc)})
        return
    log.info("SIGHUP: policy reload requested", extra={"policy_version": version})


@app.command("serve-config")
def serve_config_cmd(config: ConfigOpt = None) -> None:
    """Print the Ray Serve config (for `serve deploy` or a RayService) for these settings."""
    from serving.app import serve_config

    settings = _settings(config)
    typer.echo(yaml.safe_dump(serve_config(_placed(settings)), sort_keys=False), nl=False)


def _placed(settings: Settings) -> Settings:
    """Every model version's site for a Serve config: from the policy documents (declared
    once there). Where they cannot be read here, the configured site or the node's; the config
    then names it in its settings, so ``build_app`` refuses it at deploy time if the policy
    places the version elsewhere."""
    from models.registry import configured_sites, place

    unset = [key for key, site in configured_sites(settings).items() if site is None]
    if not unset:
        return settings
    if not any(Path(path).exists() for path in settings.policy_files()):
        typer.echo(
            f"note: no policy documents here; {', '.join(unset)} placed on site "
            f"{settings.site} (checked against the policy when the application starts)",
            err=True,
        )
        return place(settings, None)
    return _check_policy(settings)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    role: Annotated[str, typer.Option(help="app, auditor or admin.")] = "app",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    from policies.access import Role

    if role not in {r.value for r in Role}:
        typer.echo(f"role must be one of: {', '.join(r.value for r in Role)}", err=True)
        raise typer.Exit(2)
    settings = _settings(config, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        key, info = _key_store(settings).create(tenant, role, name)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    _audit_admin_event(
        settings,
        "key.created",
        {"key_id": info.key_id, "role": info.role.value, "tenant": info.tenant},
    )
    typer.echo(f"key id {info.key_id} (tenant {info.tenant}, role {info.role.value})")
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List keys (ids, never secrets)."""
    settings = _settings(config, data_dir)
    for info in _key_store(settings).list(tenant):
        state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
        typer.echo(
            f"{info.key_id}\t{info.tenant}\t{info.role.value}\t{info.created_at}\t{state}"
            f"\t{info.name}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Revoke a key by its id; it stops working at once."""
    settings = _settings(config, data_dir)
    if not _key_store(settings).revoke(key_id):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    _audit_admin_event(settings, "key.revoked", {"key_id": key_id})
    typer.echo(f"revoked {key_id}")


def _key_store(settings: Settings) -> KeyStore:
    """The configured key store (in the state store), or exit 1 saying why it cannot open."""
    from policies.access import open_keystore
    from state import StateError

    try:
        return open_keystore(settings.audit, settings.data_dir)
    except StateError as exc:
        typer.echo(f"cannot open the key store: {exc}", err=True)
        raise typer.Exit(1) from None


def _audit_admin_event(settings: Settings, kind: str, detail: dict[str, str]) -> None:
    """Record an administrative action done from the command line (operator's OS account)."""
    import getpass
    from datetime import UTC, datetime

    from policies.audit import Actor, AuditRecord, append_direct, open_store

    record = AuditRecord(
        event_type=kind,
        time=datetime.now(UTC),
        actor=Actor(role="system", key_id=f"cli:{getpass.getuser()}"),
        origin="cli",
        outcome="success",
        detail=detail,
    )
    store = open_store(settings.audit, settings.data_dir)
    try:
        append_direct(store, record)
    finally:
        store.close()


@policy_cli.app.command("reload")
def policy_reload(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Validate the configured policy documents and make every ingress replica reload them.

    A bad set is rejected (exit 1) and the policy in force stays."""
    from policies.documents import PolicyDocumentError
    from serving.policy_reload import reload_configured
    from state import StateError

    settings = _settings(config, data_dir)
    try:
        version = reload_configured(settings)
    except PolicyDocumentError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo("policy documents rejected; the policy in force stays", err=True)
        raise typer.Exit(1) from None
    except StateError as exc:
        typer.echo(f"policy not published: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"reload requested: policy {version}")


def _default_policy_files() -> None:
    """`bastion policy check|explain|test` default to the configured documents."""
    if os.environ.get("BASTION_POLICY_FILES"):
        return
    try:
        settings = _settings(None, None)
    except (typer.Exit, ConfigError):
        return
    files = [str(p) for p in settings.policy_files() if p.exists()]
    if files:
        os.environ["BASTION_POLICY_FILES"] = " ".join(files)


def main() -> None:
    # Whatever a command creates first in the data folder (and what the Ray processes it
    # starts create) is private: files 0600, folders 0700 (serving/datadir.py).
    private_umask()
    if len(sys.argv) > 1 and sys.argv[1] == "policy":
        _default_policy_files()
    app()
