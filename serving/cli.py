"""The ``bastion`` command line."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
import yaml

from serving.config import ConfigError, Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Bastion inference server.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(keys_app, name="keys")

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
    """Create the data folder and, on first start, one admin key (returned once)."""
    from policies.access import KeyStore, Role

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    store = KeyStore(settings.data_dir / "keys.db")
    if store.count() == 0:
        key, _ = store.create("default", Role.ADMIN, name="bootstrap")
        return key
    return None


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

    from serving.app import (
        OFFLINE_ENV,
        SERVE_LOGGING,
        build_app,
        default_cpus,
        local_ray_resources,
    )
    from serving.observability import DRIVER_LOGGERS, configure_logging

    os.environ.update(OFFLINE_ENV)
    configure_logging(settings.log_level, DRIVER_LOGGERS)
    key = _bootstrap(settings)
    if key is not None:
        typer.echo("Bootstrap admin API key for tenant 'default' (shown once, store it safely):")
        typer.echo(key)
        sys.stdout.flush()

    import ray
    from ray import serve as ray_serve

    ray.init(
        num_cpus=default_cpus(settings),
        resources=local_ray_resources(settings),
        include_dashboard=False,
        runtime_env={"env_vars": dict(OFFLINE_ENV)},
        logging_level="WARNING",
    )
    ray_serve.start(
        http_options={"host": settings.server.host, "port": settings.server.port},
        logging_config=dict(SERVE_LOGGING),
    )
    ray_serve.run(build_app(settings), name="bastion", route_prefix="/")
    typer.echo(f"Bastion serving on http://{settings.server.host}:{settings.server.port}", err=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    ray_serve.shutdown()
    ray.shutdown()


@app.command("serve-config")
def serve_config_cmd(config: ConfigOpt = None) -> None:
    """Print the Ray Serve config (for `serve deploy` or a RayService) for these settings."""
    from serving.app import serve_config

    settings = _settings(config)
    typer.echo(yaml.safe_dump(serve_config(settings), sort_keys=False), nl=False)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    role: Annotated[str, typer.Option(help="app, auditor or admin.")] = "app",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    from policies.access import KeyStore, Role

    if role not in {r.value for r in Role}:
        typer.echo(f"role must be one of: {', '.join(r.value for r in Role)}", err=True)
        raise typer.Exit(2)
    settings = _settings(config, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        key, info = KeyStore(settings.data_dir / "keys.db").create(tenant, role, name)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"key id {info.key_id} (tenant {info.tenant}, role {info.role.value})")
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List keys (ids, never secrets)."""
    from policies.access import KeyStore

    settings = _settings(config, data_dir)
    for info in KeyStore(settings.data_dir / "keys.db").list(tenant):
        state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
        typer.echo(
            f"{info.key_id}\t{info.tenant}\t{info.role.value}\t{info.created_at}\t{state}"
            f"\t{info.name}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Revoke a key by its id; it stops working at once."""
    from policies.access import KeyStore

    settings = _settings(config, data_dir)
    if not KeyStore(settings.data_dir / "keys.db").revoke(key_id):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def main() -> None:
    app()
