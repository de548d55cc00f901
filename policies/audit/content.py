"""Content capture: redacted text encrypted with AES-GCM under per-tenant data keys (DEKs).

DEKs are stored wrapped (envelope encryption) by a key-encryption key (KEK). The default KEK is 32
random bytes in a file (0600); a KMS or Vault KEK implements the ``KeyEncryptionKey`` protocol.
Ciphertext is stored outside the Merkle leaf; the leaf holds only a ``ContentRef`` commitment
(SHA-256 of nonce||ciphertext). ``shred_tenant`` destroys a tenant's DEKs: its content becomes
unreadable while every record and proof still verifies.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import ContentShredded
from .record import ContentRef, format_time
from .store.base import AuditStore, ContentRow, DataKeyRow

__all__ = ["ContentVault", "FileKek", "KeyEncryptionKey", "SealedContent"]


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps data keys. MUST NOT expose the key itself (a KMS never does)."""

    @property
    def kek_id(self) -> str: ...

    def wrap(self, dek: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class FileKek:
    """AES-256-GCM key-encryption key read from (or created in) a 0600 file."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.exists():
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


def _aad(content_id: str, tenant: str) -> bytes:
    return f"bastion-audit-content\n{content_id}\n{tenant}".encode()


def _key_context(dek_id: str, tenant: str) -> bytes:
    return f"bastion-audit-dek\n{dek_id}\n{tenant}".encode()


class ContentVault:
    """Per-tenant DEKs (cached unwrapped in memory) and content sealing. Thread-safe."""

    def __init__(self, store: AuditStore, kek: KeyEncryptionKey) -> None:
        self._store = store
        self._kek = kek
        self._lock = threading.Lock()
        self._active: dict[str, tuple[str, AESGCM]] = {}

    def _active_key(self, tenant: str) -> tuple[str, AESGCM]:
        with self._lock:
            if tenant in self._active:
                return self._active[tenant]
            live = [k for k in self._store.data_keys(tenant) if k.wrapped is not None]
            if live:
                k = live[-1]
                dek = self._kek.unwrap(k.wrapped, _key_context(k.dek_id, tenant))  # type: ignore[arg-type]
                entry = (k.dek_id, AESGCM(dek))
            else:
                dek_id, dek = uuid.uuid4().hex, AESGCM.generate_key(bit_length=256)
                wrapped = self._kek.wrap(dek, _key_context(dek_id, tenant))
                now = format_time(datetime.now(UTC))
                self._store.add_data_key(
                    DataKeyRow(dek_id, tenant, self._kek.kek_id, wrapped, now, None)
                )
                entry = (dek_id, AESGCM(dek))
            self._active[tenant] = entry
            return entry

    def seal(self, tenant: str, text: str) -> SealedContent:
        """Encrypt redacted ``text`` for ``tenant`` (creates the tenant's DEK on first use)."""
        dek_id, aead = self._active_key(tenant)
        content_id = uuid.uuid4().hex
        nonce = os.urandom(12)
        ct = aead.encrypt(nonce, text.encode(), _aad(content_id, tenant))
        ref = ContentRef(
            id=content_id, dek_id=dek_id, sha256=hashlib.sha256(nonce + ct).hexdigest()
        )
        return SealedContent(ref, (content_id, tenant, dek_id, nonce, ct))

    def open(self, ref: ContentRef) -> str:
        """Decrypt captured content. Raises ContentShredded once the tenant's key is destroyed."""
        row = self._store.content(ref.id)
        if row is None:
            raise KeyError(f"no content {ref.id}")
        if hashlib.sha256(row.nonce + row.ciphertext).hexdigest() != ref.sha256:
            raise ValueError(f"content {ref.id} does not match its commitment in the record")
        keys = {k.dek_id: k for k in self._store.data_keys(row.tenant)}
        key = keys.get(row.dek_id)
        if key is None or key.wrapped is None:
            raise ContentShredded(f"the data key of content {ref.id} was destroyed")
        dek = self._kek.unwrap(key.wrapped, _key_context(key.dek_id, row.tenant))
        try:
            return (
                AESGCM(dek)
                .decrypt(row.nonce, row.ciphertext, _aad(row.content_id, row.tenant))
                .decode()
            )
        except InvalidTag as e:
            raise ValueError(f"content {ref.id} failed authentication") from e

    def shred_tenant(self, tenant: str) -> int:
        """Destroy every data key of ``tenant``; return how many were destroyed."""
        with self._lock:
            self._active.pop(tenant, None)
            return self._store.shred_data_keys(tenant, format_time(datetime.now(UTC)))
