"""Captured content in an export bundle (``--with-content``), beside the records.

Content is never part of a hashed leaf: a record holds only its commitment,
``content: {id, dek_id, sha256(nonce || ciphertext)}``. With content, the bundle carries one
file per exported record that has a commitment, ``content/<index>.json``:

- ``{"status": "present", "index", "content_id", "nonce", "ciphertext", "key", "text"}``
  (nonce, ciphertext and the content's own key in base64; ``key`` is null for content sealed
  under a legacy per-tenant key, whose key is never exported);
- ``{"status": "shredded", "index", "content_id"}``: its data key was destroyed.

The verifier checks each present file against the record's commitment (the record itself is
proven by the Merkle proof): the ciphertext hashes to the commitment, the key opens it (AES-GCM,
bound to the content id and the record's tenant), and the plaintext equals ``text``. Anything
else fails with the reason. A record whose content file is missing is reported as absent, a
shredded one as shredded; neither is a failure (content is erasable by design).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .content import ContentItem, content_aad
from .errors import ContentShredded
from .record import ContentRef

__all__ = ["CONTENT_DIR", "ContentCheck", "check_content", "content_files"]

CONTENT_DIR = "content/"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def content_files(
    indices: Sequence[int], bodies: Sequence[bytes], open_item: Callable[[ContentRef], ContentItem]
) -> tuple[dict[str, bytes], dict[str, int]]:
    """The content files of the exported records, and counts by status."""
    files: dict[str, bytes] = {}
    counts = {"present": 0, "shredded": 0, "absent": 0}
    for index, body in zip(indices, bodies, strict=True):
        ref_data = json.loads(body).get("content")
        if not ref_data:
            continue
        ref = ContentRef.model_validate(ref_data)
        entry: dict[str, Any] = {"index": index, "content_id": ref.id}
        try:
            item = open_item(ref)
        except ContentShredded:
            entry["status"] = "shredded"
        except (KeyError, ValueError):  # no row, or a row that contradicts its commitment
            counts["absent"] += 1
            continue
        else:
            entry.update(
                status="present",
                nonce=_b64(item.row.nonce),
                ciphertext=_b64(item.row.ciphertext),
                key=_b64(item.key) if item.key is not None else None,
                text=item.text,
            )
        counts[entry["status"]] += 1
        files[f"{CONTENT_DIR}{index}.json"] = json.dumps(
            entry, sort_keys=True, ensure_ascii=False
        ).encode()
    return files, counts


class ContentError(Exception):
    """A content file contradicts its record's commitment (the reason is the message)."""


@dataclass
class ContentCheck:
    verified: int = 0
    unbound: int = 0  # legacy content: ciphertext matches, text not checkable without its key
    shredded: int = 0
    absent: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"content: {self.verified} verified, {self.shredded} shredded, {self.absent} absent"
            + (f", {self.unbound} legacy (ciphertext only)" if self.unbound else "")
        )


def check_content(
    files: dict[str, bytes], indices: Sequence[int], bodies: Sequence[bytes]
) -> ContentCheck:
    """Check every content file against the commitment in its (already proven) record.
    Raises ContentError on the first contradiction."""
    result = ContentCheck()
    seen: set[str] = set()
    for index, body in zip(indices, bodies, strict=True):
        rec = json.loads(body)
        ref = rec.get("content")
        if not ref:
            continue
        name = f"{CONTENT_DIR}{index}.json"
        raw = files.get(name)
        if raw is None:
            result.absent += 1
            continue
        seen.add(name)
        entry = json.loads(raw)
        if entry.get("index") != index or entry.get("content_id") != ref["id"]:
            raise ContentError(f"content of record {index}: file names another content")
        if entry.get("status") == "shredded":
            result.shredded += 1
            continue
        if entry.get("status") != "present":
            raise ContentError(f"content of record {index}: unknown status")
        nonce = base64.b64decode(entry["nonce"], validate=True)
        ct = base64.b64decode(entry["ciphertext"], validate=True)
        if hashlib.sha256(nonce + ct).hexdigest() != ref["sha256"]:
            raise ContentError(
                f"content of record {index} does not match its commitment (ciphertext changed)"
            )
        if entry.get("key") is None:
            result.unbound += 1
            continue
        tenant = (rec.get("actor") or {}).get("tenant") or ""
        try:
            key = base64.b64decode(entry["key"], validate=True)
            plain = AESGCM(key).decrypt(nonce, ct, content_aad(ref["id"], tenant))
        except (InvalidTag, ValueError) as e:
            raise ContentError(
                f"content of record {index}: its key does not open the committed ciphertext"
            ) from e
        if plain.decode() != entry.get("text"):
            raise ContentError(
                f"content of record {index}: text differs from the committed content"
            )
        result.verified += 1
    extra = sorted(n for n in files if n not in seen)
    if extra:
        raise ContentError(f"{extra[0]} belongs to no exported record with content")
    return result
