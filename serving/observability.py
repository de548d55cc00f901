"""Structured JSON logs carrying the request id, and the Prometheus metrics Bastion exports.

Log lines MUST NOT contain prompt or completion text; metric labels are configuration values
(model versions, routes, status codes), never request content.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "DRIVER_LOGGERS",
    "METRICS",
    "REQUEST_ID",
    "JsonFormatter",
    "configure_logging",
    "refresh_model_readiness",
    "render_metrics",
]

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("bastion_request_id", default="-")

# Attributes every LogRecord has; anything else passed via ``extra=`` is emitted as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # the redacting filter leaves the scrubbed traceback here
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


# Loggers the `bastion serve` driver routes through its JSON handler. Inside Ray replicas only
# "bastion" is taken over: Ray Serve's own loggers keep their handlers (JSON encoding, access
# log off), which the redacting filter also covers.
DRIVER_LOGGERS = ("bastion", "uvicorn", "uvicorn.access", "uvicorn.error", "fastapi", "ray")


def configure_logging(level: str = "INFO", loggers: tuple[str, ...] = ("bastion",)) -> None:
    """Send ``loggers`` as JSON lines to the process's real stderr (Ray forwards a replica's
    stderr to the driver and its log files). Idempotent.

    The privacy package's redacting filter is installed on top of this (fail closed).
    """
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_RequestIdFilter())
    for name in loggers:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if isinstance(old.formatter, JsonFormatter):
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(level)
    # The redacting filter on every logger and handler Bastion, uvicorn, FastAPI and Ray write
    # through. Not optional: if it cannot be installed, start-up fails.
    from privacy.logging import install_redacting_filter

    install_redacting_filter()


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "bastion_requests", "Requests by route and status.", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "bastion_request_latency_seconds",
            "Request latency (to the last byte).",
            ["route"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.ttft = Histogram(
            "bastion_time_to_first_token_seconds",
            "Time to first token.",
            ["model"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.decisions = Counter(
            "bastion_policy_decisions",
            "Policy decisions by outcome and rule.",
            ["outcome", "rule"],
            registry=r,
        )
        self.redactions = Counter(
            "bastion_redacted_entities",
            "Identifiers replaced, by entity type (never values).",
            ["entity_type"],
            registry=r,
        )
        self.output_redactions = Counter(
            "bastion_output_redactions",
            "Identifiers the model produced that were not in the request, replaced in its "
            "answers, by entity type (never values).",
            ["entity_type"],
            registry=r,
        )
        self.degraded = Counter(
            "bastion_redaction_degraded",
            "Detections that fell back to patterns only (fail-open tenant, NER failed), by "
            "where: request or output.",
            ["stage"],
            registry=r,
        )
        self.in_flight = Gauge("bastion_requests_in_flight", "Requests in progress.", registry=r)
        self.auth_failures = Counter(
            "bastion_auth_failures", "Requests with a missing or invalid API key.", registry=r
        )

        # -- per tenant, model version and variant (the operations plan, issue #13) -----------
        # Labels are bounded sets, never identifiers: tenant (policy tenant id), model_version
        # (name@version), variant (the alias split arm, or "-"), status (HTTP status code),
        # budget (budget id from the policy), limit, guard, verdict, rule (policy rule id),
        # entity_type, result, kind. Definitions only here; the stages increment them.
        self.model_requests = Counter(
            "bastion_model_requests",
            "Inference requests by tenant, model version, variant and HTTP status.",
            ["tenant", "model_version", "variant", "status"],
            registry=r,
        )
        self.model_latency = Histogram(
            "bastion_model_request_latency_seconds",
            "Inference request latency (to the last byte) by tenant, model version and variant.",
            ["tenant", "model_version", "variant"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.ttft_by_version = Histogram(
            "bastion_ttft_by_version_seconds",
            "Time to first token by model version and variant.",
            ["model_version", "variant"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.tokens_per_second = Histogram(
            "bastion_tokens_per_second",
            "Completion tokens per second of generation (after the first token), by model "
            "version and variant.",
            ["model_version", "variant"],
            buckets=(1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640),
            registry=r,
        )
        self.tokens = Counter(
            "bastion_tokens",
            "Tokens by tenant, model version and kind (prompt, completion, cached).",
            ["tenant", "model_version", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "bastion_cost",
            "Chargeback cost in the configured currency units.",
            ["tenant", "model_version"],
            registry=r,
        )
        self.budget_used_ratio = Gauge(
            "bastion_budget_used_ratio",
            "Share of a budget used in its current period (reserved + settled).",
            ["tenant", "budget"],
            registry=r,
        )
        self.budget_alerts = Counter(
            "bastion_budget_alerts",
            "Soft budget threshold alerts sent.",
            ["tenant", "budget"],
            registry=r,
        )
        self.budget_rejections = Counter(
            "bastion_budget_rejections",
            "Requests refused (429) by a hard budget limit.",
            ["tenant", "budget"],
            registry=r,
        )
        self.rate_limited = Counter(
            "bastion_rate_limited",
            "Requests refused (429) by a rate limit.",
            ["tenant", "limit"],
            registry=r,
        )
        self.policy_denials = Counter(
            "bastion_policy_denials",
            "Requests the policy denied, by tenant and rule id.",
            ["tenant", "rule"],
            registry=r,
        )
        self.tenant_redactions = Counter(
            "bastion_redactions",
            "Identifiers replaced by tenant, entity type and where (request or output); "
            "counts only, never values.",
            ["tenant", "entity_type", "where"],
            registry=r,
        )
        self.guardrail_verdicts = Counter(
            "bastion_guardrail_verdicts",
            "Guardrail verdicts: guard = injection|topic|limits|leakage|blocked_output|"
            "structured, verdict = pass|flag|block.",
            ["tenant", "guard", "verdict"],
            registry=r,
        )
        self.cache_requests = Counter(
            "bastion_cache_requests",
            "Semantic cache lookups: result = hit|miss|bypass|skip.",
            ["tenant", "model_version", "result"],
            registry=r,
        )
        self.feedback = Counter(
            "bastion_feedback",
            "User feedback on answers by model version and rating.",
            ["model_version", "rating"],
            registry=r,
        )
        self.audit_failures = Counter(
            "bastion_audit_write_failures",
            "Audit records that could not be written (the request failed closed).",
            registry=r,
        )
        self.model_ready = Gauge(
            "bastion_model_ready",
            "1 when a model version deployed at a site of this cluster can serve, 0 when it "
            "cannot (replica down or loading); refreshed at each scrape.",
            ["model_version"],
            registry=r,
        )


METRICS = _Metrics()


def render_metrics() -> bytes:
    return generate_latest(METRICS.registry)


async def refresh_model_readiness(gateway: Any) -> None:
    """Set ``bastion_model_ready`` from the gateway's readiness probe (one ``info`` call per
    model version, 5 s at most). A version pinned to a site absent from this cluster is not
    reported: it cannot run here by design."""
    if gateway is None:
        return
    for version, state in (await gateway.readiness()).items():
        if state != "unavailable":
            METRICS.model_ready.labels(version).set(1 if state == "ready" else 0)
            continue
        with contextlib.suppress(KeyError):  # never reported, or already removed
            METRICS.model_ready.remove(version)
