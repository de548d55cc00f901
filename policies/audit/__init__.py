"""Tamper-evident audit log: records, Merkle tree, checkpoints, stores, export, offline verify."""

from .bundle import ExportSummary
from .checkpoint import Checkpoint
from .config import AuditConfig
from .content import ErasedKeys, FileKek, KeyEncryptionKey
from .errors import (
    AuditError,
    AuditIntegrityError,
    AuditUnavailable,
    ContentShredded,
    StoreConflict,
)
from .export import append_direct, export_bundle
from .factory import build_audit_log
from .log import AuditLog, LogStats, QueryPage
from .record import (
    EVENT_TYPES,
    Actor,
    AuditRecord,
    ContentRef,
    PolicyRef,
    Resource,
    Tokens,
)
from .signer import FileEd25519Signer, Signer
from .store import AuditStore, RecordFilter, open_store
from .verify import VerifyResult, verify_bundle

__all__ = [
    "EVENT_TYPES",
    "Actor",
    "AuditConfig",
    "AuditError",
    "AuditIntegrityError",
    "AuditLog",
    "AuditRecord",
    "AuditStore",
    "AuditUnavailable",
    "Checkpoint",
    "ContentRef",
    "ContentShredded",
    "ErasedKeys",
    "ExportSummary",
    "FileEd25519Signer",
    "FileKek",
    "KeyEncryptionKey",
    "LogStats",
    "PolicyRef",
    "QueryPage",
    "RecordFilter",
    "Resource",
    "Signer",
    "StoreConflict",
    "Tokens",
    "VerifyResult",
    "append_direct",
    "build_audit_log",
    "export_bundle",
    "open_store",
    "verify_bundle",
]
