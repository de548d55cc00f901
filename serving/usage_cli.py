"""``bastion usage``: a tenant's usage and cost for a date range, read from the usage ledger in
the state store (policies/usage.py), never by scanning logs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

__all__ = ["usage"]


def _day(value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("use YYYY-MM-DD") from None


def usage(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant id (policy documents).")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="First day, YYYY-MM-DD (UTC; default: first of this month)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC; default: today).")
    ] = None,
    by: Annotated[
        Literal["model", "key", "day", "tenant"],
        typer.Option("--by", help="Group rows by model version, API key id or day."),
    ] = "model",
    fmt: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", help="Output format.")
    ] = "table",
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="bastion.yaml (default: $BASTION_CONFIG)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="BASTION_DATA_DIR", help="Data folder (state)."),
    ] = None,
) -> None:
    """Tokens (prompt, completion, cached), requests, GPU time and cost of one tenant."""
    from policies.usage import format_report, query_usage
    from serving.config import ConfigError, load_settings
    from state import StateError, open_state

    today = datetime.now(UTC).date()
    first, last = _day(start, today.replace(day=1)), _day(end, today)
    if first > last:
        raise typer.BadParameter("--from is after --to")
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    folder = (data_dir or settings.data_dir).expanduser().resolve()
    currencies = {m.cost.currency for m in settings.models if m.cost is not None}
    currency = currencies.pop() if len(currencies) == 1 else "USD"
    try:
        store = open_state(settings.audit, folder, migrate=False)
    except StateError as exc:
        typer.echo(f"cannot open the state store: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        rows = query_usage(store, tenant, first, last, by)
    except StateError as exc:
        typer.echo(f"cannot read the usage ledger: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(format_report(rows, by, fmt, currency), nl=False)
