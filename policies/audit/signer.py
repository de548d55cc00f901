"""Checkpoint signing: the ``Signer`` protocol and the default file-based Ed25519 signer.

A signer for Vault transit (or a KMS/HSM) implements the same three members: ``key_id``,
``public_key_pem()`` and ``sign(message) -> signature``; see docs/audit.md. Verification needs
only the public key (``verify_signature``), so auditors never hold a secret.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["FileEd25519Signer", "Signer", "key_id_for", "load_public_key", "verify_signature"]


@runtime_checkable
class Signer(Protocol):
    """Signs checkpoint and bundle-manifest bytes with Ed25519."""

    @property
    def key_id(self) -> str:
        """Fingerprint of the public key (``key_id_for``); printed for auditors to pin."""
        ...

    def public_key_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM of the verification key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Raw 64-byte Ed25519 signature over ``message``."""
        ...


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(public_key_pem: bytes) -> str:
    """SHA-256 of the raw public key, first 16 bytes hex (32 characters)."""
    return hashlib.sha256(_raw_public(load_public_key(public_key_pem))).hexdigest()[:32]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("public key is not Ed25519")
    return key


def verify_signature(public_key_pem: bytes, message: bytes, signature: bytes) -> bool:
    try:
        load_public_key(public_key_pem).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class FileEd25519Signer:
    """Ed25519 key in a PEM file, created with mode 0600 on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key = self._load_or_create(self.path)
        self._pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = key_id_for(self._pem)

    @staticmethod
    def _load_or_create(path: Path) -> Ed25519PrivateKey:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return key
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        return key

    @property
    def key_id(self) -> str:
        return self._key_id

    def public_key_pem(self) -> bytes:
        return self._pem

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)
