"""The Batch API, in one run, on the in-process app (auth, redaction, policy, guardrails, model,
output redaction, restore, durable SQLite audit record per line; no Ray):

- **Throughput.** The same N chat lines (a) sent as interactive requests, ``--concurrency`` at
  a time, and (b) submitted as one batch through the openai SDK (files + batches), from upload
  to the output file: lines per second.
- **Interactive TTFT while a batch runs.** Streaming chat requests, time to the first content
  chunk, in pairs: one with nothing else running, one while a 3-line batch generates (after its
  first line is done); p50 and p95 of each side. Batch lines yield to interactive work at the
  engine (models/engines/priority.py): ``engine_pauses`` counts how often a batch line gave
  the engine up mid-generation.

    .venv/bin/python bench/batch.py [--lines 16] [--probes 12] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.deployment import ModelServer
from models.engines.llamacpp import LlamaCppEngine
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, build_audit_log
from policies.decide import PolicyEngine
from privacy import PrivacyConfig, Redactor
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.batch import BatchSettings
from serving.batch.service import attach_batch
from serving.config import ModelConfig, Settings
from serving.gateway import Gateway, StaticSites
from state.sqlite import SqliteStateStore

MODEL = "smollm2-135m-instruct"
POLICY = f"""
label: bench
sites: [{{id: local, jurisdiction: DE, region: EU}}]
models:
  - {{id: {MODEL}@v1, site: local, approved_data_classes: [PHI, PCI, PII]}}
tenants:
  - {{id: acme, sites: [local], models: [{MODEL}]}}
"""
TOPICS = ["hypertension", "asthma", "a credit card fee", "a mortgage", "diabetes", "a refund"]


def _body(i: int, max_tokens: int, stream: bool = False) -> dict[str, Any]:
    text = f"Patient note {i}: explain {TOPICS[i % len(TOPICS)]} in one sentence."
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
        **({"stream": True} if stream else {}),
    }


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def main(lines: int, probes: int, max_tokens: int, concurrency: int, threads: int) -> None:
    load_before = os.getloadavg()
    data = Path(tempfile.mkdtemp())
    (data / "policy.yaml").write_text(POLICY)
    settings = Settings(data_dir=data, models=[ModelConfig(name=MODEL)])
    store = SqliteStateStore(data / "state.db")
    keys = KeyStore(store)
    key = keys.create("acme", Role.APP)[0]
    engine = LlamaCppEngine(MODEL, "v1", context_length=2048, threads=threads)
    await engine.start()
    server = ModelServer(engine, default_max_tokens=max_tokens)
    server.ready = True
    redactor = Redactor(PrivacyConfig())
    redactor.warmup()
    gateway = Gateway(
        keys,
        Registry(settings.models, settings.embeddings),
        PolicyEngine.from_paths([data / "policy.yaml"]),
        StaticSites({"local"}),
        {f"{MODEL}@v1": server},
        None,
        redactor,
    )
    log = await build_audit_log(AuditConfig(), data)
    app = create_api()
    app.state.gateway, app.state.audit = gateway, LocalAuditClient(log)
    app.state.policy_reloader = None
    batch_settings = BatchSettings(concurrency_per_tenant=concurrency, poll_s=0.05)
    attach_batch(app, batch_settings, data / "audit-kek.key")
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://b", timeout=600)
    sdk = openai.AsyncOpenAI(
        base_url="http://b/v1",
        api_key=key,
        http_client=httpx.AsyncClient(transport=transport, timeout=600),
        max_retries=0,
    )
    auth = {"authorization": f"Bearer {key}"}

    async def interactive(i: int) -> None:
        r = await http.post("/v1/chat/completions", json=_body(i, max_tokens), headers=auth)
        assert r.status_code == 200, r.text

    async def ttft(i: int) -> float:
        start = time.perf_counter()
        async with http.stream(
            "POST", "/v1/chat/completions", json=_body(i, 8, stream=True), headers=auth
        ) as r:
            assert r.status_code == 200
            first = None
            async for chunk in r.aiter_lines():
                if first is None and chunk.startswith("data: {") and '"content"' in chunk:
                    first = time.perf_counter() - start
            assert first is not None
            return first

    async def submit(n: int, offset: int) -> str:
        rows = [
            {
                "custom_id": f"l{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": _body(offset + i, max_tokens),
            }
            for i in range(n)
        ]
        content = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
        up = await sdk.files.create(file=("in.jsonl", content), purpose="batch")
        batch = await sdk.batches.create(
            input_file_id=up.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        return batch.id

    async def finished(batch_id: str) -> Any:
        while True:
            batch = await sdk.batches.retrieve(batch_id)
            if batch.status in ("completed", "failed", "cancelled"):
                return batch
            await asyncio.sleep(0.05)

    await interactive(0)  # warm up the model path
    await ttft(0)

    # throughput: the same lines, interactive (bounded concurrency) and as one batch
    start = time.perf_counter()
    sem = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> None:
        async with sem:
            await interactive(i)

    await asyncio.gather(*(bounded(i) for i in range(lines)))
    inter_s = time.perf_counter() - start
    start = time.perf_counter()
    done = await finished(await submit(lines, 0))
    out = await sdk.files.content(done.output_file_id)
    batch_s = time.perf_counter() - start
    assert done.request_counts.completed == lines, done.request_counts
    assert len(out.content.decode().splitlines()) == lines

    # TTFT, paired: an idle probe, then a probe while a small batch generates, one pair at a
    # time (so both sides of each pair see the same machine load)
    idle: list[float] = []
    busy: list[float] = []
    preempted_runs = 0
    for i in range(probes):
        idle.append(await ttft(100 + i))
        running = await submit(3, 1000 + 10 * i)
        while (await sdk.batches.retrieve(running)).request_counts.completed < 1:
            await asyncio.sleep(0.01)  # lines are generating now
        busy.append(await ttft(200 + i))
        final = await finished(running)
        preempted_runs += final.request_counts.completed == 3
    still_running = preempted_runs == probes
    p50_idle, p50_busy = statistics.median(idle), statistics.median(busy)
    result = {
        "lines": lines,
        "max_tokens": max_tokens,
        "concurrency": concurrency,
        "interactive_lines_per_s": round(lines / inter_s, 2),
        "batch_lines_per_s": round(lines / batch_s, 2),
        "ttft_idle_ms": {"p50": round(p50_idle * 1e3, 1), "p95": round(_pct(idle, 0.95) * 1e3, 1)},
        "ttft_during_batch_ms": {
            "p50": round(p50_busy * 1e3, 1),
            "p95": round(_pct(busy, 0.95) * 1e3, 1),
        },
        "ttft_p50_change": round(p50_busy / p50_idle - 1, 3),
        "batches_completed_after_probes": still_running,
        "probes": {"idle": len(idle), "during_batch": len(busy)},
        "engine_pauses": engine.pauses,
        "background_generations": (await server.stats())["background"],
        "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(result, indent=2))
    await log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=16)
    parser.add_argument("--probes", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.lines, args.probes, args.max_tokens, args.concurrency, args.threads))
