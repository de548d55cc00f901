"""Offline verification of an export bundle, with nothing but the bundle (and a pinned key id)."""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bundle import BUNDLE_FORMAT, CSV_COLUMNS, MANIFEST_CONTEXT, csv_row, leaves_digest
from .bundle_content import CONTENT_DIR, ContentCheck, ContentError, check_content
from .checkpoint import Checkpoint
from .merkle import root_from_multi_proof, verify_consistency
from .signer import key_id_for, verify_signature

__all__ = ["VerifyResult", "verify_bundle"]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    reason: str
    records: int
    key_id: str | None = None
    tree_size: int | None = None
    root_hash: str | None = None
    content: ContentCheck | None = None  # with content files: what was checked


class _Fail(Exception):
    pass


def verify_bundle(path: Path, *, expected_key_id: str | None = None) -> VerifyResult:
    """Verify a bundle. ``ok`` is False with a human-readable ``reason`` on the first problem."""
    try:
        return _verify(Path(path), expected_key_id)
    except _Fail as e:
        return VerifyResult(False, str(e), 0)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, binascii.Error) as e:
        return VerifyResult(False, f"malformed bundle: {type(e).__name__}: {e}", 0)


def _verify(path: Path, expected_key_id: str | None) -> VerifyResult:
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for required in ("manifest.json", "manifest.sig", "proof.json", "checkpoints.json",
                         "consistency.json", "public_key.pem"):  # fmt: skip
            if required not in names:
                raise _Fail(f"bundle lacks {required}")
        pem = z.read("public_key.pem")
        manifest_bytes = z.read("manifest.json")
        manifest_sig = base64.b64decode(z.read("manifest.sig"), validate=True)
        manifest = json.loads(manifest_bytes)
        records_data = z.read(manifest["records_file"])
        proof = json.loads(z.read("proof.json"))
        cps = [Checkpoint.from_json(c) for c in json.loads(z.read("checkpoints.json"))]
        consistency = json.loads(z.read("consistency.json"))
        content_files = {n: z.read(n) for n in names if n.startswith(CONTENT_DIR)}
        has_content = "content" in manifest or bool(content_files)

    # 1. Key and manifest signature.
    key_id = key_id_for(pem)
    if expected_key_id is not None and key_id != expected_key_id:
        raise _Fail(f"bundle is signed by key {key_id}, expected {expected_key_id}")
    if not verify_signature(pem, MANIFEST_CONTEXT + manifest_bytes, manifest_sig):
        raise _Fail("manifest signature is invalid")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise _Fail(f"unknown bundle format {manifest.get('format')!r}")
    if manifest["key_id"] != key_id:
        raise _Fail("manifest names a different key than public_key.pem")

    # 2. Checkpoints: signatures, growth, consistency.
    if not cps:
        raise _Fail("bundle has no checkpoint")
    for n, cp in enumerate(cps):
        if cp.key_id != key_id or not cp.verify(pem):
            raise _Fail(f"checkpoint {n} (tree size {cp.tree_size}): signature is invalid")
    if len(consistency) != len(cps) - 1:
        raise _Fail("consistency proofs do not pair up the checkpoints")
    for a, b, c in zip(cps, cps[1:], consistency, strict=False):
        if (c["old_size"], c["new_size"]) != (a.tree_size, b.tree_size):
            raise _Fail(f"consistency proof {c['old_size']}->{c['new_size']} is misplaced")
        nodes = [bytes.fromhex(h) for h in c["nodes"]]
        if not verify_consistency(a.tree_size, b.tree_size, a.root_hash, b.root_hash, nodes):
            raise _Fail(
                f"checkpoints {a.tree_size} and {b.tree_size} are inconsistent: the log was "
                "rewritten between them"
            )
    anchor = cps[-1]
    if (anchor.tree_size, anchor.root_hash.hex()) != (
        manifest["anchor_tree_size"],
        manifest["anchor_root_hash"],
    ) or proof["tree_size"] != anchor.tree_size:
        raise _Fail("manifest, proof and anchor checkpoint disagree on the tree")

    # 3. Records, their indices and the signed digest over them.
    bodies, csv_rows = _records(manifest["records_file"], records_data)
    ranges = proof["index_ranges"]
    prev_end = -1
    for r in ranges:
        if len(r) != 2 or r[1] < 1 or r[0] <= prev_end:
            raise _Fail("proof index ranges are not increasing and disjoint")
        prev_end = r[0] + r[1]
    indices = [i for start, count in ranges for i in range(start, start + count)]
    count = manifest["record_count"]
    if len(bodies) != count or len(indices) != count:
        raise _Fail(
            f"manifest lists {count} records; bundle has {len(bodies)} records and "
            f"{len(indices)} indices (a record was removed or added)"
        )
    sha, prefix = hashlib.sha256, b"\x00"
    hashes = [sha(prefix + b).digest() for b in bodies]
    if leaves_digest(ranges, hashes) != manifest["leaves_sha256"]:
        raise _Fail(_first_difference(bodies, indices))

    # 4. Inclusion of every record in the anchor checkpoint.
    if bodies:
        try:
            nodes = [bytes.fromhex(h) for h in proof["nodes"]]
            root = root_from_multi_proof(indices, hashes, anchor.tree_size, nodes)
        except ValueError as e:
            raise _Fail(f"inclusion proof is malformed: {e}") from e
        if root != anchor.root_hash:
            raise _Fail("records do not hash to the signed checkpoint root (inclusion failed)")

    # 5. Every record matches the export filters; CSV columns match the hashed record.
    _check_records(bodies, indices, manifest["filters"], csv_rows)

    # 6. Captured content beside the records, against each record's commitment.
    content = None
    if has_content:
        try:
            content = check_content(content_files, indices, bodies)
        except ContentError as e:
            raise _Fail(str(e)) from e
    reason = f"{count} records verified against checkpoint {anchor.tree_size} "
    reason += f"signed by key {key_id}"
    return VerifyResult(
        True,
        reason + (f"; {content.summary()}" if content is not None else ""),
        count,
        key_id=key_id,
        tree_size=anchor.tree_size,
        root_hash=anchor.root_hash.hex(),
        content=content,
    )


def _records(name: str, data: bytes) -> tuple[list[bytes], list[list[str]] | None]:
    if name == "records.jsonl":
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines, None
    if name == "records.csv":
        rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
        if not rows or tuple(rows[0]) != CSV_COLUMNS:
            raise _Fail("records.csv has unexpected columns")
        return [r[-1].encode() for r in rows[1:]], rows[1:]
    raise _Fail(f"unknown records file {name!r}")


def _first_difference(bodies: list[bytes], indices: list[int]) -> str:
    for n in range(1, len(indices)):
        if indices[n] <= indices[n - 1]:
            return f"record indices out of order at position {n} (records reordered or duplicated)"
    return "records differ from the signed manifest (modified, added, removed or reordered)"


def _check_records(
    bodies: list[bytes],
    indices: list[int],
    filters: dict[str, Any],
    csv_rows: list[list[str]] | None,
) -> None:
    """Runs after inclusion succeeded, so every line is a genuine canonical record."""
    start, end = filters.get("from"), filters.get("to")
    tenant, event_type = filters.get("tenant"), filters.get("event_type")
    if not bodies or (csv_rows is None and start is end is tenant is event_type is None):
        return
    decode = json.JSONDecoder().raw_decode  # per line, each dict dropped at once (no GC churn)
    for n, body in enumerate(bodies):
        if csv_rows is None and (fields := _fast_fields(body)) is not None:
            t, rec_tenant, rec_event = fields
        else:
            rec = decode(body.decode())[0]
            t, rec_event = rec["time"], rec["event_type"]
            rec_tenant = (rec.get("actor") or {}).get("tenant")
            if csv_rows is not None and csv_rows[n] != csv_row(indices[n], body, rec):
                raise _Fail(f"CSV columns of record {indices[n]} differ from its hashed record")
        if (start is not None and t < start) or (end is not None and t >= end):
            raise _Fail(f"record {indices[n]} lies outside the exported period")
        if tenant is not None and rec_tenant != tenant:
            raise _Fail(f"record {indices[n]} belongs to another tenant")
        if event_type is not None and rec_event != event_type:
            raise _Fail(f"record {indices[n]} has another event type")


_TIME, _EVENT, _TENANT = b'"time":"', b'"event_type":"', b'"tenant":"'


def _fast_fields(body: bytes) -> tuple[str, str | None, str] | None:
    """(time, tenant, event type) of a canonical record without parsing it, or None if ambiguous.

    Canonical records start with the ``actor`` object (flat tokens only), and their tokens never
    contain a quote; a key that also occurs inside ``detail`` or ``guardrails`` makes the line
    ambiguous, and the caller then parses it as JSON.
    """
    if body.count(_TIME) != 1 or body.count(_EVENT) != 1 or not body.startswith(b'{"actor":{'):
        return None
    actor_end = body.index(b"}")
    tenant: str | None = None
    ti = body.find(_TENANT, 0, actor_end)
    if ti >= 0:
        ti += len(_TENANT)
        tenant = body[ti : body.index(b'"', ti)].decode()
    i = body.index(_TIME) + len(_TIME)
    e = body.index(_EVENT) + len(_EVENT)
    return body[i : body.index(b'"', i)].decode(), tenant, body[e : body.index(b'"', e)].decode()
