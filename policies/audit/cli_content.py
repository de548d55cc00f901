"""`bastion audit content` and `bastion audit shred`: read captured content back for an
investigation, crypto-shred a tenant's content. Both act on the store directly (like
`bastion audit export`) and record what they did in the log (``audit.content_read``,
``audit.content_shredded``); neither ever writes content text into a record."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from .cli import app, load_settings
from .config import AuditConfig
from .content import ContentVault, FileKek
from .errors import ContentShredded
from .export import append_direct
from .readback import content_view, find_by_request_id
from .record import Actor, AuditRecord, format_time
from .store import AuditStore, open_store

__all__ = ["content", "shred"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

DataDir = Annotated[Path | None, typer.Option(help="Data folder [env BASTION_DATA_DIR].")]
ConfigFile = Annotated[Path | None, typer.Option(help="Bastion YAML (audit: section).")]


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    token = re.sub(r"[^A-Za-z0-9_.@+-]", "_", user)[:40] or "unknown"
    return Actor(role="system", key_id=f"cli:{token}")


@contextmanager
def _store(cfg: AuditConfig, ddir: Path) -> Iterator[AuditStore]:
    if cfg.store == "sqlite" and not cfg.resolve_sqlite_path(ddir).exists():
        # Never create a log: a wrong --data-dir must not look like an empty log.
        typer.echo(f"no audit log here: {cfg.resolve_sqlite_path(ddir)} not found", err=True)
        raise typer.Exit(2)
    store = open_store(cfg, ddir)
    try:
        yield store
    finally:
        store.close()


@app.command("content")
def content(
    index: Annotated[int | None, typer.Argument(help="Leaf index of the record.")] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Find the record by its x-request-id.")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Print a record's captured (redacted) content. The read is audited (audit.content_read).

    Exit 0: printed; 2: no such record or no captured content; 3: shredded (its key destroyed).
    """
    if (index is None) == (request_id is None):
        typer.echo("give a record INDEX or --request-id, not both", err=True)
        raise typer.Exit(2)
    if request_id is not None and not _REQUEST_ID.match(request_id):
        typer.echo("--request-id must be 1-64 letters, digits, '_' or '-'", err=True)
        raise typer.Exit(2)
    cfg, ddir = load_settings(config, data_dir)
    kek_file = cfg.resolve_kek_file(ddir)
    with _store(cfg, ddir) as store:
        if index is None:
            index = find_by_request_id(store, request_id or "")
            if index is None:
                typer.echo("no record with that request id", err=True)
                raise typer.Exit(2)
        rows = store.leaves(index, index + 1)
        if not rows:
            typer.echo(f"no record {index}", err=True)
            raise typer.Exit(2)
        record = AuditRecord.from_canonical(rows[0].body)
        if record.content is None:
            typer.echo(f"record {index} has no captured content", err=True)
            raise typer.Exit(2)
        status, text = "read", None
        try:
            text = ContentVault(store, FileKek(kek_file, create=False)).open(record.content)
        except ContentShredded:
            status = "shredded"
        except FileNotFoundError:
            typer.echo(f"no key-encryption key at {kek_file}", err=True)
            raise typer.Exit(2) from None
        except KeyError:
            status = "absent"
        detail: dict[str, str | int | bool] = {"record_index": index, "status": status}
        if record.tenant:
            detail["content_tenant"] = record.tenant
        append_direct(store, _cli_record("audit.content_read", detail, status == "read"))
    if text is None:
        what = "was shredded (its data key was destroyed)" if status == "shredded" else "is gone"
        typer.echo(f"the captured content of record {index} {what}", err=True)
        raise typer.Exit(3 if status == "shredded" else 2)
    typer.echo(json.dumps(content_view(index, record, text), indent=2, ensure_ascii=False))


def _cli_record(kind: str, detail: dict[str, str | int | bool], ok: bool = True) -> AuditRecord:
    return AuditRecord(
        event_type=kind,
        time=datetime.now(UTC),
        actor=_actor(),
        origin="local-cli",
        outcome="success" if ok else "failure",
        detail=detail,
    )


def _shred_batch_key(cfg: AuditConfig, ddir: Path, tenant: str) -> bool:
    """Destroy the tenant's Batch API data key (serving/batch/store.py): it lives in the state
    store (the audit store's backend), sealed with the same KEK. False when it had none."""
    from serving.batch.store import shred_batch_key
    from state import STATE_FILE, open_state

    if cfg.store == "sqlite" and not (ddir / STATE_FILE).exists():
        return False  # no state store here: no batch file was ever stored
    state = open_state(cfg, ddir, migrate=False)
    try:
        return shred_batch_key(state, tenant)
    finally:
        state.close()


@app.command("shred")
def shred(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant whose content to destroy.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Crypto-shred every captured content of a tenant, and its Batch API files and results:
    destroy its data keys. Records stay and still verify; the action is audited
    (audit.content_shredded). Irreversible.

    With a running server prefer the admin API (POST /v1/admin/audit/shred): the CLI works on
    the store directly, and content the server captures afterwards goes under a new key.
    """
    if not _TENANT.match(tenant):
        typer.echo("--tenant is not a valid tenant id", err=True)
        raise typer.Exit(2)
    cfg, ddir = load_settings(config, data_dir)
    with _store(cfg, ddir) as store:
        live = [k.dek_id for k in store.data_keys(tenant) if k.wrapped is not None]
        contents = store.content_count(live)
        if not yes:
            typer.confirm(
                f"Destroy {len(live)} data key(s) of tenant {tenant}, making {contents} captured "
                "content(s) and its Batch API files unreadable forever?",
                abort=True,
            )
        destroyed = store.shred_data_keys(tenant, format_time(datetime.now(UTC)))
        batch_destroyed = _shred_batch_key(cfg, ddir, tenant)
        detail: dict[str, str | int | bool] = {
            "tenant": tenant,
            "keys_destroyed": destroyed,
            "contents_unreadable": contents,
            "batch_keys_destroyed": int(batch_destroyed),
        }
        index = append_direct(store, _cli_record("audit.content_shredded", detail))
        reclaimed = store.reclaim_shredded()
    batch = ", its Batch API files and results too" if batch_destroyed else ""
    typer.echo(
        f"shredded tenant {tenant}: {destroyed} data key(s) destroyed, {contents} captured "
        f"content(s) now unreadable{batch}; audited as record {index}"
    )
    if not reclaimed:
        typer.echo(
            "note: VACUUM audit_data_key failed; run it as the table owner (docs/audit.md)",
            err=True,
        )
