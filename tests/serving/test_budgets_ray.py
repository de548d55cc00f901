"""Budgets across two ingress replicas sharing one real PostgreSQL, through a real `bastion serve`
(Ray Serve's proxy in front of ``ingress.num_replicas: 2``), the bundled model and the official
openai SDK:

- 32 concurrent clients spend one tenant's daily token budget: the tokens settled (the usage
  ledger and the budget counter) pass the hard limit by at most one request's reservation;
  every refused request is a 429 naming the budget; both replicas served.
- a client that disconnects mid-stream is charged what was generated, not its reservation.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest

from policies.ratelimit import BUDGET_NS
from policies.usage import query_usage
from state.postgres import PostgresStateStore
from tests.serving.live import ServeCluster
from tests.state.pg import fresh_database

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.slow]

MODEL = "smollm2-135m-instruct"
LIMIT = 1500  # tokens per day for tenant "spender"
MAX_TOKENS = 16
CLIENTS = 32
POLICY = f"""
sites:
  - {{id: de-fra-1, jurisdiction: DE, region: EU}}
models:
  - {{id: {MODEL}@v1, site: de-fra-1, approved_data_classes: [PHI, PCI, PII]}}
  - {{id: all-minilm-l6-v2@v1, site: de-fra-1, approved_data_classes: [PHI, PCI, PII]}}
tenants:
  - id: default
    sites: [de-fra-1]
    models: [{MODEL}, all-minilm-l6-v2]
  - id: spender
    sites: [de-fra-1]
    models: [{MODEL}]
    usage:
      budgets:
        - {{id: spender-daily, period: day, unit: tokens, limit: {LIMIT}, soft: null}}
  - id: streamer
    sites: [de-fra-1]
    models: [{MODEL}]
    usage:
      budgets:
        - {{id: streamer-month, period: month, unit: currency, limit: 100}}
"""


class Cluster(ServeCluster):
    """Two ingress replicas behind Serve's proxy, with a cost model; ``store`` reads the same
    PostgreSQL the server writes."""

    def __init__(self, tmp: Path, dsn: str) -> None:
        super().__init__(
            tmp,
            dsn,
            POLICY,
            "server:\n  direct_ingress: false\n"
            "ingress:\n  num_replicas: 2\n"
            "audit:\n  store: postgres\n"
            "embeddings:\n  site: de-fra-1\n"
            f"models:\n  - name: {MODEL}\n    version: v1\n    site: de-fra-1\n"
            "    threads: 2\n    default_max_tokens: 16\n"
            "    cost: {prompt_per_1k: 0.5, completion_per_1k: 1.5, currency: EUR}\n",
        )
        self.store = PostgresStateStore(dsn, schema="bastion_state")

    def stop(self) -> None:
        self.store.close()
        super().stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_database() as dsn:
        server = Cluster(tmp_path_factory.mktemp("budgets-ray"), dsn)
        try:
            yield server
        finally:
            server.stop()


def test_32_clients_on_two_replicas_overshoot_at_most_one_reservation(cluster: Cluster) -> None:
    key = cluster.key("spender")
    replicas: Counter[str] = Counter()
    refusals: list[dict] = []
    served = 0
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client() -> None:
        nonlocal served
        api = openai.OpenAI(base_url=cluster.url + "/v1", api_key=key, max_retries=0, timeout=300)
        start.wait()
        for _ in range(20):
            try:
                raw = api.chat.completions.with_raw_response.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": "Count to ten."}],
                    max_tokens=MAX_TOKENS,
                    temperature=0,
                )
            except openai.RateLimitError as exc:
                with lock:
                    refusals.append(exc.response.json()["error"])
                    replicas[exc.response.headers["x-bastion-replica"]] += 1
                return
            with lock:
                served += 1
                replicas[raw.headers["x-bastion-replica"]] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(replicas) == 2, replicas  # both ingress replicas took part
    assert len(refusals) == CLIENTS  # every client ended on the hard limit
    assert all(r["code"] == "budget_exceeded" for r in refusals)
    assert all("spender-daily" in r["message"] for r in refusals)
    day = datetime.now(UTC).date()
    (row,) = query_usage(cluster.store, "spender", day, day, "tenant")
    assert row.requests == served
    settled = row.prompt + row.completion
    counter = cluster.store.counter(BUDGET_NS, f"spender/spender-daily/-/{day.isoformat()}")
    assert counter == settled  # nothing left reserved once every request settled
    # one reservation: the prompt estimate (text + template overhead) + max_tokens
    reservation = max(60, MAX_TOKENS + 32 + 7 + 4)
    overshoot = settled - LIMIT
    print(f"served={served} settled={settled} limit={LIMIT} overshoot={overshoot}")
    assert overshoot <= reservation
    assert settled > LIMIT - 2 * reservation  # the budget was actually spent up to its limit


def test_a_client_gone_mid_stream_is_charged_what_was_generated(cluster: Cluster) -> None:
    key = cluster.key("streamer")
    day = datetime.now(UTC).date()
    month = day.strftime("%Y-%m")
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Write a long story about a dragon."}],
        "max_tokens": 400,
        "temperature": 0,
        "stream": True,
    }
    pieces = 0
    with (
        httpx.Client(timeout=120) as http,
        http.stream(
            "POST",
            cluster.url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {key}"},
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                pieces += 1
            if pieces >= 4:
                break  # leave: the connection closes with the stream
    deadline = time.monotonic() + 120
    rows = []
    while time.monotonic() < deadline:
        rows = query_usage(cluster.store, "streamer", day, day, "tenant")
        if rows and rows[0].requests == 1:
            break
        time.sleep(0.5)
    assert rows and rows[0].requests == 1, "the disconnected request was never settled"
    (row,) = rows
    assert 1 <= row.completion < 400  # what was generated, not max_tokens
    charged = cluster.store.counter(BUDGET_NS, f"streamer/streamer-month/-/{month}")
    assert charged == row.cost_micro  # the reservation (400 completion tokens) was replaced
    reserved_completion = 400 * 1500  # micro-EUR the 400 reserved completion tokens stood for
    assert charged < reserved_completion
