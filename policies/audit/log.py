"""AuditLog: the sequencer. Orders appends, group-commits them, keeps the Merkle tree, signs.

Plain asyncio; one instance per log (inside the single ``AuditSequencer`` Ray replica, or a test).
Append contract: ``await append(record)`` returns the record's leaf index only once the record is
committed (durable). If the store fails, every append of the failed batch raises
``AuditUnavailable`` and nothing of that batch is written (one transaction per batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

from .bundle import ExportSummary
from .checkpoint import Checkpoint, sign_checkpoint
from .config import AuditConfig
from .content import ContentVault, ErasedKeys, KeyEncryptionKey, SealedContent, period_of
from .errors import AuditIntegrityError, AuditUnavailable, ContentKeyDestroyed, StoreConflict
from .export import export_bundle
from .merkle import MerkleTree, leaf_hash
from .record import Actor, AuditRecord
from .signer import Signer
from .store.base import AuditStore, ContentRow, LeafRow, RecordFilter

__all__ = ["AuditLog", "LogStats", "QueryPage"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryPage:
    records: list[tuple[int, AuditRecord]]
    next_cursor: int | None  # pass back as ``cursor`` to continue; None when exhausted


@dataclass
class LogStats:
    commits: int = 0
    records: int = 0
    failed_commits: int = 0
    checkpoints: int = 0


class _Pending(NamedTuple):
    meta: tuple[bytes, str, str | None, str, str, bytes]  # a LeafRow without its index
    content: SealedContent | None
    future: asyncio.Future[int]
    record: AuditRecord  # without content: sealed again if its data key was destroyed
    text: str | None


def _meta(record: AuditRecord) -> tuple[bytes, str, str | None, str, str, bytes]:
    body = record.canonical_bytes()
    return (leaf_hash(body), record.time, record.actor.tenant, record.event_type,
            record.outcome, body)  # fmt: skip


class AuditLog:
    def __init__(
        self,
        store: AuditStore,
        signer: Signer,
        config: AuditConfig,
        *,
        kek: KeyEncryptionKey | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retention: Callable[[], Mapping[str, int | None]] | None = None,
    ) -> None:
        """``clock`` gives record-independent times (checkpoints, content expiry); tests inject
        one. ``retention`` returns per-tenant overrides of ``capture_retention_days`` (from
        the policy documents), read at each expiry run."""
        if config.capture == "redacted" and kek is None:
            raise ValueError("audit.capture=redacted needs a key-encryption key")
        self.store = store
        self.signer = signer
        self.config = config
        self.vault = ContentVault(store, kek) if kek is not None else None
        self._clock = clock
        self._retention = retention
        self._unrecorded: list[AuditRecord] = []  # expiry records not yet durable
        self._tree = MerkleTree()
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._checkpoint_due = asyncio.Event()
        self._since_checkpoint = 0
        self._latest: Checkpoint | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._stop = asyncio.Event()
        self._halted: Exception | None = None
        self.stats = LogStats()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the tree from the store, check it against the latest checkpoint, start tasks."""
        await asyncio.to_thread(self._load)
        self._running = True
        self._tasks = [
            asyncio.create_task(self._writer(), name="audit-writer"),
            asyncio.create_task(self._checkpointer(), name="audit-checkpointer"),
        ]
        if self.vault is not None:
            self._tasks.append(asyncio.create_task(self._expirer(), name="audit-expirer"))

    def _load(self) -> None:
        tree = MerkleTree(self.store.leaf_hashes())
        latest = self.store.latest_checkpoint()
        if latest is not None and (
            latest.tree_size > tree.size or tree.root(latest.tree_size) != latest.root_hash
        ):
            raise AuditIntegrityError(
                "stored leaves do not match the latest signed checkpoint",
                evidence={"checkpoint": latest.to_json(), "stored_size": tree.size},
            )
        tail_from = latest.tree_size if latest else 0
        for row in self.store.leaves(tail_from, tree.size):
            if leaf_hash(row.body) != row.leaf_hash or tree.leaf(row.index) != row.leaf_hash:
                raise AuditIntegrityError(f"leaf {row.index} does not hash its record")
        self._tree, self._latest = tree, latest
        self._since_checkpoint = tree.size - tail_from

    async def close(self) -> None:
        """Commit what is queued, sign a final checkpoint (unless halted), stop."""
        if not self._tasks:
            return
        self._running = False
        self._stop.set()
        self._wake.set()
        self._checkpoint_due.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._halted is None:
            with contextlib.suppress(Exception):
                await self._sign_checkpoint()

    # -- appending ---------------------------------------------------------------------------

    async def append(self, record: AuditRecord, content: str | None = None) -> int:
        """Append ``record``; return its leaf index once durable. Raises AuditUnavailable.

        ``content`` (already redacted text) is stored encrypted when capture=redacted and the
        record has a tenant; otherwise it is dropped.
        """
        if not self._running:
            reason = f"halted: {self._halted}" if self._halted else "not running"
            raise AuditUnavailable(f"audit log is {reason}")
        if record.content is not None:
            raise ValueError("AuditRecord.content is set by the log, not by callers")
        if content is None or self.vault is None or not record.tenant:
            content = None
        sealed, sealed_record = await self._seal(record, content)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(_meta(sealed_record), sealed, fut, record, content))
        self._wake.set()
        return await fut

    async def _seal(
        self, record: AuditRecord, content: str | None
    ) -> tuple[SealedContent | None, AuditRecord]:
        if content is None or self.vault is None or record.tenant is None:
            return None, record
        try:
            sealed = await asyncio.to_thread(
                self.vault.seal, record.tenant, content, period_of(record.time)
            )
        except Exception as e:
            raise AuditUnavailable(f"cannot seal captured content: {e}") from e
        return sealed, record.model_copy(update={"content": sealed.ref})

    async def _reseal(self, batch: list[_Pending], destroyed: set[str]) -> list[_Pending]:
        """Seal again the content of a batch whose data key another process destroyed."""
        assert self.vault is not None
        self.vault.forget(destroyed)
        out: list[_Pending] = []
        for p in batch:
            if p.content is not None and p.content.ref.dek_id in destroyed:
                sealed, rec = await self._seal(p.record, p.text)
                p = p._replace(meta=_meta(rec), content=sealed)
            out.append(p)
        return out

    async def _writer(self) -> None:
        cfg = self.config
        while self._running or self._queue:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._queue) < cfg.batch_max_records and cfg.batch_max_wait_ms > 0:
                await asyncio.sleep(cfg.batch_max_wait_ms / 1000)
            batch = self._queue[: cfg.batch_max_records]
            del self._queue[: cfg.batch_max_records]
            try:
                await self._commit(batch)
            except Exception as e:  # integrity failure: halt, fail closed, keep the evidence
                logger.critical("audit log halted: %s", e)
                self._halted = e
                self._running = False
                self._fail(batch + self._queue, AuditUnavailable(f"audit log halted: {e}"))
                self._queue.clear()
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        for attempt in range(4):
            start = self._tree.size
            leaves = [LeafRow(start + i, *p.meta) for i, p in enumerate(batch)]
            contents: list[ContentRow] = [
                p.content.row(start + i) for i, p in enumerate(batch) if p.content is not None
            ]
            try:
                await asyncio.to_thread(self.store.append_batch, start, leaves, contents)
            except ContentKeyDestroyed as e:
                # Another process (`bastion audit shred`) destroyed a key this batch used.
                logger.info("audit data key destroyed elsewhere; sealing again")
                try:
                    batch = await self._reseal(batch, e.dek_ids)
                except AuditUnavailable as err:
                    self._fail(batch, err)
                    return
                continue
            except StoreConflict as e:
                # Another writer (e.g. the CLI's audit.exported record) appended: catch up.
                logger.info("audit store moved ahead (%s); catching up", e)
                if attempt >= 2 or not await self._catch_up():
                    self._fail(batch, AuditUnavailable(f"audit store conflict: {e}"))
                    return
                continue
            except Exception as e:
                logger.error("audit store append failed: %s", type(e).__name__)
                self.stats.failed_commits += 1
                self._fail(batch, AuditUnavailable(f"audit store unavailable: {e}"))
                return
            for leaf in leaves:
                self._tree.append(leaf.leaf_hash)
            for i, p in enumerate(batch):
                if not p.future.done():
                    p.future.set_result(start + i)
            self._since_checkpoint += len(batch)
            self.stats.commits += 1
            self.stats.records += len(batch)
            if self._since_checkpoint >= self.config.checkpoint_every_records:
                self._checkpoint_due.set()
            return
        self._fail(batch, AuditUnavailable("audit store kept changing; batch not written"))

    async def _catch_up(self) -> bool:
        try:
            rows = await asyncio.to_thread(self.store.leaves, self._tree.size, 2**62)
        except Exception:
            return False
        for row in rows:
            if row.index != self._tree.size or leaf_hash(row.body) != row.leaf_hash:
                raise AuditIntegrityError(f"foreign leaf {row.index} is inconsistent")
            self._tree.append(row.leaf_hash)
            self._since_checkpoint += 1
        return True

    @staticmethod
    def _fail(batch: list[_Pending], error: Exception) -> None:
        for p in batch:
            if not p.future.done():
                p.future.set_exception(error)

    # -- checkpoints -------------------------------------------------------------------------

    async def _checkpointer(self) -> None:
        period = self.config.checkpoint_every_seconds
        last = time.monotonic()
        while self._running:
            timeout = max(0.0, period - (time.monotonic() - last))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._checkpoint_due.wait(), timeout)
            self._checkpoint_due.clear()
            if not self._running:
                return
            try:
                await self._sign_checkpoint()
            except Exception as e:  # keep trying; appends surface store failures themselves
                logger.error("audit checkpoint failed: %s", type(e).__name__)
            last = time.monotonic()

    async def _sign_checkpoint(self) -> Checkpoint:
        size = self._tree.size
        cp = sign_checkpoint(self.signer, size, self._tree.root(size), self._clock())
        await asyncio.to_thread(self.store.add_checkpoint, cp)
        self._latest = cp
        self.stats.checkpoints += 1
        self._since_checkpoint = self._tree.size - size
        return cp

    async def checkpoint_now(self) -> Checkpoint:
        """Sign and store a checkpoint over everything durable now (used before an export)."""
        return await self._sign_checkpoint()

    def latest_checkpoint(self) -> Checkpoint | None:
        return self._latest

    # -- proofs and queries ------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._tree.size

    def root(self, tree_size: int | None = None) -> bytes:
        return self._tree.root(tree_size)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        return self._tree.inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self._tree.consistency_proof(old_size, new_size)

    async def query(
        self, filters: RecordFilter, limit: int = 100, cursor: int | None = None
    ) -> QueryPage:
        """Records matching ``filters`` in index order; ``cursor`` is the last index seen."""
        limit = max(1, min(limit, 1000))
        rows = await asyncio.to_thread(self.store.query, filters, cursor, limit)
        records = [(r.index, AuditRecord.from_canonical(r.body)) for r in rows]
        nxt = rows[-1].index if len(rows) == limit else None
        return QueryPage(records, nxt)

    async def export(
        self,
        out: Path,
        start: datetime | str | None,
        end: datetime | str | None,
        tenant: str | None = None,
        event_type: str | None = None,
        fmt: Literal["jsonl", "csv"] = "jsonl",
        *,
        with_content: bool = False,
    ) -> ExportSummary:
        """Checkpoint everything durable now, then write a bundle (see ``export_bundle``), with
        the exported records' captured content when ``with_content``.

        The caller appends the ``audit.exported`` record with ``summary.audit_detail()``.
        """
        if with_content and self.vault is None:
            raise ValueError("this log captures no content (audit.capture is none)")
        opener = self.vault.open_item if with_content and self.vault is not None else None
        await self.checkpoint_now()
        return await asyncio.to_thread(
            export_bundle, self.store, out, start, end, tenant, event_type, fmt,
            signer=self.signer, clock=self._clock, content=opener,
        )  # fmt: skip

    async def read_content(self, record: AuditRecord) -> str:
        """Decrypt a record's captured content. Raises ContentShredded after shredding."""
        if self.vault is None or record.content is None:
            raise KeyError("record has no captured content")
        return await asyncio.to_thread(self.vault.open, record.content)

    async def record_at(self, index: int) -> AuditRecord | None:
        """The record at leaf ``index`` (None when there is none)."""
        rows = await asyncio.to_thread(self.store.leaves, index, index + 1)
        return AuditRecord.from_canonical(rows[0].body) if rows else None

    async def shred_tenant(self, tenant: str) -> int:
        """Crypto-shred ``tenant``'s captured content (keys destroyed); the caller audits it."""
        return (await self.erase_tenant(tenant)).keys

    async def erase_tenant(self, tenant: str) -> ErasedKeys:
        """Destroy every data key of ``tenant``: how many keys, and how many contents became
        unreadable. The caller records ``audit.content_shredded``."""
        if self.vault is None:
            return ErasedKeys(tenant, 0, 0)
        return await asyncio.to_thread(self.vault.shred_tenant, tenant)

    async def expire_content(self) -> list[ErasedKeys]:
        """Destroy the data keys of periods past their retention (by ``clock``) and record one
        ``audit.content_expired`` per tenant affected. Records are never deleted."""
        if self.vault is None:
            return []
        # Records of an earlier run whose append failed (the keys are gone already).
        while self._unrecorded:
            await self.append(self._unrecorded[0])
            self._unrecorded.pop(0)
        try:
            source = self._retention
            overrides = dict(await asyncio.to_thread(source)) if source is not None else {}
        except Exception as e:  # unreadable policy: keep content (nothing is destroyed)
            logger.error("content expiry skipped: retention unreadable (%s)", type(e).__name__)
            return []

        def days(tenant: str) -> int | None:
            return overrides.get(tenant, self.config.capture_retention_days)

        now = self._clock()
        erased = await asyncio.to_thread(self.vault.expire, days, now)
        for e in erased:
            detail: dict[str, str | int | bool] = {
                "keys_destroyed": e.keys,
                "contents_unreadable": e.contents,
                "retention_days": days(e.tenant) or 0,
            }
            if e.periods:
                detail["oldest_period"] = e.periods[0]
                detail["newest_period"] = e.periods[-1]
            self._unrecorded.append(
                AuditRecord(
                    event_type="audit.content_expired",
                    time=now,
                    actor=Actor(key_id="audit-sequencer", tenant=e.tenant, role="system"),
                    outcome="success",
                    detail=detail,
                )
            )
        while self._unrecorded:  # if this fails, the next run records them first
            await self.append(self._unrecorded[0])
            self._unrecorded.pop(0)
        return erased

    async def _expirer(self) -> None:
        period = self.config.capture_expiry_check_seconds
        while self._running:
            try:
                await self.expire_content()
            except Exception as e:  # keep the schedule; the next run tries again
                logger.error("content expiry failed: %s", type(e).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), period)
