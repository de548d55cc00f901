"""The cost model, the usage ledger and ``bastion usage`` (table, CSV, JSON; by model, key, day)
on a real SQLite state store and on the real PostgreSQL server."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policies.usage import CostModel, RequestUsage, ledger_claims, query_usage
from serving.cli import app
from state.sqlite import SqliteStateStore
from tests.state.pg import fresh_database


@pytest.mark.parametrize(
    ("prices", "args", "micro"),
    [
        (CostModel(prompt_per_1k=0.5, completion_per_1k=1.5), (1000, 1000), 2_000_000),
        (CostModel(prompt_per_1k=0.5, completion_per_1k=1.5), (3, 1), 3_000),  # 1,500 + 1,500 micro
        (CostModel(prompt_per_1k=1.0, cached_per_1k=0.1), (1000, 0, 500), 550_000),
        (CostModel(prompt_per_1k=1.0), (1000, 0, 500), 1_000_000),  # cached at the prompt price
        (CostModel(per_gpu_second=0.002), (10, 10, 0, 2.5), 5_000),
        (CostModel(), (5000, 5000), 0),
    ],
)
def test_cost_model(prices: CostModel, args: tuple, micro: int) -> None:
    assert prices.micro(*args) == micro


def test_cost_is_rounded_up_never_down() -> None:
    assert CostModel(prompt_per_1k=0.0001).micro(1, 0) == 1  # 0.1 micro -> 1


def _fill(store) -> None:
    rows = [
        ("acme", "k1", "m@v1", "2026-11-30", RequestUsage(10, 5, 0, 100, 0)),
        ("acme", "k1", "m@v1", "2026-12-01", RequestUsage(20, 10, 4, 200, 1500)),
        ("acme", "k2", "m@v2", "2026-12-01", RequestUsage(30, 15, 0, 300, 0)),
        ("acme", "k2", "m@v2", "2026-12-02", RequestUsage(40, 20, 0, 400, 0)),
        ("acme", "k2", "m@v2", "2026-12-02", RequestUsage(1, 1, 0, 1, 0)),
        ("other", "k3", "m@v1", "2026-12-01", RequestUsage(99, 99, 0, 999, 0)),
    ]
    for tenant, key, model, day, usage in rows:
        store.settle(ledger_claims(tenant, key, model, day, usage))


def test_the_ledger_is_summed_by_group_within_the_range(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    _fill(store)
    start, end = date(2026, 12, 1), date(2026, 12, 2)
    by_model = {r.group: r for r in query_usage(store, "acme", start, end, "model")}
    assert set(by_model) == {"m@v1", "m@v2"}
    assert (by_model["m@v1"].requests, by_model["m@v1"].prompt, by_model["m@v1"].cached) == (
        1,
        20,
        4,
    )
    assert by_model["m@v2"].requests == 3 and by_model["m@v2"].cost_micro == 701
    by_day = [r.group for r in query_usage(store, "acme", start, end, "day")]
    assert by_day == ["2026-12-01", "2026-12-02"]  # 2026-11-30 is outside the range
    by_key = {r.group: r.completion for r in query_usage(store, "acme", start, end, "key")}
    assert by_key == {"k1": 10, "k2": 36}
    (total,) = query_usage(store, "acme", start, end, "tenant")
    assert total.requests == 4 and total.gpu_ms == 1500
    store.close()


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "bastion.yaml"
    path.write_text(
        "models:\n  - name: m\n    cost: {prompt_per_1k: 1, currency: EUR}\n", encoding="utf-8"
    )
    return path


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, ["usage", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_bastion_usage_formats(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    _fill(store)
    store.close()
    common = ["--tenant", "acme", "--from", "2026-12-01", "--to", "2026-12-02"]
    common += ["--config", str(_config(tmp_path)), "--data-dir", str(tmp_path)]
    table = _run(*common)
    assert table.splitlines()[0].split()[:3] == ["model", "requests", "prompt_tokens"]
    assert "TOTAL" in table.splitlines()[-1] and "EUR" in table
    rows = list(csv.DictReader(io.StringIO(_run(*common, "--by", "key", "--format", "csv"))))
    assert [(r["key"], r["requests"], r["completion_tokens"]) for r in rows] == [
        ("k1", "1", "10"),
        ("k2", "3", "36"),
    ]
    data = json.loads(_run(*common, "--by", "day", "--format", "json"))
    assert [d["day"] for d in data] == ["2026-12-01", "2026-12-02"]
    assert data[0]["cost"] == 0.0005 and data[0]["currency"] == "EUR"
    assert data[0]["cached_tokens"] == 4 and data[0]["gpu_seconds"] == 1.5


def test_bastion_usage_rejects_a_bad_date(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["usage", "--tenant", "acme", "--from", "yesterday"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


@pytest.mark.postgres
def test_bastion_usage_on_postgresql(tmp_path: Path) -> None:
    from state.postgres import PostgresStateStore

    with fresh_database() as dsn:
        store = PostgresStateStore(dsn, schema="bastion_state")
        _fill(store)
        store.close()
        env = {"BASTION_AUDIT__STORE": "postgres", "BASTION_AUDIT__DSN": dsn}
        out = _run(
            "--tenant", "acme", "--from", "2026-12-01", "--to", "2026-12-02", "--by", "model",
            "--format", "json", "--config", str(_config(tmp_path)), "--data-dir", str(tmp_path),
            env=env,
        )  # fmt: skip
        data = {d["model"]: d for d in json.loads(out)}
        assert data["m@v2"]["requests"] == 3 and data["m@v1"]["prompt_tokens"] == 20
        assert not (tmp_path / "state.db").exists()  # read from PostgreSQL, not a local file
