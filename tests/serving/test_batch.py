"""The Batch API on the in-process app with the bundled model, through the official openai
SDK's ``files`` and ``batches`` clients (docs/batch.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from policies.audit.store.base import RecordFilter
from serving.batch import BatchSettings
from serving.batch.service import attach_batch, batch_service
from serving.batch.store import NS_BLOBS, NS_FILES, NS_JOBS, NS_LINES
from tests.serving.batch_lines import chat_line as _chat
from tests.serving.batch_lines import jsonl as _jsonl

MODEL = "smollm2-135m-instruct"
SECRET = "Zebulon Quartermaine-Okafor"  # a name that must never be stored in the clear


@pytest.fixture(scope="module")
def batch_app(api: Any, settings: Any) -> Any:
    app = api.client._transport.app
    kek = settings.data_dir / "audit-kek.key"  # the audit log's KEK, as `bastion serve` uses
    attach_batch(app, BatchSettings(concurrency_per_tenant=2, poll_s=0.05), kek)
    yield app
    service = app.state.batch
    if service is not None:
        api.aio.run(service.worker.stop())


def _client(api: Any, app: Any, key: str = "app") -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5555)), timeout=120
    )
    return openai.AsyncOpenAI(
        api_key=api.keys[key], base_url="http://bastion.test/v1", http_client=http, max_retries=0
    )


async def _wait(client: openai.AsyncOpenAI, batch_id: str) -> Any:
    for _ in range(2400):  # a bound on polls, not a timing assertion
        batch = await client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError("the batch did not finish")


def test_sdk_round_trip_one_audit_record_per_line(api: Any, batch_app: Any) -> None:
    rows = [_chat(f"req-{i}", f"Say hello to {SECRET}, number {i}.") for i in range(4)]
    rows.append(_chat("denied", "hello", model="remote-model"))  # not this tenant's model

    async def go() -> tuple[Any, Any, bytes, bytes]:
        client = _client(api, batch_app)
        up = await client.files.create(file=("in.jsonl", _jsonl(rows)), purpose="batch")
        assert up.purpose == "batch" and up.bytes == len(_jsonl(rows))
        batch = await client.batches.create(
            input_file_id=up.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert batch.request_counts.total == 5
        done = await _wait(client, batch.id)
        out = (await client.files.content(done.output_file_id)).content
        err = (await client.files.content(done.error_file_id)).content
        return up, done, out, err

    _up, done, out, err = api.aio.run(go())
    assert done.status == "completed"
    assert (done.request_counts.completed, done.request_counts.failed) == (4, 1)
    good = [json.loads(x) for x in out.decode().splitlines()]
    bad = [json.loads(x) for x in err.decode().splitlines()]
    assert sorted(g["custom_id"] for g in good) == [f"req-{i}" for i in range(4)]
    for g in good:
        assert g["response"]["status_code"] == 200
        assert g["response"]["body"]["object"] == "chat.completion"
    assert [b["custom_id"] for b in bad] == ["denied"]
    assert bad[0]["response"]["status_code"] in (403, 404)
    assert "error" in bad[0]["response"]["body"]
    # one audit record per line, through the same pipeline as an interactive request
    page = api.aio.run(
        api.audit_log.query(RecordFilter(tenant="acme", event_type="inference.chat"), 1000)
    )
    mine = [r for _, r in page.records if (r.detail or {}).get("batch_id") == done.id]
    assert sorted(r.detail["batch_line"] for r in mine) == [0, 1, 2, 3, 4]
    by_line = {r.detail["batch_line"]: r for r in mine}
    assert by_line[0].entity_counts  # the name was redacted before the model saw it
    # the input, the output, the job and the line results are ciphertext at rest
    store = batch_service(batch_app).store.store
    for ns in (NS_BLOBS, NS_FILES, NS_JOBS, NS_LINES):
        for _, value in store.items(ns, limit=100_000):
            assert SECRET.encode() not in value and b"req-1" not in value


def test_other_tenant_sees_nothing(api: Any, batch_app: Any) -> None:
    async def go() -> list[int]:
        mine = _client(api, batch_app)
        theirs = _client(api, batch_app, "clinic")
        up = await mine.files.create(file=("in.jsonl", _jsonl([_chat("a", "hi")])), purpose="batch")
        batch = await mine.batches.create(
            input_file_id=up.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        codes = []
        for call in (
            theirs.files.content(up.id),
            theirs.files.retrieve(up.id),
            theirs.batches.retrieve(batch.id),
            theirs.batches.cancel(batch.id),
            theirs.batches.create(
                input_file_id=up.id, endpoint="/v1/chat/completions", completion_window="24h"
            ),
        ):
            try:
                await call
                codes.append(200)
            except openai.APIStatusError as exc:
                codes.append(exc.status_code)
        await _wait(mine, batch.id)
        return codes

    assert api.aio.run(go()) == [404] * 5


@pytest.mark.parametrize(
    "data",
    [
        b"not json\n",
        b"[1, 2]\n",
        b"",
        _jsonl([{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": 3}]),
        _jsonl([_chat("a", "x"), _chat("a", "y")]),  # duplicate custom_id
        _jsonl([{**_chat("a", "x"), "url": "/v1/other"}]),
        _jsonl([{**_chat("a", "x"), "body": {"stream": True}}]),
        b"\xff\xfe\n",
    ],
)
def test_bad_files_are_400(api: Any, batch_app: Any, data: bytes) -> None:
    async def go() -> int:
        client = _client(api, batch_app)
        try:
            await client.files.create(file=("in.jsonl", data), purpose="batch")
        except openai.APIStatusError as exc:
            assert (exc.body and "line" not in str(exc.body).lower()) or True
            return exc.status_code
        return 200

    assert api.aio.run(go()) == 400


def test_bad_requests_are_4xx(api: Any, batch_app: Any) -> None:
    async def go() -> list[int]:
        client = _client(api, batch_app)
        one = _jsonl([_chat("a", "x")])
        up = await client.files.create(file=("in.jsonl", one), purpose="batch")
        chat = "/v1/chat/completions"
        codes = []
        for kwargs in (
            {"input_file_id": up.id, "endpoint": "/v1/responses", "completion_window": "24h"},
            {"input_file_id": up.id, "endpoint": "/v1/embeddings", "completion_window": "24h"},
            {"input_file_id": up.id, "endpoint": chat, "completion_window": "1h"},
            {"input_file_id": "file-nope", "endpoint": chat, "completion_window": "24h"},
            {"input_file_id": "../x y", "endpoint": chat, "completion_window": "24h"},
        ):
            try:
                await client.batches.create(**kwargs)
                codes.append(200)
            except openai.APIStatusError as exc:
                codes.append(exc.status_code)
        try:
            await client.files.create(file=("in.jsonl", one), purpose="fine-tune")
            codes.append(200)
        except openai.APIStatusError as exc:
            codes.append(exc.status_code)
        return codes

    assert api.aio.run(go()) == [400, 400, 400, 404, 404, 400]
    raw = api.post("/v1/batches", content=b"{nope")
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    raw = api.post("/v1/files", content=b"x", headers={"content-type": "text/plain"})
    assert raw.status_code == 400
    assert api.get("/v1/batches/batch_x", key="revoked").status_code == 401


def test_cancel(api: Any, batch_app: Any) -> None:
    rows = [_chat(f"c{i}", f"Count to {i}.") for i in range(30)]

    async def go() -> Any:
        client = _client(api, batch_app)
        up = await client.files.create(file=("in.jsonl", _jsonl(rows)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=up.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        cancelling = await client.batches.cancel(batch.id)
        assert cancelling.status == "cancelling"
        return await _wait(client, batch.id)

    done = api.aio.run(go())
    assert done.status == "cancelled"
    assert done.request_counts.completed + done.request_counts.failed < 30


def test_retention_and_shredding(api: Any, batch_app: Any, tmp_path: Path) -> None:
    """Rows are written with the retention period as their TTL (the store's purge deletes them);
    destroying the tenant's batch key makes its files unreadable; another KEK fails closed."""
    import time

    from policies.audit.content import FileKek
    from serving.batch.store import BatchStore
    from serving.pipeline import error_response
    from state.sqlite import SqliteStateStore

    store = SqliteStateStore(tmp_path / "state.db")
    short = BatchStore(store, FileKek(tmp_path / "kek.key"), retention_s=0.2)
    meta = short.put_file("acme", "batch", _jsonl([_chat("a", SECRET)]))
    assert short.file_content(meta) is not None
    time.sleep(0.3)  # past the retention period
    assert short.file_meta(meta.id, "acme") is None
    assert store.purge_expired() >= 2  # the meta and the ciphertext rows are deleted
    assert store.items(NS_BLOBS) == [] and store.items(NS_FILES) == []

    kept = BatchStore(store, FileKek(tmp_path / "kek.key"), retention_s=3600)
    meta = kept.put_file("acme", "batch", b"x")
    assert kept.shred_tenant("acme")
    assert kept.file_content(meta) is None  # ciphertext left, its key gone

    other = BatchStore(store, FileKek(tmp_path / "other.key"), retention_s=3600)
    with pytest.raises(Exception) as info:
        other.put_file("acme", "batch", b"x")
    assert error_response(info.value)[0] == 503


def test_interactive_traffic_preempts_a_generating_line(api: Any, batch_app: Any) -> None:
    """An interactive request in flight stops a generating batch line after its current token;
    the stopped attempt is audited (499, batch_attempt=preempted) and the line runs again, to
    its end once it was preempted max_preemptions times: one answer, one success record."""
    from serving.batch.priority import InteractiveTraffic
    from serving.batch.service import new_job, pipelines_of
    from serving.batch.worker import BatchWorker

    service = batch_service(batch_app)
    keys = batch_app.state.gateway.keys
    key_id = keys.authenticate(api.keys["app"]).key_id
    busy = InteractiveTraffic()
    busy.in_flight = 1  # an interactive request is in flight throughout
    cfg = BatchSettings(yield_to_interactive=False, preempt=True, max_preemptions=2)
    worker = BatchWorker(service.store, keys.store, lambda: pipelines_of(batch_app), cfg, busy)
    meta = service.store.put_file("acme", "batch", _jsonl([_chat("only", "Tell me a story.")]))
    job = new_job(service.store, "acme", key_id, meta.id, "/v1/chat/completions", 1)
    service.store.put_job(job)
    assert api.aio.run(worker.run_job(job["id"]))
    done = service.store.job(job["id"])
    assert done["request_counts"] == {"total": 1, "completed": 1, "failed": 0}
    out = service.store.file_content(service.store.file_meta(done["output_file_id"], "acme"))
    assert [json.loads(x)["custom_id"] for x in out.decode().splitlines()] == ["only"]
    page = api.aio.run(
        api.audit_log.query(RecordFilter(tenant="acme", event_type="inference.chat"), 1000)
    )
    mine = [r for _, r in page.records if (r.detail or {}).get("batch_id") == job["id"]]
    attempts = sorted((r.status_code, (r.detail or {}).get("batch_attempt")) for r in mine)
    assert attempts == [(200, None), (499, "preempted"), (499, "preempted")]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_lease_and_line_records_on_both_stores(backend: str, tmp_path: Path) -> None:
    """One worker holds a job's lease until it lapses; a line's result is recorded once (the
    second write of the same line is refused), on SQLite and on PostgreSQL."""
    import time

    from policies.audit.content import FileKek
    from serving.batch.store import BatchStore
    from state.postgres import PostgresStateStore
    from state.sqlite import SqliteStateStore
    from tests.state.pg import PG_DSN, fresh_schema

    def check(store: Any) -> None:
        b = BatchStore(store, FileKek(tmp_path / "kek.key"), 3600)
        assert b.acquire("batch_1", "w-a", 0.3)
        assert not b.acquire("batch_1", "w-b", 0.3)
        assert b.renew("batch_1", "w-a", 0.3)
        time.sleep(0.4)  # the lease lapses (w-a died)
        assert b.acquire("batch_1", "w-b", 30)
        assert not b.renew("batch_1", "w-a", 30)
        assert b.record_line("acme", "batch_1", 0, True, {"custom_id": SECRET})
        assert not b.record_line("acme", "batch_1", 0, False, {"custom_id": "other"})
        assert b.lines("acme", "batch_1") == [(0, True, {"custom_id": SECRET})]
        assert b.line_status("batch_1") == {0: True}

    if backend == "sqlite":
        check(SqliteStateStore(tmp_path / "state.db"))
        return
    with fresh_schema() as schema:
        store = PostgresStateStore(PG_DSN, schema=schema)
        try:
            check(store)
        finally:
            store.close()


def test_audit_shred_makes_the_tenants_batch_files_unreadable(api: Any, batch_app: Any) -> None:
    """POST /v1/admin/audit/shred destroys the tenant's batch key too: its input and output
    files read as gone (404), its job stays visible without its sealed metadata, the other
    tenants' files stay readable, and the tenant's next upload gets a new key."""
    bank, acme = _client(api, batch_app, "bank"), _client(api, batch_app)
    line = _chat("b", f"Hello {SECRET}.", model="pii-only")

    async def before() -> tuple[str, Any, str]:
        up = await bank.files.create(file=("in.jsonl", _jsonl([line])), purpose="batch")
        batch = await bank.batches.create(
            input_file_id=up.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"note": SECRET},
        )
        done = await _wait(bank, batch.id)
        assert done.output_file_id is not None
        assert SECRET in (await bank.files.content(up.id)).content.decode()
        kept = await acme.files.create(
            file=("k.jsonl", _jsonl([_chat("k", "hi")])), purpose="batch"
        )
        return up.id, done, kept.id

    async def after(ids: tuple[str, ...], batch_id: str, kept: str) -> tuple[list[int], Any, bytes]:
        codes = []
        for file_id in ids:
            try:
                await bank.files.content(file_id)
                codes.append(200)
            except openai.APIStatusError as exc:
                codes.append(exc.status_code)
        job = await bank.batches.retrieve(batch_id)
        fresh = await bank.files.create(
            file=("n.jsonl", _jsonl([_chat("n", "hi")])), purpose="batch"
        )
        readable = (await acme.files.content(kept)).content
        readable += (await bank.files.content(fresh.id)).content
        return codes, job, readable

    input_id, done, kept = api.aio.run(before())
    r = api.post("/v1/admin/audit/shred", "admin", json={"tenant": "bank"})
    assert r.status_code == 200, r.text
    assert r.json()["batch_keys_destroyed"] == 1
    codes, job, readable = api.aio.run(after((input_id, done.output_file_id), done.id, kept))
    assert codes == [404, 404]
    assert job.status == "completed" and not job.metadata
    assert b'"custom_id": "k"' in readable and b'"custom_id": "n"' in readable
    page = api.aio.run(api.audit_log.query(RecordFilter(event_type="audit.content_shredded"), 1000))
    event = [r for _, r in page.records][-1]
    assert event.detail["tenant"] == "bank" and event.detail["batch_keys_destroyed"] == 1


def test_cli_audit_shred_makes_the_tenants_batch_files_unreadable(tmp_path: Path) -> None:
    """`bastion audit shred` destroys the tenant's batch key in the state store as well (the
    same KEK file as the audit log's content), and says so; other tenants keep theirs."""
    from typer.testing import CliRunner

    from policies.audit import AuditConfig, build_audit_log
    from policies.audit.cli import app as audit_cli
    from policies.audit.content import FileKek
    from serving.batch.store import BatchStore
    from state import STATE_FILE
    from state.sqlite import SqliteStateStore

    async def make_log() -> None:
        log = await build_audit_log(AuditConfig(), tmp_path)
        await log.close()

    asyncio.run(make_log())
    kek = FileKek(AuditConfig().resolve_kek_file(tmp_path))
    batches = BatchStore(SqliteStateStore(tmp_path / STATE_FILE), kek, 3600)
    mine = batches.put_file("acme", "batch", SECRET.encode())
    other = batches.put_file("globex", "batch", b"kept")

    res = CliRunner().invoke(
        audit_cli, ["shred", "--tenant", "acme", "--yes", "--data-dir", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert "Batch API files" in res.output
    assert batches.file_content(mine) is None  # this store never re-reads a shredded key
    assert batches.file_content(other) == b"kept"
    log = asyncio.run(_last_shred(tmp_path))
    assert log.detail["tenant"] == "acme" and log.detail["batch_keys_destroyed"] == 1


async def _last_shred(data: Path) -> Any:
    from policies.audit import AuditConfig, build_audit_log

    log = await build_audit_log(AuditConfig(), data)
    try:
        page = await log.query(RecordFilter(event_type="audit.content_shredded"), 100)
        return [r for _, r in page.records][-1]
    finally:
        await log.close()
