"""Export: select records from a store and write a verifiable bundle (see bundle.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from .bundle import ExportSummary, write_bundle
from .bundle_content import content_files
from .checkpoint import Checkpoint, sign_checkpoint
from .content import ContentItem
from .errors import AuditIntegrityError, StoreConflict
from .merkle import MerkleTree, leaf_hash
from .record import AuditRecord, ContentRef, format_time
from .signer import Signer
from .store.base import AuditStore, LeafRow, RecordFilter

__all__ = ["append_direct", "export_bundle"]


def _time(t: datetime | str | None) -> str | None:
    if t is None or isinstance(t, str):
        return t
    return format_time(t)


def _select_checkpoints(cps: list[Checkpoint], anchor: Checkpoint, limit: int) -> list[Checkpoint]:
    """Distinct tree sizes (first signed of each) up to the anchor, thinned to ``limit``."""
    seen: dict[int, Checkpoint] = {}
    for cp in cps:
        if cp.tree_size <= anchor.tree_size and cp.tree_size not in seen:
            seen[cp.tree_size] = cp
    chosen = [seen[s] for s in sorted(seen) if s != anchor.tree_size]
    if len(chosen) > limit - 1 > 0:
        step = len(chosen) / (limit - 1)
        chosen = [chosen[int(i * step)] for i in range(limit - 1)]
    return [*chosen, anchor]


def export_bundle(
    store: AuditStore,
    out: Path,
    start: datetime | str | None,
    end: datetime | str | None,
    tenant: str | None = None,
    event_type: str | None = None,
    fmt: Literal["jsonl", "csv"] = "jsonl",
    *,
    signer: Signer,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_checkpoints: int = 1000,
    content: Callable[[ContentRef], ContentItem] | None = None,
) -> ExportSummary:
    """Export records with start <= time < end (and tenant / event type) into a zip bundle.

    The bundle is anchored in the latest checkpoint; if records were appended after it, a new
    checkpoint is signed with ``signer`` and stored first. Raises AuditIntegrityError if the store
    contradicts its latest checkpoint. The caller appends the ``audit.exported`` record
    (``summary.audit_detail()``). With ``content`` (a vault's ``open_item``) the captured
    content of the exported records is added beside them (see bundle_content.py).
    """
    tree = MerkleTree(store.leaf_hashes())
    latest = store.latest_checkpoint()
    if latest is not None and (
        latest.tree_size > tree.size or tree.root(latest.tree_size) != latest.root_hash
    ):
        raise AuditIntegrityError(
            "stored leaves do not match the latest signed checkpoint",
            evidence={"checkpoint": latest.to_json(), "stored_size": tree.size},
        )
    if latest is None or latest.tree_size < tree.size:
        anchor = sign_checkpoint(signer, tree.size, tree.root(), clock())
        store.add_checkpoint(anchor)
    else:
        anchor = latest
    where = RecordFilter(start=_time(start), end=_time(end), tenant=tenant, event_type=event_type)
    indices: list[int] = []
    bodies: list[bytes] = []
    after: int | None = None
    while rows := store.query(where, after, 10000):
        for r in rows:
            if r.index < anchor.tree_size:
                if leaf_hash(r.body) != tree.leaf(r.index):
                    raise AuditIntegrityError(f"leaf {r.index} does not hash its record")
                indices.append(r.index)
                bodies.append(r.body)
        after = rows[-1].index
    checkpoints = _select_checkpoints(
        store.checkpoints(where.start, where.end), anchor, max_checkpoints
    )
    filters = {"from": where.start, "to": where.end, "tenant": tenant, "event_type": event_type}
    return write_bundle(
        Path(out),
        indices=indices,
        bodies=bodies,
        tree=tree,
        checkpoints=checkpoints,
        signer=signer,
        filters=filters,
        created=format_time(clock()),
        fmt=fmt,
        content=content_files(indices, bodies, content) if content is not None else None,
    )


def append_direct(store: AuditStore, record: AuditRecord, attempts: int = 20) -> int:
    """Append one record straight to the store (CLI use, no sequencer); return its index.

    Safe beside a running sequencer: the store's conflict check orders the writers, and the
    sequencer catches up on the foreign leaf.
    """
    body = record.canonical_bytes()
    for _ in range(attempts):
        index = store.size()
        row = LeafRow(
            index,
            leaf_hash(body),
            record.time,
            record.tenant,
            record.event_type,
            record.outcome,
            body,
        )
        try:
            store.append_batch(index, [row])
            return index
        except StoreConflict:
            continue
    raise StoreConflict(index, store.size())
