"""Batch files, jobs, per-line results and leases in the StateStore, encrypted per tenant.

Every byte of client text (input lines, custom ids, answers, metadata) is sealed with
AES-256-GCM under a key derived (HKDF-SHA256) from the tenant's batch data key and the object's
id. The tenant key is kept wrapped by the audit log's key-encryption key (the same KEK file as
captured audit content, policies/audit/content.py), so deleting it shreds every batch file of
the tenant. Every row is written with the retention period as its TTL, so the store's purge
deletes files, jobs and results once it is over.

Namespaces (keys are Bastion's own ids, never client text):
  batch.keys     tenant hash -> wrapped tenant data key
  batch.files    file id     -> JSON meta (tenant, purpose, bytes, created_at, expires_at)
  batch.blobs    file id     -> nonce || ciphertext
  batch.jobs     batch id    -> JSON job (the route writes it once, then the lease holder)
  batch.active   batch id    -> b"1" while the job is not finished
  batch.cancel   batch id    -> b"1" once a cancel is requested
  batch.lease    batch id    -> worker id (put_if_absent + TTL)
  batch.lines    batch id:NNNNNNN -> b"1"|b"0" (ok or error) || nonce || sealed output line
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from policies.audit.content import KeyEncryptionKey
from serving.pipeline.errors import UpstreamError
from state.base import StateStore

__all__ = ["BatchStore", "FileMeta", "line_key", "shred_batch_key"]

NS_KEYS = "batch.keys"
NS_FILES = "batch.files"
NS_BLOBS = "batch.blobs"
NS_JOBS = "batch.jobs"
NS_ACTIVE = "batch.active"
NS_CANCEL = "batch.cancel"
NS_LEASE = "batch.lease"
NS_LINES = "batch.lines"


def line_key(batch_id: str, index: int) -> str:
    return f"{batch_id}:{index:07d}"


def _tenant_slot(tenant: str) -> str:
    return hashlib.sha256(b"bastion-batch-tenant\n" + tenant.encode()).hexdigest()[:40]


def _context(tenant: str) -> bytes:
    return b"bastion-batch-dek\n" + tenant.encode()


def shred_batch_key(store: StateStore, tenant: str) -> bool:
    """Destroy ``tenant``'s batch data key in ``store`` (``bastion audit shred`` and
    ``POST /v1/admin/audit/shred`` call it): every batch file, job text and line result of the
    tenant becomes unreadable, on every replica (no replica keeps the key in memory). True when
    a key was destroyed; the tenant's next batch file gets a new key."""
    return store.delete(NS_KEYS, _tenant_slot(tenant))


@dataclass(frozen=True)
class FileMeta:
    id: str
    tenant: str
    purpose: str
    bytes: int
    created_at: int
    expires_at: int
    filename: str = "batch.jsonl"  # Bastion's own name, never the client's

    def openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


class BatchStore:
    """The Batch API's rows; thread-safe (the StateStore is)."""

    def __init__(self, store: StateStore, kek: KeyEncryptionKey, retention_s: float) -> None:
        self.store = store
        self.kek = kek
        self.retention_s = retention_s
        self._lock = threading.Lock()
        # (tenant, wrapped key) -> unwrapped key; an entry is used only while the store still
        # holds that wrapped key
        self._unwrapped: dict[tuple[str, bytes], bytes] = {}

    # -- keys -------------------------------------------------------------------------------
    def _dek(self, tenant: str) -> bytes:
        """The tenant's data key. Its wrapped form is read from the store at each use (only the
        unwrapping is cached, by wrapped value): a key shredded through any replica or the CLI
        is gone for every replica at once."""
        slot = _tenant_slot(tenant)
        wrapped = self.store.get(NS_KEYS, slot)
        if wrapped is None:
            with self._lock:
                fresh = AESGCM.generate_key(bit_length=256)
                # one key per tenant, whichever replica creates it first
                self.store.put_if_absent(NS_KEYS, slot, self.kek.wrap(fresh, _context(tenant)))
                wrapped = self.store.get(NS_KEYS, slot)
            if wrapped is None:
                raise RuntimeError("the tenant's batch key could not be stored")
        with self._lock:
            dek = self._unwrapped.get((tenant, wrapped))
        if dek is not None:
            return dek
        try:
            dek = self.kek.unwrap(wrapped, _context(tenant))
        except InvalidTag:  # another KEK than the one that wrapped it: fail closed (503)
            raise UpstreamError("the tenant's batch key cannot be unwrapped") from None
        with self._lock:
            self._unwrapped = {k: v for k, v in self._unwrapped.items() if k[0] != tenant}
            self._unwrapped[(tenant, wrapped)] = dek
        return dek

    def shred_tenant(self, tenant: str) -> bool:
        """Destroy the tenant's batch key: its files and results become unreadable."""
        with self._lock:
            self._unwrapped = {k: v for k, v in self._unwrapped.items() if k[0] != tenant}
        return shred_batch_key(self.store, tenant)

    def _aead(self, tenant: str, object_id: str) -> AESGCM:
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"bastion-batch-object\n" + object_id.encode(),
        ).derive(self._dek(tenant))
        return AESGCM(key)

    def seal(self, tenant: str, object_id: str, data: bytes, aad: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead(tenant, object_id).encrypt(nonce, data, aad.encode())

    def unseal(self, tenant: str, object_id: str, blob: bytes, aad: str) -> bytes:
        return self._aead(tenant, object_id).decrypt(blob[:12], blob[12:], aad.encode())

    # -- files ------------------------------------------------------------------------------
    def put_file(
        self, tenant: str, purpose: str, data: bytes, file_id: str | None = None
    ) -> FileMeta:
        now = int(time.time())
        file_id = file_id or "file-" + uuid.uuid4().hex
        meta = FileMeta(file_id, tenant, purpose, len(data), now, now + int(self.retention_s))
        blob = self.seal(tenant, file_id, data, "file\n" + file_id)
        self.store.put(NS_BLOBS, file_id, blob, ttl_s=self.retention_s)
        self.store.put(NS_FILES, file_id, json.dumps(meta.__dict__).encode(), self.retention_s)
        return meta

    def file_meta(self, file_id: str, tenant: str) -> FileMeta | None:
        """The file's meta; None when absent, expired or another tenant's."""
        try:
            raw = self.store.get(NS_FILES, file_id)
        except ValueError:  # not an id of ours
            return None
        if raw is None:
            return None
        meta = FileMeta(**json.loads(raw))
        return meta if meta.tenant == tenant else None

    def file_content(self, meta: FileMeta) -> bytes | None:
        blob = self.store.get(NS_BLOBS, meta.id)
        if blob is None:
            return None
        try:
            return self.unseal(meta.tenant, meta.id, blob, "file\n" + meta.id)
        except InvalidTag:  # the tenant's key was destroyed (shredded): the file is gone
            return None

    # -- jobs -------------------------------------------------------------------------------
    def put_job(self, job: dict[str, Any]) -> None:
        self.store.put(NS_JOBS, job["id"], json.dumps(job).encode(), ttl_s=self.retention_s)

    def job(self, batch_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        try:
            raw = self.store.get(NS_JOBS, batch_id)
        except ValueError:
            return None
        if raw is None:
            return None
        job = json.loads(raw)
        if tenant is not None and job["_tenant"] != tenant:
            return None
        return job

    def activate(self, batch_id: str) -> None:
        self.store.put(NS_ACTIVE, batch_id, b"1", ttl_s=self.retention_s)

    def deactivate(self, batch_id: str) -> None:
        self.store.delete(NS_ACTIVE, batch_id)

    def active(self) -> list[str]:
        return [k for k, _ in self.store.items(NS_ACTIVE, limit=10_000)]

    def request_cancel(self, batch_id: str) -> None:
        self.store.put(NS_CANCEL, batch_id, b"1", ttl_s=self.retention_s)

    def cancel_requested(self, batch_id: str) -> bool:
        return self.store.get(NS_CANCEL, batch_id) is not None

    # -- leases -----------------------------------------------------------------------------
    def acquire(self, batch_id: str, worker: str, ttl_s: float) -> bool:
        if self.store.put_if_absent(NS_LEASE, batch_id, worker.encode(), ttl_s):
            return True
        return self.store.get(NS_LEASE, batch_id) == worker.encode()

    def renew(self, batch_id: str, worker: str, ttl_s: float) -> bool:
        """Extend the lease while it is still ours; False once another worker holds it."""
        if self.store.get(NS_LEASE, batch_id) != worker.encode():
            return self.store.put_if_absent(NS_LEASE, batch_id, worker.encode(), ttl_s)
        self.store.put(NS_LEASE, batch_id, worker.encode(), ttl_s)
        return True

    def release(self, batch_id: str, worker: str) -> None:
        if self.store.get(NS_LEASE, batch_id) == worker.encode():
            self.store.delete(NS_LEASE, batch_id)

    # -- per-line results -------------------------------------------------------------------
    def record_line(
        self, tenant: str, batch_id: str, index: int, ok: bool, line: dict[str, Any]
    ) -> bool:
        """Record one line's output before it is counted; False when it was recorded already."""
        key = line_key(batch_id, index)
        sealed = self.seal(tenant, batch_id, json.dumps(line).encode(), "line\n" + key)
        value = (b"1" if ok else b"0") + sealed
        return self.store.put_if_absent(NS_LINES, key, value, ttl_s=self.retention_s)

    def line_status(self, batch_id: str) -> dict[int, bool]:
        """Index -> ok for every recorded line of the job."""
        rows = self.store.items(NS_LINES, prefix=batch_id + ":", limit=10_000_000)
        return {int(k.rsplit(":", 1)[1]): v[:1] == b"1" for k, v in rows}

    def lines(self, tenant: str, batch_id: str) -> list[tuple[int, bool, dict[str, Any]]]:
        rows = self.store.items(NS_LINES, prefix=batch_id + ":", limit=10_000_000)
        out = []
        for key, value in rows:
            try:
                data = self.unseal(tenant, batch_id, value[1:], "line\n" + key)
            except InvalidTag:  # written under a key since shredded: gone
                continue
            out.append((int(key.rsplit(":", 1)[1]), value[:1] == b"1", json.loads(data)))
        return sorted(out, key=lambda row: row[0])
