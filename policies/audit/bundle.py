"""The export bundle format (a zip), shared by the exporter and the offline verifier.

Members:
- ``manifest.json`` + ``manifest.sig``: what was exported (filters, count, a digest over every
  exported (index, leaf hash) pair, the anchor checkpoint), signed by the log key.
- ``records.jsonl`` (one canonical record per line, exactly the hashed bytes) or ``records.csv``
  (readable columns plus the canonical record in the ``record`` column).
- ``proof.json``: tree size, the exported leaf indices as [start, count] ranges, and a multi-leaf
  inclusion proof (the union of every exported record's RFC 6962 audit path, shared nodes once).
- ``checkpoints.json``: signed checkpoints, oldest first; the last is the anchor.
- ``consistency.json``: RFC 6962 consistency proofs between consecutive checkpoints.
- ``public_key.pem``, ``README.txt``.
- with ``--with-content``: ``content/<index>.json`` per exported record with captured content,
  outside the hashed leaves (see bundle_content.py); the manifest counts them.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint
from .merkle import MerkleTree
from .record import canonical_json
from .signer import Signer

__all__ = [
    "BUNDLE_FORMAT",
    "CSV_COLUMNS",
    "MANIFEST_CONTEXT",
    "ExportSummary",
    "csv_row",
    "index_ranges",
    "leaves_digest",
    "write_bundle",
]

BUNDLE_FORMAT = "bastion-audit-bundle/1"
MANIFEST_CONTEXT = b"bastion-audit export manifest\n"

CSV_COLUMNS = (
    "index", "time", "event_type", "tenant", "key_id", "role", "origin", "outcome",
    "status_code", "error_type", "model", "version", "site", "data_classes", "entity_counts",
    "policy_rule", "policy_version", "policy_outcome", "prompt_tokens", "completion_tokens",
    "cost_micro_usd", "latency_ms", "cache_hit", "stream", "record",
)  # fmt: skip


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def csv_row(index: int, body: bytes, rec: dict[str, Any]) -> list[str]:
    """The CSV row of one record; the verifier recomputes it from ``record`` and compares."""
    actor, res = rec.get("actor") or {}, rec.get("resource") or {}
    pol, tok = rec.get("policy") or {}, rec.get("tokens") or {}
    counts = rec.get("entity_counts") or {}
    return [
        str(index), _s(rec.get("time")), _s(rec.get("event_type")), _s(actor.get("tenant")),
        _s(actor.get("key_id")), _s(actor.get("role")), _s(rec.get("origin")),
        _s(rec.get("outcome")), _s(rec.get("status_code")), _s(rec.get("error_type")),
        _s(res.get("model")), _s(res.get("version")), _s(res.get("site")),
        ";".join(rec.get("data_classes") or ()),
        ";".join(f"{k}={counts[k]}" for k in sorted(counts)),
        _s(pol.get("rule_id")), _s(pol.get("version")), _s(pol.get("outcome")),
        _s(tok.get("prompt")), _s(tok.get("completion")), _s(rec.get("cost_micro_usd")),
        _s(rec.get("latency_ms")), _s(rec.get("cache_hit")), _s(rec.get("stream")),
        body.decode(),
    ]  # fmt: skip


def index_ranges(indices: Sequence[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in indices:
        if out and out[-1][0] + out[-1][1] == i:
            out[-1][1] += 1
        else:
            out.append([i, 1])
    return out


def leaves_digest(ranges: Sequence[Sequence[int]], hashes: Sequence[bytes]) -> str:
    """SHA-256 of the canonical JSON of the index ranges, then every leaf hash in order."""
    h = hashlib.sha256(canonical_json([list(r) for r in ranges]))
    h.update(b"".join(hashes))
    return h.hexdigest()


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote; ``audit_detail()`` feeds the caller's audit.exported record."""

    path: Path
    records: int
    anchor_tree_size: int
    anchor_root_hash: str
    bundle_sha256: str
    bundle_bytes: int
    filters: dict[str, str | None]
    record_format: str
    contents: dict[str, int] | None = None  # with content: counts by status

    def audit_detail(self) -> dict[str, str | int]:
        detail: dict[str, str | int] = {
            "records": self.records,
            "anchor_tree_size": self.anchor_tree_size,
            "bundle_sha256": self.bundle_sha256,
            "format": self.record_format,
        }
        if self.contents is not None:
            detail["contents"] = self.contents.get("present", 0)
            detail["contents_shredded"] = self.contents.get("shredded", 0)
            detail["contents_absent"] = self.contents.get("absent", 0)
        for k, v in self.filters.items():
            if v is not None:
                detail[f"filter_{k}"] = v
        return detail


def _readme(manifest: dict[str, Any], key_id: str) -> str:
    return f"""Bastion audit export
====================

Exported records: {manifest["record_count"]} ({manifest["records_file"]})
Filters: {json.dumps(manifest["filters"], sort_keys=True)}
Anchored in signed checkpoint: tree size {manifest["anchor_tree_size"]},
root {manifest["anchor_root_hash"]}
Signing key id: {key_id}

To verify (offline, with nothing but this file):

    bastion audit verify THIS_BUNDLE.zip --key-id {key_id}

Confirm the key id above with the key id your organisation published for its Bastion audit log
(the verifier checks every signature against public_key.pem; pinning the key id is what makes a
wholesale re-signed forgery detectable).

The verifier checks: the manifest signature; every checkpoint signature and the consistency
proofs between checkpoints (the log only grew); that every record hashes (RFC 6962 leaf
SHA-256(0x00||record line)) into the anchor checkpoint's root through proof.json; that no record
was removed, added or reordered relative to the signed manifest; and that every record matches the
export filters. Records carry counts of detected identifiers by type, never identifier values.

Field reference: docs/audit.md in the Bastion distribution.
"""


def write_bundle(
    out: Path,
    *,
    indices: Sequence[int],
    bodies: Sequence[bytes],
    tree: MerkleTree,
    checkpoints: Sequence[Checkpoint],
    signer: Signer,
    filters: dict[str, str | None],
    created: str,
    fmt: str = "jsonl",
    compresslevel: int = 6,
    content: tuple[dict[str, bytes], dict[str, int]] | None = None,
) -> ExportSummary:
    """Write a bundle proving ``bodies`` (at ``indices``) against ``checkpoints[-1]``."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError("format must be jsonl or csv")
    anchor = checkpoints[-1]
    if tree.size < anchor.tree_size or tree.root(anchor.tree_size) != anchor.root_hash:
        raise ValueError("tree does not match the anchor checkpoint")
    hashes = [tree.leaf(i) for i in indices]
    ranges = index_ranges(indices)
    nodes = tree.multi_proof(indices, anchor.tree_size) if indices else []
    consistency = [
        {
            "old_size": a.tree_size,
            "new_size": b.tree_size,
            "nodes": [n.hex() for n in tree.consistency_proof(a.tree_size, b.tree_size)],
        }
        for a, b in itertools.pairwise(checkpoints)
    ]
    records_file = f"records.{fmt}"
    if fmt == "jsonl":
        records_data = b"".join(b + b"\n" for b in bodies)
    else:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for i, b in zip(indices, bodies, strict=True):
            w.writerow(csv_row(i, b, json.loads(b)))
        records_data = buf.getvalue().encode()
    manifest = {
        "format": BUNDLE_FORMAT,
        "created": created,
        "key_id": signer.key_id,
        "filters": filters,
        "records_file": records_file,
        "record_count": len(bodies),
        "leaves_sha256": leaves_digest(ranges, hashes),
        "anchor_tree_size": anchor.tree_size,
        "anchor_root_hash": anchor.root_hash.hex(),
        "checkpoint_count": len(checkpoints),
    }
    if content is not None:
        manifest["content"] = dict(content[1])
    manifest_bytes = canonical_json(manifest)
    proof = {
        "tree_size": anchor.tree_size,
        "index_ranges": ranges,
        "nodes": [n.hex() for n in nodes],
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(
        tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
    ) as z:
        z.writestr("manifest.json", manifest_bytes)
        z.writestr("manifest.sig", base64.b64encode(signer.sign(MANIFEST_CONTEXT + manifest_bytes)))
        z.writestr(records_file, records_data)
        z.writestr("proof.json", json.dumps(proof, separators=(",", ":")))
        z.writestr("checkpoints.json", json.dumps([c.to_json() for c in checkpoints], indent=1))
        z.writestr("consistency.json", json.dumps(consistency, indent=1))
        z.writestr("public_key.pem", signer.public_key_pem())
        z.writestr("README.txt", _readme(manifest, signer.key_id))
        for name, data in (content[0] if content is not None else {}).items():
            z.writestr(name, data)
    tmp.replace(out)
    data = out.read_bytes()
    return ExportSummary(
        path=out,
        records=len(bodies),
        anchor_tree_size=anchor.tree_size,
        anchor_root_hash=anchor.root_hash.hex(),
        bundle_sha256="sha256:" + hashlib.sha256(data).hexdigest(),
        bundle_bytes=len(data),
        filters=filters,
        record_format=fmt,
        contents=dict(content[1]) if content is not None else None,
    )
