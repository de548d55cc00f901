"""Writes grafana-dashboard.json (the Bastion operations dashboard) from the panel list below.

Run ``python infra/observability/build_dashboard.py`` after changing a panel; the test
(tests/infra/test_observability.py) checks the JSON is this script's output, that every query
parses, and that every metric it queries is exported by the server.

Every query filters on the dashboard's variables ``$tenant`` and ``$model_version`` where the
metric has those labels, and sums over ingress replicas (one scrape target per replica).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("grafana-dashboard.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
T = 'tenant=~"$tenant"'
MV = 'model_version=~"$model_version"'
TM = f"{T},{MV}"
RI = "$__rate_interval"


def rate(metric: str, selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[{RI}]))"


def quantile(q: float, metric: str, selector: str, by: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{selector}}}[{RI}])))"


def ratio(num: str, den: str) -> str:
    return f"({num}) / ({den})"


ERRORS = 'status=~"5.."'

# (row title, [(panel title, unit, kind, [(legend, expr)], description)])
ROWS: list[tuple[str, list[tuple[str, str, str, list[tuple[str, str]], str]]]] = [
    (
        "Traffic",
        [
            (
                "Requests per second by tenant",
                "reqps",
                "timeseries",
                [("{{tenant}}", rate("bastion_model_requests_total", TM, "tenant"))],
                "Inference requests (chat, completions, embeddings) of every ingress replica.",
            ),
            (
                "Server error ratio (5xx) by model version",
                "percentunit",
                "timeseries",
                [
                    (
                        "{{model_version}}",
                        ratio(
                            rate("bastion_model_requests_total", f"{TM},{ERRORS}", "model_version"),
                            rate("bastion_model_requests_total", TM, "model_version"),
                        ),
                    )
                ],
                "503 audit_unavailable counts here: the request failed closed.",
            ),
            (
                "Request latency by model version",
                "s",
                "timeseries",
                [
                    (
                        "p50 {{model_version}}",
                        quantile(0.5, "bastion_model_request_latency_seconds", TM, "model_version"),
                    ),
                    (
                        "p95 {{model_version}}",
                        quantile(
                            0.95, "bastion_model_request_latency_seconds", TM, "model_version"
                        ),
                    ),
                ],
                "To the last byte (whole answers and streams).",
            ),
            (
                "Responses by status",
                "reqps",
                "timeseries",
                [("{{status}}", rate("bastion_model_requests_total", TM, "status"))],
                "401/403/404: refused before the model; 429: budgets and rate limits.",
            ),
        ],
    ),
    (
        "Latency: time to first token and decode speed",
        [
            (
                "Time to first token p95 by model version and variant",
                "s",
                "timeseries",
                [
                    (
                        "{{model_version}} {{variant}}",
                        quantile(
                            0.95, "bastion_ttft_by_version_seconds", MV, "model_version, variant"
                        ),
                    )
                ],
                "Alert BastionTTFTP95High fires above 2 s for 10 minutes.",
            ),
            (
                "Decode tokens per second p50 by model version and variant",
                "none",
                "timeseries",
                [
                    (
                        "{{model_version}} {{variant}}",
                        quantile(0.5, "bastion_tokens_per_second", MV, "model_version, variant"),
                    )
                ],
                "Completion tokens after the first, over the time since the first.",
            ),
        ],
    ),
    (
        "Cost and budgets",
        [
            (
                "Cost per tenant per hour (chargeback currency units)",
                "short",
                "timeseries",
                [("{{tenant}}", f"sum by (tenant) (increase(bastion_cost_total{{{TM}}}[1h]))")],
                "Internal chargeback on each model version's cost model.",
            ),
            (
                "Tokens per second by tenant and kind",
                "none",
                "timeseries",
                [("{{tenant}} {{kind}}", rate("bastion_tokens_total", TM, "tenant, kind"))],
                "prompt, completion and cached (served from the semantic cache).",
            ),
            (
                "Budget burn: share used this period",
                "percentunit",
                "timeseries",
                [
                    (
                        "{{tenant}} {{budget}}",
                        f"max by (tenant, budget) (bastion_budget_used_ratio{{{T}}})",
                    )
                ],
                "Reserved + settled, from the shared store (every replica reports the same).",
            ),
            (
                "Budget and rate-limit refusals (429) and soft-threshold alerts",
                "reqps",
                "timeseries",
                [
                    (
                        "budget {{tenant}} {{budget}}",
                        rate("bastion_budget_rejections_total", T, "tenant, budget"),
                    ),
                    (
                        "rate limit {{tenant}} {{limit}}",
                        rate("bastion_rate_limited_total", T, "tenant, limit"),
                    ),
                    (
                        "soft alert {{tenant}} {{budget}}",
                        rate("bastion_budget_alerts_total", T, "tenant, budget"),
                    ),
                ],
                "",
            ),
        ],
    ),
    (
        "A/B comparison per variant",
        [
            (
                "Requests per second by model version and variant",
                "reqps",
                "timeseries",
                [
                    (
                        "{{model_version}} {{variant}}",
                        rate("bastion_model_requests_total", TM, "model_version, variant"),
                    )
                ],
                "The traffic split as served (variant: the alias split arm).",
            ),
            (
                "Server error ratio by variant",
                "percentunit",
                "timeseries",
                [
                    (
                        "{{model_version}} {{variant}}",
                        ratio(
                            rate(
                                "bastion_model_requests_total",
                                f"{TM},{ERRORS}",
                                "model_version, variant",
                            ),
                            rate("bastion_model_requests_total", TM, "model_version, variant"),
                        ),
                    )
                ],
                "",
            ),
            (
                "Request latency p95 by variant",
                "s",
                "timeseries",
                [
                    (
                        "{{model_version}} {{variant}}",
                        quantile(
                            0.95,
                            "bastion_model_request_latency_seconds",
                            TM,
                            "model_version, variant",
                        ),
                    )
                ],
                "",
            ),
            (
                "Semantic cache hit ratio by model version",
                "percentunit",
                "timeseries",
                [
                    (
                        "{{model_version}}",
                        ratio(
                            rate(
                                "bastion_cache_requests_total",
                                f'{TM},result="hit"',
                                "model_version",
                            ),
                            rate(
                                "bastion_cache_requests_total",
                                f'{TM},result=~"hit|miss"',
                                "model_version",
                            ),
                        ),
                    )
                ],
                "Hits over lookups (bypassed and skipped requests are not lookups).",
            ),
            (
                "User feedback by model version and rating",
                "none",
                "timeseries",
                [
                    (
                        "{{model_version}} {{rating}}",
                        "sum by (model_version, rating) "
                        f"(increase(bastion_feedback_total{{{MV}}}[1h]))",
                    )
                ],
                "",
            ),
        ],
    ),
    (
        "Privacy and policy",
        [
            (
                "Identifiers redacted by entity type",
                "none",
                "timeseries",
                [
                    (
                        "{{entity_type}} ({{where}})",
                        rate("bastion_redactions_total", T, "entity_type, where"),
                    )
                ],
                "Counts only, never values: in requests, and in answers (output redaction).",
            ),
            (
                "Policy denials by rule",
                "reqps",
                "timeseries",
                [("{{rule}}", rate("bastion_policy_denials_total", T, "rule"))],
                "",
            ),
            (
                "Guardrail verdicts",
                "reqps",
                "timeseries",
                [
                    (
                        "{{guard}} {{verdict}}",
                        rate("bastion_guardrail_verdicts_total", T, "guard, verdict"),
                    )
                ],
                "",
            ),
        ],
    ),
    (
        "Health",
        [
            (
                "Model versions ready",
                "none",
                "stat",
                [("{{model_version}}", "max by (model_version) (bastion_model_ready)")],
                "1: some ingress replica reaches a serving replica. Alert BastionModelReplicaDown.",
            ),
            (
                "Audit write failures (5 min)",
                "none",
                "stat",
                [("failures", "sum(increase(bastion_audit_write_failures_total[5m]))")],
                "Any is an incident: requests fail closed with 503. Alert BastionAuditUnavailable.",
            ),
            (
                "Requests in flight per ingress replica",
                "none",
                "timeseries",
                [("{{instance}}", "sum by (instance) (bastion_requests_in_flight)")],
                "",
            ),
            (
                "Ingress replicas up",
                "none",
                "stat",
                [("up", 'sum(up{job="bastion"})')],
                "Prometheus' own scrape health of each ingress replica.",
            ),
        ],
    ),
]


def _panel(pid: int, x: int, y: int, w: int, spec: tuple) -> dict[str, Any]:
    title, unit, kind, targets, description = spec
    panel: dict[str, Any] = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (legend, expr) in enumerate(targets)
        ],
    }
    return panel


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def build() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    for title, specs in ROWS:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid, y = pid + 1, y + 1
        per_row = 3 if len(specs) % 3 == 0 or len(specs) == 5 else 2
        w = 24 // per_row
        for i, spec in enumerate(specs):
            panels.append(_panel(pid, (i % per_row) * w, y + (i // per_row) * 8, w, spec))
            pid += 1
        y += ((len(specs) + per_row - 1) // per_row) * 8
    return {
        "uid": "bastion-operations",
        "title": "Bastion: operations",
        "description": "Traffic, latency, TTFT, cost per tenant, budget burn, A/B comparison per "
        "variant, redactions, denials and health of a Bastion deployment (infra/observability).",
        "tags": ["bastion"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                },
                _variable("tenant", "Tenant", "label_values(bastion_model_requests_total, tenant)"),
                _variable(
                    "model_version",
                    "Model version",
                    "label_values(bastion_model_requests_total, model_version)",
                ),
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
