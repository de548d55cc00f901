"""Content capture: redacted text encrypted with AES-GCM under data keys (DEKs) per tenant and
per period (the UTC day of the record).

DEKs are stored wrapped (envelope encryption) by a key-encryption key (KEK). The default KEK is 32
random bytes in a file (0600); a KMS or Vault KEK implements the ``KeyEncryptionKey`` protocol.
Ciphertext is stored outside the Merkle leaf; the leaf holds only a ``ContentRef`` commitment
(SHA-256 of nonce||ciphertext).

Each content is encrypted under its own key, HKDF-SHA256(period DEK, content id), so an export
can carry the key of each exported content (the verifier decrypts it and checks it against the
commitment) without revealing the period key. Keys written before periods existed (``period``
None) encrypt directly under the DEK; they stay readable.

Destroying keys (crypto-shredding) makes content unreadable while every record and proof still
verifies: ``shred_tenant`` destroys all of a tenant's keys, ``expire`` the keys of periods past
their retention. Each destruction is one transaction: a key is either still there or gone.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ContentShredded
from .record import ContentRef, format_time, parse_time
from .store.base import AuditStore, ContentRow, DataKeyRow

__all__ = [
    "ContentItem",
    "ContentVault",
    "ErasedKeys",
    "FileKek",
    "KeyEncryptionKey",
    "SealedContent",
    "content_aad",
    "content_key",
    "period_of",
]


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps data keys. MUST NOT expose the key itself (a KMS never does)."""

    @property
    def kek_id(self) -> str: ...

    def wrap(self, dek: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class FileKek:
    """AES-256-GCM key-encryption key read from (or created in) a 0600 file."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        path = Path(path)
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"no key-encryption key at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(32))
                f.flush()
                os.fsync(f.fileno())
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{path}: a KEK file holds exactly 32 bytes")
        self._aead = AESGCM(key)
        self._id = hashlib.sha256(b"bastion-kek-id" + key).hexdigest()[:32]

    @property
    def kek_id(self) -> str:
        return self._id

    def wrap(self, dek: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, dek, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        return self._aead.decrypt(wrapped[:12], wrapped[12:], context)


@dataclass(frozen=True)
class SealedContent:
    ref: ContentRef
    row_without_index: tuple[str, str, str, bytes, bytes]  # content_id, tenant, dek_id, nonce, ct

    def row(self, index: int) -> ContentRow:
        cid, tenant, dek_id, nonce, ct = self.row_without_index
        return ContentRow(cid, index, tenant, dek_id, nonce, ct)


@dataclass(frozen=True)
class ContentItem:
    """One content opened for an export: what the verifier needs to check it offline."""

    row: ContentRow
    key: bytes | None  # the content's own key (None for content under a legacy tenant key)
    text: str


@dataclass(frozen=True)
class ErasedKeys:
    """What one destruction did: keys destroyed and contents that became unreadable."""

    tenant: str
    keys: int
    contents: int
    periods: tuple[str, ...] = ()


def period_of(time: str) -> str:
    """The key period of a record time: its UTC day, ``YYYY-MM-DD``."""
    return time[:10]


def content_aad(content_id: str, tenant: str) -> bytes:
    return f"bastion-audit-content\n{content_id}\n{tenant}".encode()


def content_key(dek: bytes, content_id: str) -> bytes:
    """The key of one content: HKDF-SHA256 of its period's DEK, bound to the content id."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"bastion-audit-content-key\n" + content_id.encode(),
    ).derive(dek)


def _key_context(dek_id: str, tenant: str) -> bytes:
    return f"bastion-audit-dek\n{dek_id}\n{tenant}".encode()


def _live(keys: list[DataKeyRow]) -> list[DataKeyRow]:
    return [k for k in keys if k.wrapped is not None]


class ContentVault:
    """Data keys per (tenant, period), cached unwrapped in memory, and content sealing.

    Thread-safe. The cache holds only live keys of this process's making or reading; a key
    another process destroyed is noticed at commit (the store checks that the keys of a batch
    are live) and ``forget`` drops it.
    """

    def __init__(self, store: AuditStore, kek: KeyEncryptionKey) -> None:
        self._store = store
        self._kek = kek
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], tuple[str, bytes]] = {}

    def _active_key(self, tenant: str, period: str) -> tuple[str, bytes]:
        with self._lock:
            entry = self._active.get((tenant, period))
            if entry is not None:
                return entry
            live = [k for k in _live(self._store.data_keys(tenant)) if k.period == period]
            if live:
                k = live[-1]
                dek = self._kek.unwrap(k.wrapped, _key_context(k.dek_id, tenant))  # type: ignore[arg-type]
                entry = (k.dek_id, dek)
            else:
                dek_id, dek = uuid.uuid4().hex, AESGCM.generate_key(bit_length=256)
                wrapped = self._kek.wrap(dek, _key_context(dek_id, tenant))
                now = format_time(datetime.now(UTC))
                self._store.add_data_key(
                    DataKeyRow(dek_id, tenant, self._kek.kek_id, wrapped, now, None, period)
                )
                entry = (dek_id, dek)
            self._active[(tenant, period)] = entry
            return entry

    def forget(self, dek_ids: set[str] | None = None, tenant: str | None = None) -> None:
        """Drop cached keys (destroyed elsewhere): by id, by tenant, or all."""
        with self._lock:
            for k, (dek_id, _) in list(self._active.items()):
                if (dek_ids is None or dek_id in dek_ids) and (tenant is None or k[0] == tenant):
                    del self._active[k]

    def seal(self, tenant: str, text: str, period: str | None = None) -> SealedContent:
        """Encrypt redacted ``text`` for ``tenant`` under the key of ``period`` (default: today,
        UTC); the period's key is created on first use."""
        period = period or period_of(format_time(datetime.now(UTC)))
        dek_id, dek = self._active_key(tenant, period)
        content_id = uuid.uuid4().hex
        nonce = os.urandom(12)
        ct = AESGCM(content_key(dek, content_id)).encrypt(
            nonce, text.encode(), content_aad(content_id, tenant)
        )
        ref = ContentRef(
            id=content_id, dek_id=dek_id, sha256=hashlib.sha256(nonce + ct).hexdigest()
        )
        return SealedContent(ref, (content_id, tenant, dek_id, nonce, ct))

    def _row(self, ref: ContentRef) -> ContentRow:
        row = self._store.content(ref.id)
        if row is None:
            raise KeyError(f"no content {ref.id}")
        if hashlib.sha256(row.nonce + row.ciphertext).hexdigest() != ref.sha256:
            raise ValueError(f"content {ref.id} does not match its commitment in the record")
        return row

    def _open_row(self, ref: ContentRef, row: ContentRow) -> ContentItem:
        keys = {k.dek_id: k for k in self._store.data_keys(row.tenant)}
        key = keys.get(row.dek_id)
        if key is None or key.wrapped is None:
            raise ContentShredded(f"the data key of content {ref.id} was destroyed")
        dek = self._kek.unwrap(key.wrapped, _key_context(key.dek_id, row.tenant))
        own = None if key.period is None else content_key(dek, row.content_id)
        try:
            text = AESGCM(own or dek).decrypt(
                row.nonce, row.ciphertext, content_aad(row.content_id, row.tenant)
            )
        except InvalidTag as e:
            raise ValueError(f"content {ref.id} failed authentication") from e
        return ContentItem(row, own, text.decode())

    def open(self, ref: ContentRef) -> str:
        """Decrypt captured content. Raises ContentShredded once its key is destroyed, KeyError
        when the content row is absent, ValueError when it contradicts its commitment."""
        return self._open_row(ref, self._row(ref)).text

    def open_item(self, ref: ContentRef) -> ContentItem:
        """Like ``open``, with the ciphertext and the content's own key (for an export)."""
        return self._open_row(ref, self._row(ref))

    def shred_tenant(self, tenant: str) -> ErasedKeys:
        """Destroy every data key of ``tenant`` (one transaction)."""
        with self._lock:
            live = [k.dek_id for k in _live(self._store.data_keys(tenant))]
            contents = self._store.content_count(live)
            n = self._store.shred_data_keys(tenant, format_time(datetime.now(UTC)))
            for k in [k for k in self._active if k[0] == tenant]:
                del self._active[k]
        return ErasedKeys(tenant, n, contents)

    def expire(
        self, retention_days: Callable[[str], int | None], now: datetime
    ) -> list[ErasedKeys]:
        """Destroy the keys of every period that ended more than ``retention_days(tenant)`` days
        before ``now`` (None: keep). A legacy key (no period) goes once the newest record whose
        content it seals is that old. A key that seals nothing yet and was created after the
        cutoff is kept for now (its content is being committed). One transaction per tenant."""
        erased: list[ErasedKeys] = []
        by_tenant: dict[str, list[DataKeyRow]] = {}
        for k in _live(self._store.data_keys()):
            by_tenant.setdefault(k.tenant, []).append(k)
        for tenant, keys in sorted(by_tenant.items()):
            days = retention_days(tenant)
            if days is None:
                continue
            cutoff = now - timedelta(days=days)
            due: list[DataKeyRow] = []
            for k in keys:
                if k.period is not None:
                    end = parse_time(k.period + "T00:00:00Z") + timedelta(days=1)
                else:
                    last = self._store.key_last_used(k.dek_id)
                    end = parse_time(last) if last is not None else parse_time(k.created)
                # A key created after the cutoff for an old day (content of a late record) that
                # seals nothing yet is being used right now: it goes at a later run.
                fresh = parse_time(k.created) > cutoff and not self._store.content_count([k.dek_id])
                if end <= cutoff and not fresh:
                    due.append(k)
            if not due:
                continue
            ids = [k.dek_id for k in due]
            with self._lock:
                contents = self._store.content_count(ids)
                n = self._store.shred_keys(ids, format_time(now))
                for key, (dek_id, _) in list(self._active.items()):
                    if dek_id in ids:
                        del self._active[key]
            periods = tuple(sorted({k.period or "legacy" for k in due}))
            erased.append(ErasedKeys(tenant, n, contents, periods))
        return erased
