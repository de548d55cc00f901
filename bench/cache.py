"""The semantic cache, in one run: hit latency end to end against the same request with no
cache, and answer quality on hand-written clinical and banking questions.

- **Quality.** bench/cache_data/{tune,heldout}.jsonl: groups of a question, three paraphrases
  (same answer) and three near-misses (same wording, one thing changed: population, drug, card
  type, direction ... so the answer differs). The question of every group is cached; each
  paraphrase and near-miss is looked up with the cache's own code (redaction, question_of, the
  bundled embedder, ScopeIndex.search). The threshold and the edit guard (max changes, least
  shared share) are chosen on the tuning split (largest hit rate with near-miss false hits
  <= 0.01); the figures reported
  are the held-out split's, at the configured defaults.
  - hit rate: paraphrases answered with their own group's entry;
  - false-hit rate: near-misses answered from any entry (plus, separately, paraphrases
    answered from another group's entry).
- **Latency.** The in-process HTTP app (auth, redaction, policy, cache, output redaction,
  restore, durable SQLite audit record): the same chat request with the cache (a hit) and
  without a cache (the model generates), interleaved; p50 and p95 end to end.

    .venv/bin/python bench/cache.py [--requests 30] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.deployment import ModelServer
from models.embeddings import Embedder
from models.engines.llamacpp import LlamaCppEngine
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, build_audit_log
from policies.decide import PolicyEngine
from privacy import PrivacyConfig, Redactor
from serving import protocol
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import ModelConfig, Settings
from serving.gateway import Gateway, StaticSites
from serving.pipeline.state import RequestState, Route
from serving.semantic_cache import CacheSettings
from serving.semantic_cache.cache import Scope, SemanticCache
from serving.semantic_cache.entries import Entry
from serving.semantic_cache.keys import question_of
from state.sqlite import SqliteStateStore

MODEL = "smollm2-135m-instruct"
VERSION = f"{MODEL}@v1"
DATA = Path(__file__).resolve().parent / "cache_data"
POLICY = """
label: bench-cache
sites: [{id: local, jurisdiction: DE, region: EU}]
models:
  - {id: smollm2-135m-instruct@v1, site: local, approved_data_classes: [PHI, PCI, PII]}
  - {id: all-minilm-l6-v2@v1, site: local, approved_data_classes: [PHI, PCI, PII]}
tenants:
  - {id: cached, sites: [local], models: [smollm2-135m-instruct], cache: {enabled: true}}
  - {id: uncached, sites: [local], models: [smollm2-135m-instruct]}
"""
THRESHOLDS = [round(t, 2) for t in np.arange(0.70, 0.981, 0.01)]
GUARDS: list[tuple[int | None, float]] = [
    (None, 1.0),
    *[(c, m) for c in (1, 2, 3) for m in (0.3, 0.4, 0.5, 0.6, 0.7)],
]
MAX_FALSE = 0.01


def load(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text().splitlines()]


class Quality:
    """The cache's decision function over one split: every group's question cached once."""

    def __init__(self, groups: list[dict[str, Any]], redactor: Redactor, embedder: Embedder):
        self.redactor, self.embedder = redactor, embedder
        self.tmp = tempfile.mkdtemp()
        self.store = SqliteStateStore(Path(self.tmp) / "state.db")
        self.cache = SemanticCache(self.store, embedder, None, CacheSettings())
        self.scope = Scope("bench", VERSION, None)
        questions = [self.question(g["question"]) for g in groups]
        vectors = embedder.embed([q.text for q in questions])
        self.seq_group: dict[int, int] = {}
        for i, (q, v) in enumerate(zip(questions, vectors, strict=True)):
            entry = Entry(
                np.asarray(v, np.float32),
                f"answer {i}",
                "stop",
                1,
                1,
                q.context,
                frozenset(),
                q.terms,
            )
            seq = self.cache.insert(self.scope, entry, 3600, 0)
            assert seq is not None
            self.seq_group[seq] = i
        self.queries: list[tuple[Any, Any, int, bool]] = []
        for i, g in enumerate(groups):
            texts = [(p, True) for p in g["paraphrases"]] + [(n, False) for n in g["near_misses"]]
            qs = [self.question(t) for t, _ in texts]
            vs = embedder.embed([q.text for q in qs])
            for q, v, (_, para) in zip(qs, vs, texts, strict=True):
                self.queries.append((q, np.asarray(v, np.float32), i, para))
        self.index = self.cache._index(self.scope, len(vectors[0]))
        with self.index.lock:
            self.index.sync()

    def question(self, text: str) -> Any:
        return self.question_of_text(self.redactor, text)

    @staticmethod
    def question_of_text(redactor: Redactor, text: str, max_tokens: int | None = None) -> Any:
        body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "temperature": 0}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        request = protocol.ChatCompletionRequest.model_validate(body)
        redaction = redactor.redact_messages([text], "bench")
        return question_of(RequestState("b", Route.CHAT, request=request, redaction=redaction))

    def score(self, threshold: float, guard: tuple[int | None, float]) -> dict[str, float]:
        hits = near_false = wrong = paras = nears = 0
        for q, v, group, para in self.queries:
            with self.index.lock:
                hit, _ = self.index.search(v, q, threshold, 8, guard)
            got = None if hit is None else self.seq_group[hit.seq]
            if para:
                paras += 1
                hits += got == group
                wrong += got is not None and got != group
            else:
                nears += 1
                near_false += got is not None
        return {
            "hit_rate": hits / paras,
            "false_hit_rate": near_false / nears,
            "wrong_group_rate": wrong / paras,
            "paraphrases": paras,
            "near_misses": nears,
        }


def choose(quality: Quality) -> tuple[float, tuple[int | None, float], dict[str, float]]:
    best: tuple[float, float, tuple[int | None, float], dict[str, float]] | None = None
    for guard in GUARDS:
        for t in THRESHOLDS:
            s = quality.score(t, guard)
            if s["false_hit_rate"] > MAX_FALSE or s["wrong_group_rate"] > MAX_FALSE:
                continue
            key = (s["hit_rate"], -t)
            if best is None or key > (best[0], -best[1]):
                best = (s["hit_rate"], t, guard, s)
    assert best is not None
    return best[1], best[2], best[3]


async def latency(
    requests: int, max_tokens: int, engine: Any, embedder: Embedder, redactor: Redactor
) -> dict[str, float]:
    data = Path(tempfile.mkdtemp())
    (data / "policy.yaml").write_text(POLICY)
    settings = Settings(data_dir=data, models=[ModelConfig(name=MODEL)])
    store = SqliteStateStore(data / "state.db")
    keys = KeyStore(store)
    cached, uncached = keys.create("cached", Role.APP)[0], keys.create("uncached", Role.APP)[0]
    server = ModelServer(engine, default_max_tokens=max_tokens)
    server.ready = True
    policy = PolicyEngine.from_paths([data / "policy.yaml"])
    gateway = Gateway(
        keys,
        Registry(settings.models, settings.embeddings),
        policy,
        StaticSites({"local"}),
        {VERSION: server},
        embedder,
        redactor,
    )
    gateway.cache = SemanticCache(store, embedder, policy, CacheSettings())  # type: ignore[attr-defined]
    log = await build_audit_log(AuditConfig(), data)
    app = create_api()
    app.state.gateway, app.state.audit = gateway, LocalAuditClient(log)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://b", timeout=300
    )
    body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": "What is a normal resting heart rate for adults?"}
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
    }

    async def once(key: str, expect: str | None) -> float:
        start = time.perf_counter()
        r = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
        elapsed = time.perf_counter() - start
        assert r.status_code == 200, r.text
        assert r.headers.get("x-bastion-cache") == expect, r.headers.get("x-bastion-cache")
        return elapsed

    await once(cached, "miss")  # fills the entry
    await once(uncached, None)  # warms the model path
    hit, gen = [], []
    for _ in range(requests):  # interleaved, so both sides see the same machine state
        hit.append(await once(cached, "hit"))
        gen.append(await once(uncached, None))
    # the cache stage alone (embed the redacted question, sync, search, read the entry back)
    cache: SemanticCache = gateway.cache  # type: ignore[attr-defined]
    question = Quality.question_of_text(redactor, body["messages"][0]["content"], max_tokens)
    scope, stage = Scope("cached", VERSION, None), []
    for _ in range(requests):
        start = time.perf_counter()
        vector = await cache.embed(question.text)
        assert vector is not None
        found, _, _ = await cache.alookup(scope, question, vector, 0.8)
        stage.append(time.perf_counter() - start)
        assert found is not None
    tokens = (
        await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {uncached}"}
        )
    ).json()["usage"]
    await client.aclose()
    await log.close()

    def pct(values: list[float], q: float) -> float:
        return 1000 * float(np.percentile(values, q))

    return {
        "requests_each": requests,
        "completion_tokens": tokens["completion_tokens"],
        "hit_p50_ms": pct(hit, 50),
        "hit_p95_ms": pct(hit, 95),
        "no_cache_p50_ms": pct(gen, 50),
        "no_cache_p95_ms": pct(gen, 95),
        "speedup_p50": statistics.median(gen) / statistics.median(hit),
        "cache_stage_p50_ms": pct(stage, 50),
    }


async def main(requests: int, max_tokens: int, threads: int) -> None:
    redactor = Redactor(PrivacyConfig())
    redactor.warmup()
    embedder = Embedder()
    embedder.start()
    defaults = CacheSettings()
    tune = Quality(load("tune"), redactor, embedder)
    t, guard, tuned = choose(tune)
    default_guard = (defaults.edit_max_changes, defaults.edit_min_shared)
    at_default = tune.score(defaults.similarity_threshold, default_guard)
    heldout = Quality(load("heldout"), redactor, embedder)
    report: dict[str, Any] = {
        "tuning": {
            "chosen_threshold": t,
            "chosen_edit_guard": guard,
            "at_chosen": tuned,
            "at_defaults": at_default,
        },
        "defaults": {
            "similarity_threshold": defaults.similarity_threshold,
            "edit_guard": default_guard,
        },
        "heldout_at_defaults": heldout.score(defaults.similarity_threshold, default_guard),
        "heldout_at_chosen": heldout.score(t, guard),
        "heldout_embedding_only": {  # the guard off, threshold chosen the same way on tuning
            str(th): heldout.score(th, (None, 1.0)) for th in (0.80, 0.85, 0.90, 0.95)
        },
    }
    engine = LlamaCppEngine(MODEL, threads=threads)
    await engine.start()
    report["latency"] = await latency(requests, max_tokens, engine, embedder, redactor)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.max_tokens, args.threads))
