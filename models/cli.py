"""``bastion models list|promote|rollback|split``: the catalog and its aliases, changed in the
shared state store (every ingress replica follows within ``policy.reload_check_s``), each
change recorded in the audit log (who: the operator's OS account; what, before, after)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from models.aliases import AliasFollower
    from models.registry import Registry
    from serving.config import Settings

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    help="Model and prompt-template versions, aliases, rollback and A/B splits.",
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="bastion.yaml (default: $BASTION_CONFIG).")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="BASTION_DATA_DIR", help="Data folder (keys, audit, state)."),
]


def _open(config: Path | None, data_dir: Path | None) -> tuple[Settings, Registry, AliasFollower]:
    from models.registry import Registry
    from serving.cli import _settings
    from state import StateError, open_state

    settings = _settings(config, data_dir)
    registry = Registry(
        settings.models,
        settings.embeddings,
        _policy(settings),
        settings.site,
        settings.registry.prompts,
        settings.registry.require_eval,
    )
    try:
        store = open_state(settings.audit, settings.data_dir)
        follower = registry.follow(store, initial=settings.registry.initial_aliases(), start=False)
    except StateError as exc:
        typer.echo(f"cannot open the state store: {exc}", err=True)
        raise typer.Exit(1) from None
    return settings, registry, follower


def _policy(settings: Settings):  # type: ignore[no-untyped-def]
    """The policy documents, for each version's site (declared there); None when absent."""
    from policies.documents import PolicyDocumentError, load_documents

    files = [p for p in settings.policy_files() if p.exists()]
    try:
        return load_documents(files) if files else None
    except PolicyDocumentError:
        return None


def _apply(config: Path | None, data_dir: Path | None, action: str, **body: object) -> None:
    from pydantic import ValidationError

    from models.aliases import AliasError
    from serving.cli import _audit_admin_event
    from serving.registry_admin import AliasRequest, alias_detail, apply_change, invalidate_cache

    settings, registry, follower = _open(config, data_dir)
    store = follower.store
    try:
        try:
            request = AliasRequest.model_validate(body)
            change = apply_change(follower, action, request, registry.require_eval)
        except (AliasError, ValidationError) as exc:
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(2) from None
        detail = alias_detail(change)
        _audit_admin_event(settings, _EVENTS[action], {k: str(v) for k, v in detail.items()})
        invalidate_cache(store, change, registry.targets()[change.after.arms[0][0]])
    finally:
        store.close()
    after = _describe(change.after)
    typer.echo(
        f"{change.alias}: {_describe(change.before)} -> {after} (revision {detail['revision']})"
    )


_EVENTS = {
    "promote": "models.alias_promoted",
    "split": "models.alias_split",
    "rollback": "models.alias_rolled_back",
}


def _describe(assignment: object) -> str:
    from models.aliases import describe

    return describe(assignment)  # type: ignore[arg-type]


@app.command("list")
def list_(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Model versions (with their sites), prompt templates and aliases."""
    from serving.registry_admin import registry_view

    _, registry, follower = _open(config, data_dir)
    try:
        view = registry_view(registry)
    finally:
        follower.store.close()
    if as_json:
        typer.echo(json.dumps(view, indent=2, sort_keys=True))
        return
    typer.echo("MODEL VERSION                             SITE            ENGINE")
    for m in view["models"]:
        typer.echo(f"{m['id']:<41} {m['site']:<15} {m['engine']}")
    if view["prompts"]:
        typer.echo("\nPROMPT TEMPLATE                           VARIABLES")
        for p in view["prompts"]:
            typer.echo(f"{p['id']:<41} {', '.join(p['variables']) or '-'}")
    typer.echo("\nALIAS                 TARGETS                                   REVISION")
    for alias, a in view["aliases"].items():
        typer.echo(f"{alias:<21} {a['describe']:<41} {a['revision']}")


@app.command()
def promote(
    alias: Annotated[str, typer.Argument(help="Alias, e.g. prod.")],
    version: Annotated[str, typer.Argument(help="name@version (model or prompt template).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    eval_result: Annotated[
        Path | None,
        typer.Option(
            "--eval",
            help="Result of `bastion eval run --out` for VERSION; required for an alias "
            "listed in registry.require_eval.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Point ALIAS at VERSION: all of its traffic, on every replica within seconds."""
    result = None
    if eval_result is not None:
        try:
            result = json.loads(eval_result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            typer.echo(f"refused: {eval_result} is not a readable eval result", err=True)
            raise typer.Exit(2) from None
    _apply(config, data_dir, "promote", alias=alias, version=version, eval_result=result)


@app.command()
def rollback(
    alias: Annotated[str, typer.Argument(help="Alias, e.g. prod.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Move all of ALIAS's traffic back to where it pointed before its last promote or split."""
    _apply(config, data_dir, "rollback", alias=alias)


@app.command()
def split(
    alias: Annotated[str, typer.Argument(help="Alias, e.g. prod.")],
    arms: Annotated[list[str], typer.Argument(help="VERSION=WEIGHT ..., e.g. m@v1=90 m@v2=10.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Split ALIAS's traffic by weight, sticky per end user."""
    from models.aliases import AliasError
    from serving.registry_admin import parse_weights

    try:
        weights = dict(parse_weights(arms))
    except AliasError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    _apply(config, data_dir, "split", alias=alias, weights=weights)
