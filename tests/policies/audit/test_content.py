"""Content capture and crypto-shredding: content unreadable, log still verifies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.audit import (
    AuditConfig,
    AuditLog,
    ContentShredded,
    FileKek,
    RecordFilter,
    export_bundle,
    open_store,
    verify_bundle,
)

from .conftest import make_record


def test_shredding_a_tenant_makes_its_content_unreadable_but_the_log_verifies(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    config = backend(capture="redacted", batch_max_wait_ms=1.0)
    kek = FileKek(tmp_path / "audit-kek.key")

    async def run():
        store = open_store(config, tmp_path)
        log = AuditLog(store, signer, config, kek=kek)
        await log.start()
        await log.append(make_record(0, tenant="acme"), content="<PERSON_1> has <MRN_1>")
        await log.append(make_record(1, tenant="globex"), content="card <CREDIT_CARD_1>")
        await log.append(make_record(2, tenant="acme"))  # no content
        recs = {r.request_id: r for _, r in (await log.query(RecordFilter(), 10)).records}
        before = await log.read_content(recs["req-0"])
        destroyed = await log.shred_tenant("acme")
        with pytest.raises(ContentShredded):
            await log.read_content(recs["req-0"])
        other = await log.read_content(recs["req-1"])
        # New content for a shredded tenant goes under a fresh key and stays readable.
        await log.append(make_record(3, tenant="acme"), content="after shredding")
        recs = {r.request_id: r for _, r in (await log.query(RecordFilter(), 10)).records}
        fresh = await log.read_content(recs["req-3"])
        await log.close()
        summary = export_bundle(store, tmp_path / "b.zip", None, None, signer=signer)
        keys = store.data_keys("acme")
        store.close()
        return before, destroyed, other, fresh, recs, summary, keys

    before, destroyed, other, fresh, recs, summary, keys = asyncio.run(run())
    assert before == "<PERSON_1> has <MRN_1>" and other == "card <CREDIT_CARD_1>"
    assert fresh == "after shredding" and destroyed == 1
    assert recs["req-0"].content is not None and recs["req-2"].content is None
    assert [k.wrapped is None for k in keys] == [True, False]
    result = verify_bundle(summary.path)
    assert result.ok, result.reason
    assert result.records == 4


def test_content_is_not_in_the_hashed_record_or_the_bundle(tmp_path: Path, signer) -> None:
    config = AuditConfig(sqlite_path=str(tmp_path / "a.db"), capture="redacted")
    kek = FileKek(tmp_path / "kek")

    async def run():
        store = open_store(config, tmp_path)
        log = AuditLog(store, signer, config, kek=kek)
        await log.start()
        await log.append(make_record(0), content="secret redacted text")
        await log.close()
        body = store.leaves(0, 1)[0].body
        export_bundle(store, tmp_path / "b.zip", None, None, signer=signer)
        store.close()
        return body

    body = asyncio.run(run())
    assert b"secret" not in body and b'"content":{' in body
    import zipfile

    with zipfile.ZipFile(tmp_path / "b.zip") as z:
        assert all(b"secret" not in z.read(n) for n in z.namelist())


def test_capture_needs_a_kek(tmp_path: Path, signer) -> None:
    config = AuditConfig(sqlite_path=str(tmp_path / "a.db"), capture="redacted")
    store = open_store(config, tmp_path)
    with pytest.raises(ValueError, match="key-encryption key"):
        AuditLog(store, signer, config)
    store.close()


def test_request_ids_are_found_in_one_pass_preferring_the_record_with_content(
    backend: Callable[..., AuditConfig], tmp_path: Path, signer
) -> None:
    from policies.audit.readback import find_by_request_id, find_by_request_ids

    config = backend(capture="redacted", batch_max_wait_ms=1.0)

    async def run():
        store = open_store(config, tmp_path)
        log = AuditLog(store, signer, config, kek=FileKek(tmp_path / "kek"))
        await log.start()
        await log.append(make_record(0))  # req-0: no content first ...
        await log.append(make_record(0), content="<PERSON_1> again")  # ... then with content
        await log.append(make_record(1))  # req-1: no content at all
        await log.append(make_record(2), content="<MRN_1>")
        await log.close()
        return store

    store = asyncio.run(run())
    try:
        found = find_by_request_ids(store, ["req-0", "req-1", "req-2", "req-9"])
        assert found == {"req-0": 1, "req-1": 2, "req-2": 3}  # req-9 is in no record
        assert find_by_request_id(store, "req-0") == 1
        assert find_by_request_id(store, "req-9") is None
    finally:
        store.close()
