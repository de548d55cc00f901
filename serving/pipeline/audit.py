"""Stage 11: exactly one audit record per request, durable before the final item is released.

- A stream's final item (the one with ``finish_reason``, or the vectors of an embedding) is
  held until its record is durable; only then can the driver send the last chunk and
  ``[DONE]``, or build the whole body from the collected stream. If the record cannot be
  written, :class:`AuditUnavailable` is raised instead (the client gets a 503 or a stream error
  event): nothing is acknowledged that is not recorded (fail closed).
- A request a stage stopped is recorded with that stage and the error type, before its error
  response is sent.
- A client that goes away mid-stream still gets its record (status 499).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

from models.engines.base import Delta
from policies.audit import Actor, AuditRecord, AuditUnavailable, PolicyRef, Resource, Tokens
from serving.pipeline.errors import error_code, error_response
from serving.pipeline.metrics import observe
from serving.pipeline.stage import Stage, StageFailure, outlive_cancellation
from serving.pipeline.state import Embeddings, Item, Outcome, RequestState

__all__ = ["Audit", "AuditSink", "build_record"]

log = logging.getLogger("bastion.audit")


class AuditSink(Protocol):
    """Where records go (serving/audit_client.py): ``append`` returns once durable."""

    async def append(self, record: AuditRecord, content: str | None = None) -> int: ...


def _event_type(state: RequestState, status: int) -> str:
    return "auth.failed" if status == 401 else state.route.value


def _outcome(status: int) -> str:
    if status in (401, 403):
        return "denied"
    return "success" if status < 400 else "failure"


def build_record(state: RequestState, outcome: Outcome) -> AuditRecord:
    """The record for one request, from what the stages learned. No request content: only
    ids, configuration values, counts and machine tokens."""
    principal = state.principal
    actor = (
        Actor(key_id=principal.key_id, role=principal.role.value, tenant=principal.tenant)
        if principal
        else Actor(key_id=state.key_id_attempted)
    )
    decision, model, redaction = state.decision, state.model, state.redaction
    inference = state.route.inference
    detail = dict(state.detail or {})
    detail.update(state.guard_detail)  # guardrail scores (thousandths) and rule ids
    if outcome.stage is not None:
        detail["stage"] = outcome.stage
    if state.correlation_id is not None:
        detail["correlation_id"] = state.correlation_id
    if state.prompt_version is not None:
        detail["prompt_version"] = state.prompt_version
    if state.variant is not None and len(state.variant) <= 128:  # a record field's limit
        detail["variant"] = state.variant
    if state.cache is not None:  # semantic cache: hit, miss, bypass or skip
        detail["cache"] = state.cache.result
    return AuditRecord(
        event_type=_event_type(state, outcome.status),
        time=state.wall_start,
        request_id=state.request_id,
        actor=actor,
        origin=state.origin,
        outcome=_outcome(outcome.status),
        status_code=outcome.status,
        error_type=outcome.error_type,
        resource=Resource(model=model.name, version=model.version, site=model.site)
        if model
        else None,
        data_classes=tuple(sorted(redaction.data_classes)) if redaction else (),
        entity_counts=dict(redaction.entity_counts) if redaction else {},
        output_redactions=state.output_redactions,
        guardrails=dict(state.guardrails) or None,
        degraded=True if (redaction and redaction.degraded) or state.output_degraded else None,
        policy=PolicyRef(
            outcome=decision.outcome, rule_id=decision.rule_id, version=decision.policy_version
        )
        if decision
        else None,
        tokens=_tokens(state) if inference else None,
        cost_micro_usd=state.spent.cost_micro if state.spent is not None else None,
        latency_ms=int((time.perf_counter() - state.started) * 1000),
        stream=state.stream if inference else None,
        cache_hit=state.cache_hit if state.cache is not None else None,
        detail=detail or None,
    )


def _tokens(state: RequestState) -> Tokens:
    """Tokens as settled (serving/pipeline/usage.py: cached tokens included), else as the
    model reported them."""
    spent, usage = state.spent, state.usage
    if spent is not None:
        return Tokens(prompt=spent.prompt, completion=spent.completion, cached=spent.cached or None)
    return Tokens(
        prompt=usage.prompt_tokens if usage else 0,
        completion=usage.completion_tokens if usage else 0,
    )


async def _close(items: AsyncIterator[Item]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def _final(item: Item) -> bool:
    return isinstance(item, Embeddings) or (
        isinstance(item, Delta) and item.finish_reason is not None
    )


class Audit(Stage):
    """Owns ``outcome``. ``capture``: keep the redacted input and the answer in placeholder form
    with the record (audit.capture = redacted); never a raw value."""

    name = "audit"

    def __init__(self, sink: AuditSink | None, capture: bool = False) -> None:
        self.sink = sink
        self.capture = capture

    def _captured(self, state: RequestState) -> str | None:
        if not self.capture or state.redaction is None:
            return None
        embedding = isinstance(state.first_item, Embeddings)
        output = None if embedding else "".join(state.output)
        return json.dumps({"input": state.redaction.texts, "output": output}, ensure_ascii=False)

    async def _write(self, state: RequestState, outcome: Outcome) -> None:
        """Durably record the request; raises AuditUnavailable when it cannot (fail closed)."""
        state.outcome = outcome
        if self.sink is None:
            log.error("no audit log configured: failing closed")
            observe(state, outcome, audited=False)
            raise AuditUnavailable("no audit log configured")
        try:
            await self.sink.append(build_record(state, outcome), self._captured(state))
        except AuditUnavailable:
            log.error("audit log unavailable: failing the request closed")
            observe(state, outcome, audited=False)
            raise
        except Exception as exc:  # an unexpected audit error also fails closed
            log.error("audit record failed", extra={"error_type": type(exc).__name__})
            observe(state, outcome, audited=False)
            raise AuditUnavailable(f"audit record failed: {type(exc).__name__}") from exc
        observe(state, outcome)  # metrics by tenant, model version and variant

    async def stopped(self, state: RequestState, stage: str, error: BaseException) -> None:
        status, body = error_response(error)
        try:
            await self._write(state, Outcome(status, error_code(body), stage))
        except AuditUnavailable as exc:
            raise exc from error

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        attempted = False
        try:
            async for item in items:
                if not attempted and _final(item):
                    attempted = True
                    await self._write(state, Outcome(200))
                yield item
            if not attempted:  # a stream without a final item: a route's action
                attempted = True
                await self._write(state, Outcome(200))
        except StageFailure as failure:
            if not attempted:
                attempted = True
                await self.stopped(state, failure.stage, failure.error)
            raise failure.error from None
        except Exception as exc:
            # the record could not be written (or the stream failed): the streams below stop
            # now, the model's generation included, not when the garbage collector finds them
            await _close(items)
            if not attempted:
                attempted = True
                await self.stopped(state, self.name, exc)
            raise
        except BaseException:  # the client went away (cancelled, or the stream was closed)
            if not attempted:
                attempted = True
                await outlive_cancellation(self._disconnected(state, items))
            raise

    async def _disconnected(self, state: RequestState, items: AsyncIterator[Item]) -> None:
        # close the stages' streams first, so they finalise (generation stops, usage settles
        # what was generated) before the record is written
        await _close(items)
        await self.disconnected(state)

    async def disconnected(self, state: RequestState, stage: str | None = None) -> None:
        """Record a request whose client went away (499); ``stage``: the stage it was in,
        when that was before the stream began."""
        with contextlib.suppress(AuditUnavailable):  # logged; nobody is left to tell
            await self._write(state, Outcome(499, "client_disconnected", stage))
