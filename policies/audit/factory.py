"""One call from configuration to a ready AuditLog (what the AuditSequencer deployment wraps)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from .config import AuditConfig
from .content import FileKek, KeyEncryptionKey
from .log import AuditLog
from .signer import FileEd25519Signer, Signer
from .store import open_store

__all__ = ["build_audit_log"]


async def build_audit_log(
    config: AuditConfig,
    data_dir: Path,
    *,
    signer: Signer | None = None,
    kek: KeyEncryptionKey | None = None,
    retention: Callable[[], Mapping[str, int | None]] | None = None,
) -> AuditLog:
    """Open the store, load (or create) the signing key and KEK, rebuild the tree, start.

    Raises AuditUnavailable when the store cannot be opened and AuditIntegrityError when the stored
    log contradicts its latest signed checkpoint; either MUST stop the server from serving.
    """
    store = open_store(config, data_dir)
    try:
        signer = signer or FileEd25519Signer(config.resolve_signing_key_file(data_dir))
        if config.capture == "redacted" and kek is None:
            kek = FileKek(config.resolve_kek_file(data_dir))
        log = AuditLog(store, signer, config, kek=kek, retention=retention)
        await log.start()
    except BaseException:
        store.close()
        raise
    return log
