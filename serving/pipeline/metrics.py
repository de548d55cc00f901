"""Per-request metrics by tenant, model version and variant, taken when the audit stage records
the request (serving/pipeline/audit.py calls :func:`observe`): every request that reached the
gateway is counted once, with the status the client got.

What the pipeline already knows is counted here: requests and their status, latency, time to
first token and tokens per second, policy denials by rule, identifiers redacted by type. The
usage stage counts tokens and cost, the guards their verdicts and the cache its lookups, each
with the collectors of ``serving.observability.METRICS``.

Labels are bounded sets, never identifiers: the tenant (a policy tenant id, "-" before
authentication), the model version (``name@version``, "-" before routing), the variant (the
alias split arm that served the request, "-" without a split), the HTTP status code, the policy
rule id and the entity type.
"""

from __future__ import annotations

import time

from serving.observability import METRICS
from serving.pipeline.state import Outcome, RequestState

__all__ = ["labels_of", "observe"]

NONE = "-"


def labels_of(state: RequestState) -> tuple[str, str, str]:
    """(tenant, model_version, variant) of a request, each a bounded configuration value."""
    tenant = state.principal.tenant if state.principal is not None else NONE
    version = state.model.key if state.model is not None else NONE
    variant = getattr(state, "variant", None) or NONE  # the alias split arm (route stage)
    return tenant, version, str(variant)


def observe(state: RequestState, outcome: Outcome, audited: bool = True) -> None:
    """Count one finished request. ``audited`` False: its record could not be written, so the
    client got 503 ``audit_unavailable`` whatever the pipeline had decided."""
    if not audited:
        METRICS.audit_failures.inc()
    if not state.route.inference:
        return
    now = time.perf_counter()
    tenant, version, variant = labels_of(state)
    status = outcome.status if audited else 503
    METRICS.model_requests.labels(tenant, version, variant, str(status)).inc()
    METRICS.model_latency.labels(tenant, version, variant).observe(now - state.started)
    first = state.first_token_at
    if first is not None and state.model is not None:
        METRICS.ttft_by_version.labels(version, variant).observe(first - state.started)
        completion = state.usage.completion_tokens if state.usage is not None else 0
        # decode speed: the tokens after the first over the time since it (the final item is
        # held for the audit record, so ``now`` is when the last token arrived)
        if status == 200 and completion > 1 and now > first:
            METRICS.tokens_per_second.labels(version, variant).observe(
                (completion - 1) / (now - first)
            )
    decision = state.decision
    if decision is not None and decision.outcome == "deny":
        METRICS.policy_denials.labels(tenant, decision.rule_id).inc()
    if state.redaction is not None:
        for kind, count in state.redaction.entity_counts.items():
            if count:
                METRICS.tenant_redactions.labels(tenant, kind, "request").inc(count)
    for kind, count in (state.output_redactions or {}).items():
        if count:
            METRICS.tenant_redactions.labels(tenant, kind, "output").inc(count)
