"""A batch job survives kill -9 of the process working on it, without losing or repeating a line:
a subprocess worker (real model, real pipeline, real SQLite StateStore) is SIGKILLed mid-job; a
second worker takes the job over once the dead one's lease lapses and runs only the lines that
were not recorded. Heavy (loads the model and the redactor in a subprocess): run it under
``flock /tmp/bastion-heavy.lock``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from policies.access import KeyStore, Role
from policies.audit.content import FileKek
from policies.audit.store.base import RecordFilter
from serving.batch import BatchSettings
from serving.batch.service import new_job, pipelines_of
from serving.batch.store import NS_LINES, BatchStore
from serving.batch.worker import BatchWorker
from tests.serving.conftest import MODEL, POLICY

ROOT = Path(__file__).resolve().parents[2]
LINES = 10
LEASE_S = 2.0

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from models.deployment import ModelServer
    from models.engines.llamacpp import LlamaCppEngine
    from models.registry import Registry
    from policies.access import KeyStore
    from policies.audit import AuditConfig, build_audit_log
    from policies.audit.content import FileKek
    from policies.decide import PolicyEngine
    from privacy import PrivacyConfig, Redactor
    from serving.audit_client import LocalAuditClient
    from serving.batch import BatchSettings
    from serving.batch.store import BatchStore
    from serving.batch.worker import BatchWorker
    from serving.config import ModelConfig, Settings
    from serving.gateway import Gateway, StaticSites
    from serving.pipeline import Pipelines

    data, batch_id, model, lease = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

    async def main():
        settings = Settings(data_dir=data, models=[ModelConfig(name=model)])
        engine = LlamaCppEngine(model, "v1", context_length=2048, threads=1)
        await engine.start()
        server = ModelServer(engine, default_max_tokens=32)
        server.ready = True
        redactor = Redactor(PrivacyConfig())
        redactor.warmup()
        keys = KeyStore(data / "keys.db")
        policy = PolicyEngine.from_paths(settings.policy_files())
        gateway = Gateway(keys, Registry(settings.models, settings.embeddings), policy,
                          StaticSites({"local"}), {model + "@v1": server}, None, redactor)
        audit = await build_audit_log(AuditConfig(), data / "child-audit")
        pipelines = Pipelines(gateway, LocalAuditClient(audit))
        cfg = BatchSettings(concurrency_per_tenant=1, lease_ttl_s=float(lease))
        store = BatchStore(keys.store, FileKek(data / "kek.key"), 86400)
        worker = BatchWorker(store, keys.store, lambda: pipelines, cfg)
        print("ready", flush=True)
        await worker.run_job(batch_id)
        print("finished", flush=True)

    asyncio.run(main())
    """
)


def _line(i: int) -> dict[str, Any]:
    return {
        "custom_id": f"line-{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"Write a short poem about the number {i}."}],
            "max_tokens": 24,
            "temperature": 0,
        },
    }


@pytest.mark.slow
def test_kill_9_mid_job_resumes_without_losing_or_repeating_a_line(
    api: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.yaml").write_text(POLICY)
    keys = KeyStore(data / "keys.db")
    _, info = keys.create("acme", Role.APP)
    kek = FileKek(data / "kek.key")
    batches = BatchStore(keys.store, kek, 86400)
    content = ("\n".join(json.dumps(_line(i)) for i in range(LINES)) + "\n").encode()
    meta = batches.put_file("acme", "batch", content)
    job = new_job(batches, "acme", info.key_id, meta.id, "/v1/chat/completions", LINES)
    batches.put_job(job)
    batches.activate(job["id"])

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), job["id"], MODEL, str(LEASE_S)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        recorded: dict[int, bool] = {}
        for _ in range(6000):  # a bound on polls, not a timing assertion
            recorded = batches.line_status(job["id"])
            if len(recorded) >= 3 or child.poll() is not None:
                break
            time.sleep(0.02)
        assert child.poll() is None, "the child worker ended before it was killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    before = dict(keys.store.items(NS_LINES, prefix=job["id"] + ":"))
    assert 3 <= len(before) < LINES  # killed mid-job
    assert batches.job(job["id"])["status"] == "in_progress"

    # a fresh worker (this process: another pipeline, the test app's audit log) takes it over
    app = api.client._transport.app
    worker = BatchWorker(
        batches,
        keys.store,
        lambda: pipelines_of(app),
        BatchSettings(concurrency_per_tenant=2, lease_ttl_s=LEASE_S),
    )
    finished = False
    for _ in range(200):  # the dead worker's lease lapses after LEASE_S
        finished = api.aio.run(worker.run_job(job["id"]))
        if finished:
            break
        time.sleep(0.1)
    assert finished
    done = batches.job(job["id"])
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": LINES, "completed": LINES, "failed": 0}
    # the lines recorded before the kill were not run again: same bytes, and the resumed run's
    # audit records cover exactly the other lines
    after = dict(keys.store.items(NS_LINES, prefix=job["id"] + ":"))
    assert {k: after[k] for k in before} == before
    page = api.aio.run(
        api.audit_log.query(RecordFilter(tenant="acme", event_type="inference.chat"), 1000)
    )
    resumed = sorted(
        r.detail["batch_line"]
        for _, r in page.records
        if (r.detail or {}).get("batch_id") == job["id"]
    )
    killed_before = sorted(int(k.rsplit(":", 1)[1]) for k in before)
    assert sorted(resumed + killed_before) == list(range(LINES))
    # the output file has every line exactly once
    out = batches.file_content(batches.file_meta(done["output_file_id"], "acme"))
    ids = [json.loads(x)["custom_id"] for x in out.decode().splitlines()]
    assert sorted(ids) == sorted(f"line-{i}" for i in range(LINES))
    assert not batches.active()
