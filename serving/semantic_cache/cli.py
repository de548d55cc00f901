"""``bastion cache invalidate``: delete the semantic cache's entries of a model version, a
prompt-template version or a tenant (or all of them) from the shared state store; every ingress
replica stops serving them at its next lookup. The action is recorded in the audit log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app"]

TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/+-]{0,127}$")  # an id, as the audit record takes it

app = typer.Typer(no_args_is_help=True, help="The semantic cache (docs/cache.md).")


def _audit(settings: object, detail: dict[str, str | int]) -> None:
    import getpass
    from datetime import UTC, datetime

    from policies.audit import Actor, AuditRecord, append_direct, open_store

    record = AuditRecord(
        event_type="cache.invalidated",
        time=datetime.now(UTC),
        actor=Actor(role="system", key_id=f"cli:{getpass.getuser()}"),
        origin="cli",
        outcome="success",
        detail=detail,
    )
    store = open_store(settings.audit, settings.data_dir)  # type: ignore[attr-defined]
    try:
        append_direct(store, record)
    finally:
        store.close()


@app.command("invalidate")
def invalidate_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model version, name@version.")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Prompt-template version, name@version.")
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant id.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every entry of every tenant and version.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="bastion.yaml (default: $BASTION_CONFIG).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="BASTION_DATA_DIR", help="Data folder (state store)."),
    ] = None,
) -> None:
    """Delete cached answers (name at least one of --model, --template, --tenant, or --all)."""
    from serving.config import ConfigError, load_settings
    from serving.semantic_cache.entries import invalidate
    from state import StateError, open_state

    if not (model or template or tenant or everything):
        typer.echo("name --model, --template, --tenant or --all", err=True)
        raise typer.Exit(2)
    for value in (model, template, tenant):
        if value is not None and not TOKEN.match(value):
            typer.echo("--model, --template and --tenant take ids such as name@version", err=True)
            raise typer.Exit(2)
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir.expanduser().resolve()})
    try:
        store = open_state(settings.audit, settings.data_dir, migrate=False)
        try:
            deleted = invalidate(store, model, template=template, tenant=tenant)
        finally:
            store.close()
    except StateError as exc:
        typer.echo(f"cannot reach the state store: {exc}", err=True)
        raise typer.Exit(1) from None
    detail: dict[str, str | int] = {"deleted": deleted}
    for name, value in (("model_version", model), ("template", template), ("tenant", tenant)):
        if value:
            detail[name] = value
    _audit(settings, detail)
    typer.echo(f"invalidated {deleted} cached answers")
