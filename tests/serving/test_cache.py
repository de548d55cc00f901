"""The semantic cache in the in-process pipeline (real model, embedder, redaction, audit log),
on SQLite and on PostgreSQL: hits and misses, never another request's identifiers, opt-in and
bypass, streaming hits, two replicas sharing one store, invalidation and eviction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from models.deployment import ModelServer
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, RecordFilter, build_audit_log
from policies.decide import PolicyEngine
from serving import protocol
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import ModelConfig, Settings
from serving.gateway import Gateway, StaticSites
from serving.observability import METRICS
from serving.pipeline.state import RequestState, Route
from serving.semantic_cache import CacheSettings, invalidate
from serving.semantic_cache.cache import Scope, SemanticCache
from serving.semantic_cache.entries import NS, Entry
from serving.semantic_cache.keys import question_of
from serving.semantic_cache.terms import placeholders
from state import StateStore
from tests.serving.conftest import MODEL
from tests.state.pg import PG_DSN, fresh_schema

VERSION = f"{MODEL}@v1"
POLICY = """
label: cache-test
sites:
  - {id: local, jurisdiction: DE, region: EU}
models:
  - id: smollm2-135m-instruct@v1
    site: local
    approved_data_classes: [PHI, PCI, PII]
  - id: all-minilm-l6-v2@v1
    site: local
    approved_data_classes: [PHI, PCI, PII]
tenants:
  - id: clinic
    sites: [local]
    models: [smollm2-135m-instruct, all-minilm-l6-v2]
    cache: {enabled: true}
  - id: other
    sites: [local]
    models: [smollm2-135m-instruct]
    cache: {enabled: true}
  - id: plain
    sites: [local]
    models: [smollm2-135m-instruct]
"""


class Replica:
    """One ingress replica in-process: gateway, cache and audit log over a shared store."""

    def __init__(
        self,
        aio: Any,
        engine: Any,
        embedder: Any,
        redactor: Any,
        store: StateStore,
        data: Path,
        settings: CacheSettings,
    ) -> None:
        data.mkdir(parents=True, exist_ok=True)
        (data / "policy.yaml").write_text(POLICY)
        config = Settings(data_dir=data, models=[ModelConfig(name=MODEL)])
        self.aio = aio
        self.store = store
        self.keys = KeyStore(store)
        server = ModelServer(engine, default_max_tokens=16)
        server.ready = True
        policy = PolicyEngine.from_paths([data / "policy.yaml"])
        self.gateway = Gateway(
            self.keys,
            Registry(config.models, config.embeddings),
            policy,
            StaticSites({"local"}),
            {VERSION: server},
            embedder,
            redactor,
        )
        self.cache = SemanticCache(store, embedder, policy, settings)
        self.gateway.cache = self.cache  # type: ignore[attr-defined]
        self.log = aio.run(build_audit_log(AuditConfig(), data))
        app = create_api()
        app.state.gateway = self.gateway
        app.state.audit = LocalAuditClient(self.log)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=120
        )

    def key(self, tenant: str, role: Role = Role.APP) -> str:
        return self.keys.create(tenant, role)[0]

    def chat(self, key: str, content: str, headers: dict[str, str] | None = None, **kw: Any):
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 16,
            "temperature": 0,
            **kw,
        }
        hdrs = {"authorization": f"Bearer {key}", **(headers or {})}
        return self.aio.run(self.client.post("/v1/chat/completions", json=body, headers=hdrs))

    def record(self, request_id: str) -> Any:
        page = self.aio.run(self.log.query(RecordFilter(), 1000, None))
        return next(r for _, r in page.records if r.request_id == request_id)

    def close(self) -> None:
        self.aio.run(self.client.aclose())
        self.aio.run(self.log.close())


def _open_store(backend: str, where: str) -> StateStore:
    if backend == "postgres":
        from state.postgres import PostgresStateStore

        return PostgresStateStore(PG_DSN, schema=where)
    from state.sqlite import SqliteStateStore

    return SqliteStateStore(Path(where))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "postgres":
        with fresh_schema() as schema:
            yield ("postgres", schema)
    else:
        yield ("sqlite", str(tmp_path / "state.db"))


@pytest.fixture
def replicas(
    aio: Any, llama_engine: Any, embedder: Any, redactor: Any, where: Any, tmp_path: Path
) -> Iterator[Any]:
    """``make(settings=None)`` builds another replica on the same store."""
    made: list[Replica] = []
    stores: list[StateStore] = []

    def make(settings: CacheSettings | None = None) -> Replica:
        store = _open_store(*where)
        stores.append(store)
        replica = Replica(
            aio,
            llama_engine,
            embedder,
            redactor,
            store,
            tmp_path / f"replica{len(made)}",
            settings or CacheSettings(),
        )
        made.append(replica)
        return replica

    yield make
    for replica in made:
        replica.close()
    for store in stores:
        store.close()


def _text(response: httpx.Response) -> str:
    return response.json()["choices"][0]["message"]["content"]


def _raw_entries(store: StateStore) -> list[bytes]:
    return [raw for _, raw in store.items(NS, "", limit=100_000)]


def test_a_repeated_question_is_a_hit_with_the_same_answer(replicas):
    node = replicas()
    key = node.key("clinic")
    before = METRICS.cache_requests.labels("clinic", VERSION, "hit")._value.get()
    first = node.chat(key, "What is a normal resting heart rate for adults?")
    second = node.chat(key, "What is a normal resting heart rate for adults?")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-bastion-cache"] == "miss"
    assert "x-bastion-cache-similarity" not in first.headers
    assert second.headers["x-bastion-cache"] == "hit"
    assert float(second.headers["x-bastion-cache-similarity"]) > 0.99
    assert _text(second) == _text(first)
    assert second.json()["usage"] == first.json()["usage"]
    assert METRICS.cache_requests.labels("clinic", VERSION, "hit")._value.get() == before + 1
    miss = node.record(first.headers["x-request-id"])
    hit = node.record(second.headers["x-request-id"])
    assert (miss.cache_hit, miss.detail["cache"]) == (False, "miss")
    assert (hit.cache_hit, hit.detail["cache"]) == (True, "hit")


def test_a_rewording_hits_and_a_different_or_edited_question_misses(replicas):
    node = replicas()
    key = node.key("clinic")
    node.chat(key, "What is the maximum daily dose of paracetamol for an adult?")
    reworded = node.chat(key, "For an adult, what is the maximum paracetamol dose daily?")
    other = node.chat(key, "How do I reset my online banking password?")
    # one word swapped: embeddings close (about 0.94), answer different; the edit guard refuses
    edited = node.chat(key, "What is the maximum daily dose of paracetamol for a child?")
    assert reworded.headers["x-bastion-cache"] == "hit"
    assert other.headers["x-bastion-cache"] == "miss"
    assert edited.headers["x-bastion-cache"] == "miss"


NAMES = [
    ("Johanna Whitfield", "+44 20 7946 0958", "Whitfield"),
    ("Marcus Okonkwo-Reyes", "+44 20 7946 0321", "Okonkwo"),
]


def test_two_requests_differing_only_in_identifiers_never_see_each_others(replicas):
    node = replicas()
    key = node.key("clinic")
    template = "Write one short sentence reminding {name} (phone {phone}) of the flu vaccine."
    (name_a, phone_a, last_a), (name_b, phone_b, last_b) = NAMES
    first = node.chat(key, template.format(name=name_a, phone=phone_a))
    second = node.chat(key, template.format(name=name_b, phone=phone_b))
    assert first.headers["x-bastion-cache"] == "miss"
    assert second.headers["x-bastion-cache"] == "hit"
    assert int(first.headers["x-bastion-redactions"]) >= 2  # both identifiers were redacted
    answer = _text(second)
    assert last_a not in answer and phone_a not in answer
    assert name_a.split()[0] not in answer
    # the same answer, restored with each request's own values
    assert _text(first).replace(name_a, "<N>").replace(phone_a, "<P>") == answer.replace(
        name_b, "<N>"
    ).replace(phone_b, "<P>")
    # the store holds placeholders, never an identifier of either request
    dump = b"".join(_raw_entries(node.store)).decode()
    for value in (name_a, name_b, last_a, last_b, phone_a, phone_b, "7946"):
        assert value not in dump


def _question(node: Replica, content: str) -> Any:
    """The cache's view of a one-message chat request (max_tokens 16, temperature 0)."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    request = protocol.ChatCompletionRequest.model_validate(
        {**body, "max_tokens": 16, "temperature": 0}
    )
    redaction = node.aio.run(node.gateway.batcher.redact([content], "clinic"))
    question = question_of(RequestState("t", Route.CHAT, request=request, redaction=redaction))
    assert question is not None
    return question


def _insert(node: Replica, content: str, answer: str, scanned: bool = False) -> None:
    """Store ``answer`` (placeholder form) for ``content`` as the store stage would."""
    question = _question(node, content)
    vector = np.asarray(node.gateway.embedder.embed([question.text])[0], dtype=np.float32)
    entry = Entry(
        vector,
        answer,
        "stop",
        10,
        8,
        question.context,
        placeholders(answer),
        question.terms,
        scanned,
    )
    gen = node.store.counter(NS, "gen")
    assert node.cache.insert(Scope("clinic", VERSION, None), entry, 600, gen) is not None


def test_an_answer_needing_a_placeholder_the_request_lacks_is_a_miss(replicas):
    node = replicas()
    key = node.key("clinic")
    _insert(node, "Tell the patient that the test results are ready.", "Dear [PERSON_1], ready.")
    lacking = node.chat(key, "Tell the patient that the test results are ready.")
    assert lacking.headers["x-bastion-cache"] == "miss"
    assert "[PERSON_1]" not in _text(lacking)


def test_a_hit_is_restored_with_the_current_requests_own_values(replicas):
    node = replicas()
    key = node.key("clinic")
    _insert(node, "Tell Annabel Fairweather the results are ready.", "Dear [PERSON_1], ready.")
    hit = node.chat(key, "Tell Omar Haddad the results are ready.")
    assert hit.headers["x-bastion-cache"] == "hit"
    assert _text(hit) == "Dear Omar Haddad, ready."


def test_a_hit_is_output_scanned_unless_its_entry_was_stored_scanned(replicas):
    """Entries written by a miss are marked scanned (they are the text that left output
    redaction), and their hits skip the scan; an entry not marked (written before the mark, or
    while the tenant had output redaction off) is scanned on its hit like any answer."""
    node = replicas()
    key = node.key("clinic")
    first = node.chat(key, "What is a normal resting heart rate for adults?")
    assert first.headers["x-bastion-cache"] == "miss"
    stored = [Entry.decode(raw) for _, raw in node.store.items(NS, "e:", limit=100)]
    assert stored and all(entry.scanned for entry in stored)
    again = node.chat(key, "What is a normal resting heart rate for adults?")
    assert again.headers["x-bastion-cache"] == "hit"
    assert node.record(again.headers["x-request-id"]).output_redactions == {}

    # an unscanned entry holding a number the model invented: scanned on its hit
    invented = "Call the ward on 617-555-0148 for your results."
    _insert(node, "Who do I call about my blood test results?", invented)
    hit = node.chat(key, "Who do I call about my blood test results?")
    assert hit.headers["x-bastion-cache"] == "hit"
    assert "617-555-0148" not in _text(hit) and "0148" not in _text(hit)
    assert node.record(hit.headers["x-request-id"]).output_redactions == {"PHONE": 1}
    # the same text in an entry marked scanned is taken as it was stored (no second scan:
    # only the store stage marks entries, after the scan; this one is inserted by hand to show it)
    _insert(node, "Who do I call about my lab report?", invented, scanned=True)
    taken = node.chat(key, "Who do I call about my lab report?")
    assert taken.headers["x-bastion-cache"] == "hit"
    assert _text(taken) == invented


def test_opt_in_bypass_sampling_and_tenant_scope(replicas):
    node = replicas()
    clinic, other, plain = node.key("clinic"), node.key("other"), node.key("plain")
    question = "Which vitamin does sunlight help the body make?"
    assert node.chat(clinic, question).headers["x-bastion-cache"] == "miss"
    bypass = node.chat(clinic, question, headers={"x-bastion-cache": "bypass"})
    assert bypass.headers["x-bastion-cache"] == "bypass"
    sampled = node.chat(clinic, question, temperature=0.7)
    assert sampled.headers["x-bastion-cache"] == "skip"
    # another tenant never sees this tenant's entries; a tenant without opt-in has no cache
    assert node.chat(other, question).headers["x-bastion-cache"] == "miss"
    assert "x-bastion-cache" not in node.chat(plain, question).headers
    assert node.record(bypass.headers["x-request-id"]).detail["cache"] == "bypass"
    assert node.chat(clinic, question).headers["x-bastion-cache"] == "hit"


def _stream(node: Replica, key: str, content: str) -> tuple[httpx.Response, str]:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 16,
        "temperature": 0,
        "stream": True,
    }
    response = node.aio.run(
        node.client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
    )
    events = [
        line.removeprefix("data: ")
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert chunks[-1]["choices"][0]["finish_reason"] is not None
    return response, text


def test_a_streamed_hit_is_a_normal_stream(replicas):
    node = replicas()
    key = node.key("clinic")
    question = "Name two symptoms of dehydration."
    whole = node.chat(key, question)
    streamed, text = _stream(node, key, question)
    assert streamed.headers["x-bastion-cache"] == "hit"
    assert text == _text(whole)
    # and a streamed miss is stored like a whole one
    first, text_first = _stream(node, key, "Name two causes of low blood sugar.")
    assert first.headers["x-bastion-cache"] == "miss"
    again = node.chat(key, "Name two causes of low blood sugar.")
    assert again.headers["x-bastion-cache"] == "hit"
    assert _text(again) == text_first


def test_two_replicas_share_entries_and_invalidation(replicas):
    one, two = replicas(), replicas()
    key = one.key("clinic")
    question = "What does a blood pressure of 120 over 80 mean?"
    assert two.chat(key, question).headers["x-bastion-cache"] == "miss"  # two's index: empty
    stored = one.chat(key, "What does a blood pressure of 120/80 mean?")
    assert stored.headers["x-bastion-cache"] in ("hit", "miss")
    hit = two.chat(key, question)
    assert hit.headers["x-bastion-cache"] == "hit"  # stored by two, seen by two
    assert one.chat(key, question).headers["x-bastion-cache"] == "hit"  # and by one
    assert invalidate(one.store, "some-other-model@v9") == 0
    assert two.chat(key, question).headers["x-bastion-cache"] == "hit"
    assert invalidate(one.store, VERSION) >= 1
    assert _raw_entries(one.store) and not [k for k, _ in one.store.items(NS, "e:")]
    assert two.chat(key, question).headers["x-bastion-cache"] == "miss"  # index held it
    assert one.chat(key, question).headers["x-bastion-cache"] == "hit"  # stored again by two


def test_the_oldest_entry_is_evicted_past_max_entries(replicas):
    node = replicas(CacheSettings(max_entries=2))
    key = node.key("clinic")
    questions = [
        "What is the capital of Portugal?",
        "How many bones are in the adult human body?",
        "What gas do plants absorb from the air?",
    ]
    for question in questions:
        assert node.chat(key, question).headers["x-bastion-cache"] == "miss"
    assert len(node.store.items(NS, "e:")) == 2
    assert node.chat(key, questions[0]).headers["x-bastion-cache"] == "miss"  # evicted
    assert node.chat(key, questions[2]).headers["x-bastion-cache"] == "hit"


def test_the_admin_route_invalidates_its_own_tenant_only(replicas):
    node = replicas()
    clinic, other = node.key("clinic"), node.key("other")
    admin = node.key("clinic", Role.ADMIN)
    question = "How should insulin pens be stored?"
    node.chat(clinic, question)
    node.chat(other, question)

    def post(key: str, body: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"}
        url = "/v1/admin/cache/invalidate"
        return node.aio.run(node.client.post(url, json=body, headers=headers))

    assert post(clinic, {}).status_code == 403  # an app key may not
    assert post(admin, {"model_version": "no spaces allowed"}).status_code == 400
    assert post(admin, {"unknown": 1}).status_code == 400
    done = post(admin, {"model_version": VERSION})
    assert done.status_code == 200 and done.json()["deleted"] == 1
    record = node.record(done.headers["x-request-id"])
    assert record.event_type == "cache.invalidated"
    assert record.detail == {"deleted": 1, "model_version": VERSION}
    assert node.chat(clinic, question).headers["x-bastion-cache"] == "miss"
    assert node.chat(other, question).headers["x-bastion-cache"] == "hit"


def test_the_cli_invalidates_a_model_version(aio, embedder, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from serving.cli import app
    from state.sqlite import SqliteStateStore

    monkeypatch.delenv("BASTION_CONFIG", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStateStore(data / "state.db")
    cache = SemanticCache(store, embedder, None)
    vector = np.asarray(embedder.embed(["a question"])[0], dtype=np.float32)
    for tenant, version in (("clinic", VERSION), ("clinic", "other-model@v2")):
        entry = Entry(vector, "an answer", "stop", 3, 2, "ctx", frozenset())
        assert cache.insert(Scope(tenant, version, None), entry, 600, 0) is not None
    runner = CliRunner()
    refused = runner.invoke(app, ["cache", "invalidate", "--data-dir", str(data)])
    assert refused.exit_code == 2
    result = runner.invoke(
        app, ["cache", "invalidate", "--model", VERSION, "--data-dir", str(data)]
    )
    assert result.exit_code == 0, result.output
    assert "invalidated 1 cached answers" in result.output
    assert len(store.items(NS, "e:")) == 1  # the other version's entry stays
    store.close()
    log = aio.run(build_audit_log(AuditConfig(), data))
    page = aio.run(log.query(RecordFilter(), 100, None))
    events = [r for _, r in page.records if r.event_type == "cache.invalidated"]
    aio.run(log.close())
    assert [r.detail for r in events] == [{"deleted": 1, "model_version": VERSION}]


def test_a_hit_is_metered_as_cached_prompt_tokens(replicas):
    from serving.pipeline.usage import UsageControl

    node = replicas()
    config = Settings(models=[ModelConfig(name=MODEL)])
    node.gateway.usage = UsageControl.from_settings(config, node.store, node.gateway.policy)  # type: ignore[attr-defined]
    key = node.key("clinic")
    question = "What is the normal range for blood oxygen saturation?"
    miss, hit = node.chat(key, question), node.chat(key, question)
    assert hit.headers["x-bastion-cache"] == "hit"
    assert miss.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    usage = hit.json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == usage["prompt_tokens"] > 0
    assert node.record(hit.headers["x-request-id"]).tokens.cached == usage["prompt_tokens"]
