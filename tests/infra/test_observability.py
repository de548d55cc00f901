"""infra/observability: the Prometheus alert rules pass ``promtool check rules`` and their unit
tests (``promtool test rules``), every dashboard query parses as PromQL, and the dashboard is
self-contained. That every metric they query is exported by a real server is checked in
tests/serving/test_metrics_exported.py (it needs the in-process app).

promtool comes from Debian's ``prometheus`` package (``apt-get install -y prometheus``; .ci/run
installs it); without it the promtool tests are skipped, naming the package.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "infra" / "observability"
RULES = OBS / "alerts.yml"
RULE_TESTS = OBS / "alerts.test.yml"
DASHBOARD = OBS / "grafana-dashboard.json"

# Grafana's variables, replaced by values PromQL accepts, to parse a dashboard query.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$tenant": ".*"}
GRAFANA_VARIABLES["$model_version"] = ".*"
# Metrics Prometheus makes itself (not exported by Bastion).
PROMETHEUS_OWN = {"up"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "needs promtool from Debian's prometheus package (apt-get install -y prometheus)"
        )
    return path


def rule_exprs() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def dashboard_variable_queries() -> list[str]:
    return [v["definition"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]


def promql(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: ``bastion_*`` names and Prometheus' ``up``
    (recording rules' own ``bastion:*`` names excluded)."""
    names = set(re.findall(r"(?<![:\w])(bastion_[a-z0-9_]+)\b", expr))
    return names | PROMETHEUS_OWN if re.search(r"\bup\s*\{", expr) else names


def queried_metric_names() -> set[str]:
    """Every metric name the rules, the dashboard's panels and its variables query."""
    exprs = rule_exprs() + dashboard_exprs() + dashboard_variable_queries()
    return set().union(*(metric_names(e) for e in exprs))


# -- rules -----------------------------------------------------------------------------------


def test_alert_rules_pass_promtool_check():
    run = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_alert_rules_unit_tests_pass():
    run = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=OBS,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_every_issue_alert_exists_and_is_unit_tested():
    doc = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert {
        "BastionBudgetBurnRateHigh",
        "BastionErrorRateHigh",
        "BastionTTFTP95High",
        "BastionAuditUnavailable",
        "BastionModelReplicaDown",
    } <= alerts
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested: dict[str, list[bool]] = {}
    for case in tests:
        for check in case.get("alert_rule_test", []):
            tested.setdefault(check["alertname"], []).append(bool(check["exp_alerts"]))
    # each alert is shown both firing and silent
    assert {a: sorted(set(v)) for a, v in tested.items()} == {a: [False, True] for a in alerts}


def test_a_broken_rule_fails_promtool(tmp_path):
    """The check above can fail: promtool rejects a rule on a misspelled function."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n"
        "        expr: histogram_quantil(0.95, bastion_model_requests_total) > 1\n"
    )
    run = subprocess.run([promtool(), "check", "rules", str(bad)], capture_output=True, text=True)
    assert run.returncode != 0


# -- dashboard --------------------------------------------------------------------------------


def test_dashboard_json_is_the_builders_output():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_dashboard", OBS / "build_dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DASHBOARD.read_text() == module.render(), "run infra/observability/build_dashboard.py"


def test_every_dashboard_query_parses_as_promql(tmp_path):
    """Each panel query (Grafana variables replaced) as a recording rule: promtool parses it."""
    exprs = dashboard_exprs()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": promql(e)}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    run = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(exprs)} rules found" in run.stdout


def test_dashboard_covers_the_issue_and_is_self_contained():
    board = dashboard()
    text = DASHBOARD.read_text()
    assert not re.search(r"https?://", text)  # no link, no remote datasource
    titles = " ".join(p["title"].lower() for p in board["panels"])
    for topic in (
        "requests",
        "latency",
        "time to first token",
        "cost per tenant",
        "budget burn",
        "variant",
        "redacted",
        "denials",
        "guardrail",
        "cache",
    ):
        assert topic in titles, topic
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in board["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not area & cells, p["title"]  # panels never overlap
        cells |= area
        if p["type"] != "row":
            assert p["targets"] and p["datasource"] == {
                "type": "prometheus",
                "uid": "${datasource}",
            }


def test_queried_names_are_bastion_metrics_or_prometheus_own():
    names = queried_metric_names()
    assert (
        "bastion_model_requests_total" in names
        and "bastion_ttft_by_version_seconds_bucket" in names
    )
    assert all(n.startswith("bastion_") or n in PROMETHEUS_OWN for n in names), names
    assert metric_names('sum(up{job="bastion"}) + rate(bastion_x_total[5m])') == {
        "up",
        "bastion_x_total",
    }
