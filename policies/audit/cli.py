"""`bastion audit` commands: export a verifiable bundle, verify one offline (and, in
cli_content.py, read captured content back and shred a tenant's content)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from .config import AuditConfig
from .content import ContentVault, FileKek
from .export import append_direct, export_bundle
from .record import Actor, AuditRecord
from .signer import FileEd25519Signer
from .store import open_store
from .verify import verify_bundle

__all__ = ["app", "load_settings"]

app = typer.Typer(help="Export and verify the tamper-evident audit log.", no_args_is_help=True)


class Format(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def load_settings(config_file: Path | None, data_dir: Path | None) -> tuple[AuditConfig, Path]:
    """AuditConfig from the YAML's ``audit:`` section, with BASTION_AUDIT__STORE and
    BASTION_AUDIT__DSN from the environment winning; data dir from flag, YAML, env, default."""
    doc: dict[str, Any] = {}
    if config_file is not None:
        doc = yaml.safe_load(config_file.read_text()) or {}
    section = dict(doc.get("audit") or {})
    # As for `bastion serve` (and state/open_state): the environment wins over the YAML, so a
    # DSN kept in a Secret (BASTION_AUDIT__DSN) never has to be written into a file.
    for field in ("store", "dsn"):
        value = os.environ.get(f"BASTION_AUDIT__{field.upper()}")
        if value:
            section[field] = value
    config = AuditConfig.model_validate(section)
    chosen = data_dir or doc.get("data_dir") or os.environ.get("BASTION_DATA_DIR") or "data"
    return config, Path(chosen)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Bundle to write (.zip).")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Start (ISO-8601, inclusive).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="End (ISO-8601, exclusive).")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    event_type: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Record format.")] = Format.jsonl,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data folder [env BASTION_DATA_DIR].")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Bastion YAML (audit: section).")] = None,
    with_content: Annotated[
        bool,
        typer.Option(
            "--with-content",
            help="Add the records' captured (redacted) content beside them; verify checks it.",
        ),
    ] = False,
) -> None:
    """Write records, signed checkpoints, proofs and the public key into a bundle."""
    cfg, ddir = load_settings(config, data_dir)
    start, end = _parse_time(from_), _parse_time(to)
    key_file = cfg.resolve_signing_key_file(ddir)
    missing = [p for p in (key_file, cfg.resolve_sqlite_path(ddir)) if not p.exists()]
    if missing and (cfg.store == "sqlite" or key_file in missing):
        # Export never creates a log or a key: a wrong --data-dir must not look like an empty log.
        typer.echo(f"no audit log here: {', '.join(map(str, missing))} not found", err=True)
        raise typer.Exit(2)
    kek_file = cfg.resolve_kek_file(ddir)
    if with_content and not kek_file.exists():
        typer.echo(f"--with-content: no key-encryption key at {kek_file}", err=True)
        raise typer.Exit(2)
    store = open_store(cfg, ddir)
    try:
        signer = FileEd25519Signer(key_file)
        opener = ContentVault(store, FileKek(kek_file)).open_item if with_content else None
        summary = export_bundle(
            store, out, start, end, tenant, event_type, fmt.value, signer=signer, content=opener
        )
        record = AuditRecord(
            event_type="audit.exported",
            time=datetime.now(UTC),
            actor=Actor(key_id="cli", role="system"),
            origin="local-cli",
            outcome="success",
            detail=summary.audit_detail(),
        )
        index = append_direct(store, record)
    finally:
        store.close()
    typer.echo(
        f"wrote {summary.path} ({summary.records} records, {summary.bundle_bytes} bytes, "
        f"{summary.bundle_sha256}); anchored at tree size {summary.anchor_tree_size}; "
        f"export audited as record {index}; signing key id {signer.key_id}"
    )
    if summary.contents is not None:
        c = summary.contents
        typer.echo(
            f"content: {c['present']} included, {c['shredded']} shredded, {c['absent']} absent"
        )


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle written by `bastion audit export`.")],
    key_id: Annotated[
        str | None, typer.Option(help="Expected signing key id (from your organisation).")
    ] = None,
) -> None:
    """Verify a bundle offline. Exit 0 when it verifies, 1 with the reason when not."""
    result = verify_bundle(bundle, expected_key_id=key_id)
    if not result.ok:
        typer.echo(f"FAILED: {result.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: {result.reason}")
    if key_id is None:
        typer.echo("note: pass --key-id to pin the signing key you expect", err=True)


from . import cli_content  # noqa: E402,F401  (registers `content` and `shred` on this app)
