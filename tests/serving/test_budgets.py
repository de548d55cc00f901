"""Usage, budgets and rate limits through the in-process pipeline (no Ray): the official openai
SDK against the ASGI app, the bundled model, a real SQLite state store, a real audit log, and a
real HTTP server on localhost receiving the budget webhook."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from models.deployment import ModelServer
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, RecordFilter, build_audit_log
from policies.decide import PolicyEngine
from policies.ratelimit import BUDGET_NS
from policies.usage import CostModel, UsageRow, UsageSettings, query_usage
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import ModelConfig, Settings
from serving.gateway import Gateway, StaticSites
from serving.pipeline import Pipelines, RequestState, Route
from serving.pipeline.usage import ModelTerms, UsageControl
from serving.policy_reload import PolicyReloader
from state.sqlite import SqliteStateStore

MODEL = "smollm2-135m-instruct"
PRICES = CostModel(prompt_per_1k=0.5, completion_per_1k=1.5, currency="EUR")

POLICY = """
label: budgets
sites:
  - {id: local, jurisdiction: DE, region: EU}
models:
  - {id: smollm2-135m-instruct@v1, site: local, approved_data_classes: [PHI, PCI, PII]}
  - {id: all-minilm-l6-v2@v1, site: local, approved_data_classes: [PHI, PCI, PII]}
tenants:
  - id: open
    sites: [local]
    models: [smollm2-135m-instruct, all-minilm-l6-v2]
    usage:
      budgets:
        - {id: open-month, period: month, unit: currency, limit: 1000}
  - id: tight
    sites: [local]
    models: [smollm2-135m-instruct]
    usage:
      budgets:
        - {id: tight-daily, period: day, unit: tokens, limit: 150, soft: null}
  - id: costly
    sites: [local]
    models: [smollm2-135m-instruct]
    usage:
      budgets:
        - {id: key-cost, period: month, unit: currency, limit: 0.2, scope: key, soft: null}
  - id: alerted
    sites: [local]
    models: [smollm2-135m-instruct]
    usage:
      budgets:
        - {id: alerted-daily, period: day, unit: tokens, limit: 10000, soft: 0.001}
  - id: limited
    sites: [local]
    models: [smollm2-135m-instruct]
    usage:
      rate_limits:
        - {scope: key, requests_per_minute: 2}
  - id: tpm
    sites: [local]
    models: [smollm2-135m-instruct]
    usage:
      rate_limits:
        - {scope: tenant, tokens_per_minute: 150}
  - id: free
    sites: [local]
    models: [smollm2-135m-instruct]
"""


class Webhook:
    """A real HTTP server on localhost that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received
        self.arrived = threading.Event()

        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", 0))
                received.append(json.loads(self.rfile.read(size)))
                self.send_response(204)
                self.end_headers()
                hook.arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Metered:
    def __init__(self, aio: Any, app: Any, store: SqliteStateStore, keys: dict[str, str]) -> None:
        self.aio, self.app, self.store, self.keys = aio, app, store, keys
        self.key_ids: dict[str, str] = {}

    def client(self, who: str) -> openai.AsyncOpenAI:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("127.0.0.1", 5555)), timeout=120
        )
        return openai.AsyncOpenAI(
            base_url="http://bastion.test/v1",
            api_key=self.keys[who],
            http_client=http,
            max_retries=0,
        )

    def chat(self, who: str, content: str = "List two fruits.", **extra: Any) -> Any:
        async def call() -> Any:
            return await self.client(who).chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": content}],
                max_tokens=extra.pop("max_tokens", 8),
                temperature=0,
                seed=3,
                **extra,
            )

        return self.aio.run(call())

    def records(self, request_id: str) -> list[Any]:
        log = self.app.state.audit_log
        page = self.aio.run(log.query(RecordFilter(), 1000, None))
        out = [r for _, r in page.records]
        while page.next_cursor is not None:
            page = self.aio.run(log.query(RecordFilter(), 1000, page.next_cursor))
            out += [r for _, r in page.records]
        return [r for r in out if r.request_id == request_id]


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def metered(
    aio: Any,
    llama_engine: Any,
    embedder: Any,
    redactor: Any,
    webhook: Webhook,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Metered]:
    data: Path = tmp_path_factory.mktemp("budgets")
    (data / "policy.yaml").write_text(POLICY)
    settings = Settings(data_dir=data, models=[ModelConfig(name=MODEL, cost=PRICES)])
    store = SqliteStateStore(data / "state.db")
    keystore = KeyStore(store)
    tenants = ("open", "tight", "costly", "alerted", "limited", "tpm", "free")
    keys: dict[str, str] = {}
    key_ids: dict[str, str] = {}
    for tenant in tenants:
        keys[tenant], info = keystore.create(tenant, Role.APP)
        key_ids[tenant] = info.key_id
    keys["costly2"], info = keystore.create("costly", Role.APP)
    key_ids["costly2"] = info.key_id
    server = ModelServer(llama_engine, default_max_tokens=32)
    server.ready = True
    policy = PolicyEngine.from_paths(settings.policy_files())
    gateway = Gateway(
        keystore,
        Registry(settings.models, settings.embeddings),
        policy,
        StaticSites({"local"}),
        {f"{MODEL}@v1": server},
        embedder,
        redactor,
    )
    gateway.usage = UsageControl(  # type: ignore[attr-defined]  # what serving/app.py sets
        store,
        policy,
        {f"{MODEL}@v1": ModelTerms(PRICES, 32, 0.0)},
        UsageSettings(alert_webhook=webhook.url),
    )
    app = create_api(max_body_bytes=256 * 1024)
    app.state.gateway = gateway
    audit_log = aio.run(build_audit_log(AuditConfig(), data))
    app.state.audit = LocalAuditClient(audit_log)
    app.state.audit_log = audit_log
    app.state.policy_reloader = PolicyReloader(policy, settings.policy_files(), store)
    m = Metered(aio, app, store, keys)
    m.key_ids = key_ids
    yield m
    aio.run(audit_log.close())
    store.close()


def _error(exc: openai.APIStatusError) -> dict[str, Any]:
    return exc.response.json()["error"]


def test_the_metered_pipeline_has_meter_and_settle(metered: Metered) -> None:
    pipelines = Pipelines(metered.app.state.gateway, metered.app.state.audit)
    names = pipelines.inference.names
    assert names.index("route") < names.index("meter") < names.index("generate")
    assert names.index("generate") < names.index("settle") < names.index("output_redaction")


def test_tokens_and_cost_in_the_response_the_audit_record_and_the_ledger(metered: Metered):
    before = query_usage(metered.store, "open", date.today(), date.today(), "tenant")
    response = metered.chat("open")
    usage = response.usage
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 8
    assert usage.prompt_tokens_details.cached_tokens == 0
    (record,) = metered.records(response.id.removeprefix("chatcmpl-"))
    assert record.tokens.prompt == usage.prompt_tokens
    assert record.tokens.completion == usage.completion_tokens
    expected = PRICES.micro(usage.prompt_tokens, usage.completion_tokens)
    assert record.cost_micro_usd == expected > 0
    today = datetime.now(UTC).date()
    (row,) = query_usage(metered.store, "open", today, today, "tenant")
    done = before[0].requests if before else 0
    assert row.requests == done + 1
    assert row.completion >= usage.completion_tokens
    (by_key,) = query_usage(metered.store, "open", today, today, "key")
    assert by_key.group == metered.key_ids["open"]


def test_a_streamed_answer_reports_usage_with_cached_tokens(metered: Metered) -> None:
    async def run() -> list[Any]:
        stream = await metered.client("open").chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk async for chunk in stream]

    chunks = metered.aio.run(run())
    usage = chunks[-1].usage
    assert usage.completion_tokens > 0
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_a_hard_token_budget_refuses_with_429_naming_it_and_its_reset(metered: Metered) -> None:
    refused = None
    for _ in range(10):
        try:
            metered.chat("tight")
        except openai.RateLimitError as exc:
            refused = exc
            break
    assert refused is not None, "the daily token budget never refused a request"
    error = _error(refused)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert error["code"] == "budget_exceeded"
    assert error["type"] == "rate_limit_error"
    assert "tight-daily" in error["message"]
    assert f"resets at {tomorrow}T00:00:00Z" in error["message"]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    used = metered.store.counter(BUDGET_NS, f"tight/tight-daily/-/{today}")
    assert 0 < used <= 150  # settled actuals never passed the limit (estimates cover them)


def test_a_per_key_currency_budget_holds_each_key_separately(metered: Metered) -> None:
    # 0.2 EUR per key and month; one request reserves ~0.034 EUR (44 prompt tokens estimated,
    # 8 max_tokens): a few fit, then this key is refused, the tenant's other key is not
    served = 0
    with pytest.raises(openai.RateLimitError) as refused:
        for _ in range(12):
            metered.chat("costly")
            served += 1
    assert served >= 3
    assert "key-cost" in _error(refused.value)["message"]
    assert metered.chat("costly2").usage.completion_tokens > 0


def test_requests_per_minute_per_key_answer_429_with_retry_after(metered: Metered) -> None:
    refused = None
    for _ in range(5):  # 2 per minute: a third in the same window is refused
        try:
            metered.chat("limited", max_tokens=1)
        except openai.RateLimitError as exc:
            refused = exc
            break
    assert refused is not None
    assert _error(refused)["code"] == "rate_limit_exceeded"
    assert "requests per minute" in _error(refused)["message"]
    assert 1 <= int(refused.response.headers["retry-after"]) <= 60


def test_tokens_per_minute_per_tenant(metered: Metered) -> None:
    refused = None
    for _ in range(6):
        try:
            metered.chat("tpm", max_tokens=40)
        except openai.RateLimitError as exc:
            refused = exc
            break
    assert refused is not None
    assert "tokens per minute" in _error(refused)["message"]
    assert int(refused.response.headers["retry-after"]) >= 1


def test_a_tenant_without_limits_is_metered_but_never_refused(metered: Metered) -> None:
    for _ in range(3):
        assert metered.chat("free", max_tokens=2).usage.completion_tokens > 0
    today = datetime.now(UTC).date()
    (row,) = query_usage(metered.store, "free", today, today, "model")
    assert row.group == f"{MODEL}@v1" and row.requests == 3


def test_soft_threshold_alerts_once_by_webhook_log_and_metric(
    metered: Metered, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    from serving.pipeline.usage_metrics import USAGE_METRICS

    alerts = USAGE_METRICS.alerts
    before = alerts.labels("alerted", "alerted-daily")._value.get() if alerts else 0
    with caplog.at_level(logging.WARNING, logger="bastion.usage"):
        metered.chat("alerted", max_tokens=2)
        metered.chat("alerted", max_tokens=2)
    assert webhook.arrived.wait(10)
    mine = [b for b in webhook.received if b["budget"] == "alerted-daily"]
    assert len(mine) == 1  # once per period, not once per request
    body = mine[0]
    assert body["event"] == "budget.soft_threshold" and body["tenant"] == "alerted"
    assert body["unit"] == "tokens" and body["used"] >= 10 and body["limit"] == 10000
    lines = [r for r in caplog.records if r.getMessage() == "budget soft threshold crossed"]
    assert len(lines) == 1
    assert metered.key_ids["alerted"] not in json.dumps(lines[0].__dict__, default=str)
    assert metered.keys["alerted"] not in json.dumps(lines[0].__dict__, default=str)
    if alerts is not None:
        assert alerts.labels("alerted", "alerted-daily")._value.get() == before + 1


def test_a_request_stopped_after_the_meter_releases_its_reservation(metered: Metered) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    key = f"open/open-month/-/{month}"
    before = metered.store.counter(BUDGET_NS, key)
    with pytest.raises(openai.BadRequestError) as too_long:  # the model's context is 2048
        metered.chat("open", content="word " * 5000)
    assert _error(too_long.value)["code"] == "context_length_exceeded"
    assert metered.store.counter(BUDGET_NS, key) == before


def _state(key: str, body: dict[str, Any]) -> RequestState:
    raw = json.dumps(body).encode()

    async def read_body() -> bytes:
        return raw

    return RequestState(str(uuid.uuid4()), Route.CHAT, bearer=key, read_body=read_body)


def test_a_stream_closed_mid_way_settles_what_was_generated(metered: Metered) -> None:
    """The client goes away after three pieces (the driver closes the stream, as the HTTP
    server does on a disconnect): the ledger gets the prompt estimate and the pieces sent,
    the budget keeps exactly that, not the reservation of 200 tokens."""
    pipelines = Pipelines(metered.app.state.gateway, metered.app.state.audit)
    month = datetime.now(UTC).strftime("%Y-%m")
    budget_key = f"open/open-month/-/{month}"
    today = datetime.now(UTC).date()
    before = (query_usage(metered.store, "open", today, today, "tenant") or [UsageRow("open")])[0]
    spent_before = metered.store.counter(BUDGET_NS, budget_key)
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Write a long story about a dragon."}],
        "max_tokens": 200,
        "temperature": 0,
        "stream": True,
    }
    state = _state(metered.keys["open"], body)

    async def run() -> int:
        items = await pipelines.inference.open(state)
        seen = 0
        async for item in items:
            seen += 1 if item.text else 0
            if seen == 3:
                break
        await items.aclose()
        return seen

    assert metered.aio.run(run()) == 3
    reservation = state.reservation
    assert reservation is not None and reservation.settled
    after = query_usage(metered.store, "open", today, today, "tenant")[0]
    generated = after.completion - before.completion
    assert 3 <= generated < 200
    assert after.requests == before.requests + 1
    charged = metered.store.counter(BUDGET_NS, budget_key) - spent_before
    assert charged == state.spent.cost_micro == PRICES.micro(reservation.prompt, generated)
    assert charged < reservation.cost_micro
    (record,) = metered.records(state.request_id)
    assert record.status_code == 499 and record.tokens.completion == generated


def test_embeddings_are_metered_in_tokens(metered: Metered) -> None:
    async def run() -> Any:
        return await metered.client("open").embeddings.create(
            model="all-minilm-l6-v2", input=["one", "two"]
        )

    today = datetime.now(UTC).date()
    before = {r.group: r.prompt for r in query_usage(metered.store, "open", today, today)}
    result = metered.aio.run(run())
    after = {r.group: r.prompt for r in query_usage(metered.store, "open", today, today)}
    gained = after.get("all-minilm-l6-v2@v1", 0) - before.get("all-minilm-l6-v2@v1", 0)
    assert gained == result.usage.prompt_tokens > 0
