"""Export bundles and their offline verification, including every kind of tampering."""

from __future__ import annotations

import asyncio
import base64
import json
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from policies.audit import (
    AuditConfig,
    AuditLog,
    FileEd25519Signer,
    export_bundle,
    open_store,
    verify_bundle,
)
from policies.audit.bundle import MANIFEST_CONTEXT
from policies.audit.checkpoint import CHECKPOINT_CONTEXT, Checkpoint

from .conftest import T0, make_record

EVENTS = ("inference.chat", "inference.embedding", "key.created")


def fill(config: AuditConfig, data_dir: Path, signer, n: int = 60) -> None:
    """n records over 3 tenants and 3 event types, with checkpoints in between."""

    async def run() -> None:
        store = open_store(config, data_dir)
        log = AuditLog(store, signer, config)
        await log.start()
        for chunk in range(0, n, 20):
            await asyncio.gather(
                *(
                    log.append(make_record(i, tenant=f"t{i % 3}", event_type=EVENTS[i % 3]))
                    for i in range(chunk, min(n, chunk + 20))
                )
            )
            await log.checkpoint_now()
        await log.close()
        store.close()

    asyncio.run(run())


@pytest.fixture
def bundle(tmp_path: Path, signer) -> Path:
    config = AuditConfig(sqlite_path=str(tmp_path / "audit.db"), batch_max_wait_ms=1.0)
    fill(config, tmp_path, signer)
    store = open_store(config, tmp_path)
    summary = export_bundle(store, tmp_path / "t1.zip", None, None, tenant="t1", signer=signer)
    store.close()
    assert summary.records == 20
    return summary.path


def rewrite(src: Path, dst: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    edit(members)
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return dst


def lines(members: dict[str, bytes]) -> list[bytes]:
    return members["records.jsonl"].split(b"\n")[:-1]


def set_lines(members: dict[str, bytes], new: list[bytes]) -> None:
    members["records.jsonl"] = b"".join(x + b"\n" for x in new)


def test_bundle_verifies(bundle: Path, signer) -> None:
    result = verify_bundle(bundle, expected_key_id=signer.key_id)
    assert result.ok, result.reason
    assert result.records == 20 and result.tree_size == 60


@pytest.mark.parametrize(
    ("fmt", "start", "end", "tenant", "event_type", "expected"),
    [
        ("jsonl", None, None, None, None, 60),
        ("csv", None, None, "t2", None, 20),
        ("jsonl", T0 + timedelta(seconds=10), T0 + timedelta(seconds=25), None, None, 15),
        ("csv", None, None, None, "key.created", 20),
        ("jsonl", None, None, "nobody", None, 0),
    ],
)
def test_export_filters_and_formats(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer, fmt, start, end, tenant,
    event_type, expected,
) -> None:  # fmt: skip
    config = backend(batch_max_wait_ms=1.0)
    fill(config, tmp_path, signer)
    store = open_store(config, tmp_path)
    summary = export_bundle(
        store, tmp_path / "b.zip", start, end, tenant, event_type, fmt, signer=signer
    )
    store.close()
    assert summary.records == expected
    result = verify_bundle(summary.path, expected_key_id=signer.key_id)
    assert result.ok, result.reason
    assert result.records == expected
    detail = summary.audit_detail()
    assert detail["records"] == expected and str(detail["bundle_sha256"]).startswith("sha256:")


def _modify(m: dict[str, bytes]) -> None:
    ls = lines(m)
    ls[3] = ls[3].replace(b'"status_code":200', b'"status_code":500')
    set_lines(m, ls)


def _delete(m: dict[str, bytes]) -> None:
    ls = lines(m)
    del ls[5]
    set_lines(m, ls)
    proof = json.loads(m["proof.json"])
    idx = [i for s, c in proof["index_ranges"] for i in range(s, s + c)]
    del idx[5]
    proof["index_ranges"] = [[i, 1] for i in idx]
    m["proof.json"] = json.dumps(proof).encode()


def _delete_and_edit_manifest(m: dict[str, bytes]) -> None:
    _delete(m)
    manifest = json.loads(m["manifest.json"])
    manifest["record_count"] -= 1
    m["manifest.json"] = json.dumps(manifest).encode()


def _insert(m: dict[str, bytes]) -> None:
    ls = lines(m)
    set_lines(m, [*ls[:4], ls[4], *ls[4:]])


def _reorder(m: dict[str, bytes]) -> None:
    ls = lines(m)
    ls[2], ls[7] = ls[7], ls[2]
    set_lines(m, ls)


def _forge_checkpoint(m: dict[str, bytes]) -> None:
    cps = json.loads(m["checkpoints.json"])
    body = json.loads(cps[-1]["body"])
    body["root_hash"] = "00" * 32
    cps[-1]["body"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    m["checkpoints.json"] = json.dumps(cps).encode()


def _break_consistency(m: dict[str, bytes]) -> None:
    cons = json.loads(m["consistency.json"])
    cons[0]["nodes"][0] = "11" * 32
    m["consistency.json"] = json.dumps(cons).encode()


def _drop_manifest_sig(m: dict[str, bytes]) -> None:
    m["manifest.sig"] = base64.b64encode(b"\x00" * 64)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_modify, "records differ|inclusion"),
        (_delete, "removed or added|records differ"),
        (_delete_and_edit_manifest, "manifest signature"),
        (_insert, "removed or added"),
        (_reorder, "records differ|inclusion"),
        (_forge_checkpoint, "signature is invalid"),
        (_break_consistency, "inconsistent"),
        (_drop_manifest_sig, "manifest signature"),
    ],
    ids=[
        "modified",
        "deleted",
        "deleted+manifest",
        "inserted",
        "reordered",
        "forged-checkpoint",
        "consistency",
        "manifest-sig",
    ],
)
def test_tampering_is_detected(bundle: Path, tmp_path: Path, edit, reason: str) -> None:
    bad = rewrite(bundle, tmp_path / "bad.zip", edit)
    result = verify_bundle(bad)
    assert not result.ok
    assert result.records == 0
    import re

    assert re.search(reason, result.reason), result.reason


def test_wholesale_forgery_with_another_key_fails_against_the_pinned_key_id(
    bundle: Path, tmp_path: Path, signer
) -> None:
    """Rewrite a record, rebuild the tree and re-sign everything with a new key."""
    forger = FileEd25519Signer(tmp_path / "forger.key")

    def forge(m: dict[str, bytes]) -> None:
        manifest = json.loads(m["manifest.json"])
        manifest["key_id"] = forger.key_id
        cps = []
        for c in json.loads(m["checkpoints.json"]):
            body = json.loads(c["body"])
            body["key_id"] = forger.key_id
            raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
            cps.append(Checkpoint.from_signed(raw, forger.sign(CHECKPOINT_CONTEXT + raw)).to_json())
        m["checkpoints.json"] = json.dumps(cps).encode()
        raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        m["manifest.json"] = raw
        m["manifest.sig"] = base64.b64encode(forger.sign(MANIFEST_CONTEXT + raw))
        m["public_key.pem"] = forger.public_key_pem()

    forged = rewrite(bundle, tmp_path / "forged.zip", forge)
    assert verify_bundle(forged).ok  # self-consistent: only key pinning can tell
    result = verify_bundle(forged, expected_key_id=signer.key_id)
    assert not result.ok and "expected" in result.reason


def test_csv_columns_must_match_the_hashed_record(tmp_path: Path, signer) -> None:
    config = AuditConfig(sqlite_path=str(tmp_path / "audit.db"), batch_max_wait_ms=1.0)
    fill(config, tmp_path, signer, n=9)
    store = open_store(config, tmp_path)
    summary = export_bundle(store, tmp_path / "c.zip", None, None, fmt="csv", signer=signer)
    store.close()
    assert verify_bundle(summary.path).ok

    def edit(m: dict[str, bytes]) -> None:
        m["records.csv"] = m["records.csv"].replace(b",success,", b",failure,", 1)

    result = verify_bundle(rewrite(summary.path, tmp_path / "bad.zip", edit))
    assert not result.ok and "CSV columns" in result.reason


def test_garbage_is_rejected_with_a_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    result = verify_bundle(junk)
    assert not result.ok and "malformed" in result.reason


@pytest.mark.parametrize(
    "record",
    [
        make_record(1),
        make_record(2, actor={"key_id": "k", "role": "app"}),  # no tenant
        make_record(3, detail={"tenant": "evil", "time": "x", "event_type": "y"}),
        make_record(4, guardrails={"event_type": "pass"}, actor={"role": "system"}),
    ],
)
def test_fast_field_extraction_agrees_with_json(record) -> None:
    from policies.audit.verify import _fast_fields

    body = record.canonical_bytes()
    obj = json.loads(body)
    expected = (obj["time"], obj.get("actor", {}).get("tenant"), obj["event_type"])
    fast = _fast_fields(body)
    assert fast is None or fast == expected
    if "detail" not in obj and "guardrails" not in obj:
        assert fast == expected  # the common case takes the fast path
