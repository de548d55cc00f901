"""Usage, budgets and rate limits in the pipeline: two stages around generation.

- :class:`Meter` (after route, before the cache and the model): estimates the request (prompt
  tokens from the redacted text + ``max_tokens``, and its cost on the version's cost model) and
  reserves it atomically on every rate limit and budget that applies (one store transaction,
  state/claims.py). A limit that would be passed stops the request with a 429: a rate limit
  with ``retry-after``, a budget naming itself and when it resets. A later stage that stops
  the request gives the reservation back (``release``).
- :class:`Settle` (right after generate, so it sees the model's own stream): when the final
  item arrives — before it is passed on, so the audit record carries the result — it replaces
  the reservation with the actual tokens and cost and adds the request to the usage ledger, in
  one transaction. A stream that ends otherwise (client gone, a later stage failing mid-stream)
  settles what was generated: the prompt estimate and one token per streamed piece.

Concurrent requests therefore cannot pass a hard limit through reservations; the only overshoot
is an actual cost above its estimate (GPU-second prices, or a prompt estimate below the
tokenizer's count), at most one request's worth per request in flight.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from models.engines.base import Delta, Usage
from policies.budgets import BudgetExceeded, UsageLimits
from policies.documents import PolicySet
from policies.ratelimit import Hold, plan, refusal
from policies.usage import CostModel, RequestUsage, UsageSettings, ledger_claims
from serving import protocol
from serving.pipeline.redact import redacted
from serving.pipeline.stage import Stage
from serving.pipeline.state import Embeddings, Item, RequestState
from serving.pipeline.usage_alerts import Alert, Alerter
from serving.pipeline.usage_metrics import USAGE_METRICS
from state import StateError, StateStore
from state.claims import Claim

__all__ = ["Meter", "Reservation", "Settle", "UsageControl"]

log = logging.getLogger("bastion.usage")

FREE = CostModel()
MIN_OVERHEAD = 32  # prompt tokens beyond the text, before a model's first settled request


class Policies(Protocol):
    """What the meter reads from the policy engine: the documents in force."""

    @property
    def policy_set(self) -> PolicySet: ...


@dataclass(frozen=True)
class ModelTerms:
    """How one model version is metered: its prices, default max_tokens and GPUs per replica."""

    cost: CostModel = FREE
    default_max_tokens: int = 256
    num_gpus: float = 0.0


@dataclass
class Reservation:
    """What :class:`Meter` reserved for one request (``holds``) and its estimate."""

    holds: tuple[Hold, ...]
    prompt: int
    max_tokens: int
    cost_micro: int
    model: str
    terms: ModelTerms
    day: str
    text: int = 0  # the prompt text's share of ``prompt`` (the rest: template overhead)
    after: tuple[int, ...] = ()  # each held counter's value right after the reservation
    started: float = field(default_factory=time.perf_counter)
    settled: bool = False


class UsageControl:
    """One replica's metering service: the shared store, the tenants' limits (from the policy
    in force), the cost model per version, and the soft-threshold alerter."""

    def __init__(
        self,
        store: StateStore,
        policy: Policies,
        terms: Mapping[str, ModelTerms] | None = None,
        settings: UsageSettings | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.terms = dict(terms or {})
        self.settings = settings or UsageSettings()
        currencies = {t.cost.currency for t in self.terms.values() if t.cost != FREE}
        if len(currencies) > 1:
            raise ValueError("models[].cost: use one currency for every model version")
        self.currency = currencies.pop() if currencies else "USD"
        self.alerter = Alerter(
            store, self.settings.alert_webhook, self.settings.alert_timeout_s, self.currency
        )
        self._limits: tuple[object, dict[str, UsageLimits]] | None = None
        self._lock = threading.Lock()
        # per model version: the most prompt tokens seen beyond the text estimate (the chat
        # template, a default system prompt), learned from settled requests; never decreases
        self._overhead: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: object, store: StateStore, policy: Policies) -> UsageControl:
        """From :class:`serving.config.Settings`: ``usage`` and each ``models[].cost``."""
        terms = {
            m.key: ModelTerms(
                getattr(m, "cost", None) or FREE, m.default_max_tokens, float(m.num_gpus)
            )
            for m in settings.models  # type: ignore[attr-defined]
        }
        return cls(store, policy, terms, getattr(settings, "usage", None))

    def limits(self, tenant: str) -> UsageLimits | None:
        """The tenant's budgets and rate limits in the policy in force (compiled per version)."""
        policy_set = self.policy.policy_set
        cached = self._limits
        if cached is None or cached[0] is not policy_set:
            table = {
                t.id: t.usage for t in policy_set.tenants if getattr(t, "usage", None) is not None
            }
            with self._lock:
                self._limits = cached = (policy_set, table)
        return cached[1].get(tenant)

    def terms_of(self, model: str) -> ModelTerms:
        return self.terms.get(model, FREE_TERMS)

    def overhead(self, model: str) -> int:
        return self._overhead.get(model, MIN_OVERHEAD)

    def learn(self, model: str, text_estimate: int, actual_prompt: int) -> None:
        """Raise the model's template overhead to what a settled request showed."""
        seen = actual_prompt - text_estimate
        if seen > self._overhead.get(model, MIN_OVERHEAD):
            with self._lock:
                self._overhead[model] = max(seen, self._overhead.get(model, MIN_OVERHEAD))


FREE_TERMS = ModelTerms()


def text_tokens(state: RequestState, bytes_per_token: float) -> int:
    """The prompt's text alone, estimated from its redacted form (see UsageSettings)."""
    texts, _ = redacted(state)
    size = sum(len(t.encode("utf-8")) for t in texts)
    return math.ceil(size / bytes_per_token) + 4 * len(texts)


def _max_tokens(state: RequestState, terms: ModelTerms) -> int:
    request = state.request
    if isinstance(request, protocol.ChatCompletionRequest | protocol.CompletionRequest):
        return request.token_limit() or terms.default_max_tokens
    return 0  # embeddings generate nothing


class Meter(Stage):
    """Owns ``reservation``."""

    name = "meter"

    def __init__(self, control: UsageControl | None) -> None:
        self.control = control

    async def before(self, state: RequestState) -> None:
        control, principal = self.control, state.principal
        if control is None or not control.settings.enabled or principal is None:
            return
        if not state.route.inference or state.model is None:
            return
        model = state.model.key
        terms = control.terms_of(model)
        text = text_tokens(state, control.settings.bytes_per_token)
        prompt = text + control.overhead(model)
        max_tokens = _max_tokens(state, terms)
        cost = terms.cost.micro(prompt, max_tokens)
        now = time.time()
        limits = control.limits(principal.tenant)
        holds: tuple[Hold, ...] = ()
        after: list[int] = []
        if limits is not None:
            tokens = prompt + max_tokens
            planned = plan(limits, principal.tenant, principal.key_id, tokens, cost, now)
            holds = planned.holds
            refused = control.store.reserve(planned.claims, after) if holds else None
            if refused is not None:
                hold = holds[refused]
                error = refusal(hold, now)
                if isinstance(error, BudgetExceeded):
                    USAGE_METRICS.rejected(principal.tenant, error.budget.id)
                else:
                    USAGE_METRICS.limited(principal.tenant, hold.limit_name or "rate")
                raise error
        day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        state.reservation = Reservation(
            holds, prompt, max_tokens, cost, model, terms, day, text, tuple(after)
        )

    async def release(self, state: RequestState) -> None:
        """A later stage stopped the request before generation: give everything back."""
        reservation = state.reservation
        if self.control is None or reservation is None or reservation.settled:
            return
        reservation.settled = True
        back = [Claim(h.claim.namespace, h.claim.key, -h.claim.amount) for h in reservation.holds]
        try:
            self.control.store.settle(back)
        except StateError:
            log.error("could not release a reservation (it stays counted until its period ends)")


def _final(item: Item) -> bool:
    return isinstance(item, Embeddings) or (
        isinstance(item, Delta) and item.finish_reason is not None
    )


class Settle(Stage):
    """Owns ``spent``: what the request used (tokens, cached tokens, cost)."""

    name = "settle"

    def __init__(self, control: UsageControl | None) -> None:
        self.control = control

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        pieces = 0
        try:
            async for item in items:
                if _final(item):
                    self._settle(state, item.usage or Usage(0, 0), complete=True)
                elif isinstance(item, Delta) and item.text:
                    pieces += 1
                yield item
        finally:
            reservation = state.reservation
            if state.spent is None and reservation is not None and not reservation.settled:
                # the stream ended early: charge the prompt and what was generated
                self._settle(state, Usage(reservation.prompt, pieces), complete=False)

    def _settle(self, state: RequestState, usage: Usage, complete: bool) -> None:
        principal, reservation = state.principal, state.reservation
        cached = _cached_tokens(state, usage)
        model = state.model.key if state.model else "none"
        terms = (
            reservation.terms
            if reservation
            else (self.control.terms_of(model) if self.control else FREE_TERMS)
        )
        gpu_s = 0.0
        if reservation is not None:
            gpu_s = (time.perf_counter() - reservation.started) * terms.num_gpus
        # a semantic-cache hit generated nothing: its prompt is priced as cached, its answer free
        generated = 0 if getattr(state, "cache_hit", False) else usage.completion_tokens
        cost = terms.cost.micro(usage.prompt_tokens, generated, cached, gpu_s)
        spent = RequestUsage(
            usage.prompt_tokens, usage.completion_tokens, cached, cost, int(gpu_s * 1000)
        )
        state.spent = spent
        tenant = principal.tenant if principal else "-"
        USAGE_METRICS.spent(tenant, model, spent.prompt, spent.completion, cached, cost / 1_000_000)
        if self.control is None or reservation is None or reservation.settled:
            return
        reservation.settled = True
        if complete and not cached:
            self.control.learn(model, reservation.text, usage.prompt_tokens)
        claims: list[Claim] = []
        for hold in reservation.holds:
            actual = {"requests": 1, "tokens": spent.tokens, "currency": cost}[hold.unit]
            c = hold.claim
            if actual != c.amount:
                claims.append(Claim(c.namespace, c.key, actual - c.amount, ttl_s=c.ttl_s))
        assert principal is not None
        claims += ledger_claims(tenant, principal.key_id, model, reservation.day, spent)
        try:
            self.control.store.settle(claims)
        except StateError:
            # the reservation stays counted (never less than was spent); the audit record
            # still carries the tokens and the cost
            log.error("could not settle a request's usage", extra={"complete": complete})
            return
        self._watch(tenant, principal.key_id, reservation, spent.tokens, cost)

    def _watch(
        self, tenant: str, key_id: str, reservation: Reservation, tokens: int, cost: int
    ) -> None:
        """Budget use after settling (the counter as reserved, corrected by this request's
        actual amount; no extra read): the gauge, and the soft-threshold alert."""
        assert self.control is not None
        for hold, value in zip(reservation.holds, reservation.after, strict=False):
            budget, period = hold.budget, hold.period
            if budget is None or period is None:
                continue
            actual = cost if budget.unit == "currency" else tokens
            used = max(value + actual - hold.claim.amount, 0)
            USAGE_METRICS.ratio(tenant, budget.id, used / budget.units)
            alert = Alert(tenant, budget, period, key_id if budget.scope == "key" else None, used)
            self.control.alerter.check(alert)


def _cached_tokens(state: RequestState, usage: Usage) -> int:
    """Prompt tokens served from a cache: all of them on a semantic-cache hit, else what the
    engine reports (``cached_tokens`` on its usage, when it has one)."""
    if getattr(state, "cache_hit", False):
        return usage.prompt_tokens
    return int(getattr(usage, "cached_tokens", 0) or 0)
