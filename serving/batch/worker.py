"""The batch worker: drives every line of a job through the same inference pipeline as an
interactive request (privacy, policy, guardrails, budgets, audit: one record per line), in
process, at lower priority, and records each line's result in the StateStore before counting it.

One worker owns a job at a time (a lease: put_if_absent with a TTL, renewed while it works). A
worker that dies (kill -9 included) leaves its lease to expire; the next one reads which lines
are recorded and runs only the others, so no recorded line is lost or run again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import dataclasses
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from models.engines.base import Background, Delta, EngineFailure, GenerateRequest
from policies.access import AuthenticationFailed, Principal, Role
from serving.batch.jobs import ENDPOINTS, parse_input
from serving.batch.priority import INTERACTIVE, InteractiveTraffic
from serving.batch.settings import BatchSettings
from serving.batch.store import BatchStore
from serving.pipeline import Pipeline, Pipelines, RequestState, error_response, whole
from serving.pipeline.stage import Stage
from serving.pipeline.state import Item
from state.base import StateStore

__all__ = [
    "BackgroundModels",
    "BatchPrincipal",
    "BatchWorker",
    "Turns",
    "YieldGate",
    "output_file_id",
    "yielding",
]

log = logging.getLogger("bastion.batch")

FINAL = frozenset({"completed", "failed", "cancelled", "expired"})


def output_file_id(batch_id: str, kind: str) -> str:
    """The output (or error) file's id: fixed by the job, so a finalisation run again after a
    crash writes the same file."""
    return "file-" + hashlib.sha256(f"{batch_id}\n{kind}".encode()).hexdigest()[:32]


class BatchPrincipal(Stage):
    """Authenticate, for a batch line: the key that created the job, read again now (a key
    revoked since fails the remaining lines, 401)."""

    name = "authenticate"

    def __init__(self, store: StateStore, key_id: str, tenant: str) -> None:
        self.store = store
        self.key_id = key_id
        self.tenant = tenant

    async def before(self, state: RequestState) -> None:
        record = await asyncio.to_thread(self.store.get_key, self.key_id)
        if record is None or record.tenant != self.tenant:
            raise AuthenticationFailed("invalid API key")
        if record.revoked_at is not None:
            raise AuthenticationFailed("API key revoked")
        state.principal = Principal(record.key_id, record.tenant, Role(record.role))


class Turns:
    """One batch line's allowance for waiting on interactive traffic: ``take`` waits while
    interactive requests are in flight on this replica, at most ``max_wait_s`` over all of the
    line's calls, so a line yields at every step but is never held back for ever."""

    def __init__(self, traffic: InteractiveTraffic, max_wait_s: float) -> None:
        self.traffic = traffic
        self.left = max_wait_s

    async def take(self) -> None:
        if self.left <= 0 or self.traffic.in_flight == 0:
            return
        start = time.monotonic()
        await self.traffic.wait_idle(self.left)
        self.left -= time.monotonic() - start


class YieldGate(Stage):
    """Put between the stages of a batch line's pipeline: before the next stage starts (its
    redaction, policy, guardrails, the model call) and before it handles the next item of the
    answer (output redaction, output guard, the audit record), wait while interactive requests
    are in flight (the line's :class:`Turns`), so the line's CPU work does not delay them."""

    name = "batch_yield"

    def __init__(self, turns: Turns) -> None:
        self.turns = turns

    async def before(self, state: RequestState) -> None:
        await self.turns.take()

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        async for item in items:
            await self.turns.take()
            yield item


def yielding(stages: list[Stage], turns: Turns) -> list[Stage]:
    """``stages`` with a :class:`YieldGate` before each one but the first, sharing ``turns``."""
    out: list[Stage] = stages[:1]
    for stage in stages[1:]:
        out += [YieldGate(turns), stage]
    return out


class _BackgroundClient:
    """A model client whose generations are marked background (models/engines/priority.py):
    the mark travels in the GenerateRequest to the model server, in process or over Ray."""

    def __init__(self, inner: Any, background: Background) -> None:
        self.inner = inner
        self.background = background

    def generate(self, request: GenerateRequest) -> AsyncIterator[Delta | EngineFailure]:
        return self.inner.generate(dataclasses.replace(request, background=self.background))

    def __getattr__(self, name: str) -> Any:  # info, stats, ...
        return getattr(self.inner, name)


class BackgroundModels(Mapping[str, Any]):
    """A stage's model clients (version key -> client), each marking its generations
    background; read per request, like the mapping it wraps."""

    def __init__(self, models: Mapping[str, Any], background: Background) -> None:
        self.models = models
        self.background = background

    def __getitem__(self, key: str) -> Any:
        return _BackgroundClient(self.models[key], self.background)

    def __iter__(self) -> Any:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)


def background_stages(stages: list[Stage], background: Background) -> list[Stage]:
    """``stages`` with every stage that calls a model (``generate``, ``structured``) copied so
    that its generations are marked background."""
    out: list[Stage] = []
    for stage in stages:
        models = getattr(stage, "models", None)
        if isinstance(models, Mapping):
            stage = copy.copy(stage)
            stage.models = BackgroundModels(models, background)  # type: ignore[attr-defined]
        out.append(stage)
    return out


class BatchWorker:
    """Runs the active jobs it can lease, one task per job, lines bounded per tenant."""

    def __init__(
        self,
        batches: BatchStore,
        keys_store: StateStore,
        pipelines: Callable[[], Pipelines],
        settings: BatchSettings,
        traffic: InteractiveTraffic = INTERACTIVE,
    ) -> None:
        self.batches = batches
        self.keys_store = keys_store
        self.pipelines = pipelines
        self.settings = settings
        self.traffic = traffic
        self.worker_id = "w-" + uuid.uuid4().hex
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._task: asyncio.Task[Any] | None = None
        self._wake = asyncio.Event()

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        for task in [self._task, *self._running.values()]:
            if task is not None:
                task.cancel()
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down: try again at the next poll
                log.warning("batch poll failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)
            self._wake.clear()

    async def poll(self) -> None:
        """Start a task for every active job not running here."""
        for batch_id in await asyncio.to_thread(self.batches.active):
            task = self._running.get(batch_id)
            if task is None or task.done():
                self._running[batch_id] = asyncio.get_running_loop().create_task(
                    self.run_job(batch_id)
                )

    # -- one job ----------------------------------------------------------------------------
    async def run_job(self, batch_id: str) -> bool:
        """Work on the job until it is finished (True), or return False when another worker
        holds it."""
        b = self.batches
        job = await asyncio.to_thread(b.job, batch_id)
        if job is None or job["status"] in FINAL:
            await asyncio.to_thread(b.deactivate, batch_id)
            return True
        ttl = self.settings.lease_ttl_s
        if not await asyncio.to_thread(b.acquire, batch_id, self.worker_id, ttl):
            return False
        lost = asyncio.Event()
        renewer = asyncio.get_running_loop().create_task(self._renew(batch_id, lost))
        try:
            return await self._work(job, lost)
        finally:
            renewer.cancel()

    async def _renew(self, batch_id: str, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_ttl_s / 3)
            try:
                held = await asyncio.to_thread(
                    self.batches.renew, batch_id, self.worker_id, self.settings.lease_ttl_s
                )
            except Exception:
                held = False
            if not held:
                lost.set()
                return

    async def _work(self, job: dict[str, Any], lost: asyncio.Event) -> bool:
        b = self.batches
        batch_id, tenant = job["id"], job["_tenant"]
        meta = await asyncio.to_thread(b.file_meta, job["input_file_id"], tenant)
        data = None if meta is None else await asyncio.to_thread(b.file_content, meta)
        if data is None:  # the input file is gone (retention, shredded)
            job.update(status="failed", failed_at=int(time.time()))
            job["errors"] = {"object": "list", "data": [{"code": "input_file_missing"}]}
            await self._finish(job)
            return True
        lines = parse_input(data, job["endpoint"], max(self.settings.max_lines, 10**7))
        done = await asyncio.to_thread(b.line_status, batch_id)
        counts = job["request_counts"]
        counts.update(
            total=len(lines),
            completed=sum(done.values()),
            failed=len(done) - sum(done.values()),
        )
        if job["status"] == "validating":
            job.update(status="in_progress", in_progress_at=int(time.time()))
        await asyncio.to_thread(b.put_job, job)
        slots = self._slots.setdefault(tenant, asyncio.Semaphore(self.settings.concurrency(tenant)))
        counted = asyncio.Lock()
        stop = asyncio.Event()
        purpose = self._purpose(job)

        async def one(index: int) -> None:
            async with slots:
                if stop.is_set() or lost.is_set():
                    return
                if await asyncio.to_thread(b.cancel_requested, batch_id):
                    stop.set()
                    return
                if self.settings.yield_to_interactive:
                    await self.wait_turn()
                ok, out = await self.drive(job, index, lines[index], purpose)
                if lost.is_set():
                    return
                if self.settings.yield_to_interactive:  # sealing and writing it: CPU too
                    await self.traffic.wait_idle(self.settings.max_yield_s)
                # recorded first, then counted: a crash between the two is recounted on resume
                if await asyncio.to_thread(b.record_line, tenant, batch_id, index, ok, out):
                    async with counted:
                        counts["completed" if ok else "failed"] += 1
                        await asyncio.to_thread(b.put_job, job)

        pending = [i for i in range(len(lines)) if i not in done]
        results = await asyncio.gather(*(one(i) for i in pending), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if lost.is_set():
            return False
        if failures:  # e.g. the store went away: the lease lapses, a later run resumes
            log.warning("batch job interrupted: %s", type(failures[0]).__name__)
            return False
        cancelled = stop.is_set() or await asyncio.to_thread(b.cancel_requested, batch_id)
        now = int(time.time())
        if cancelled:
            job.update(status="cancelled", cancelling_at=job.get("cancelling_at") or now)
            job["cancelled_at"] = now
        else:
            job.update(status="completed", finalizing_at=now, completed_at=now)
        await self._write_outputs(job)
        await self._finish(job)
        return True

    def _purpose(self, job: dict[str, Any]) -> str | None:
        private = job.get("_private")
        if not private:
            return None
        raw = self.batches.unseal(
            job["_tenant"], job["id"], base64.b64decode(private), "job\n" + job["id"]
        )
        return json.loads(raw).get("purpose")

    async def _write_outputs(self, job: dict[str, Any]) -> None:
        b = self.batches
        rows = await asyncio.to_thread(b.lines, job["_tenant"], job["id"])
        ok = [json.dumps(out) for _, good, out in rows if good]
        bad = [json.dumps(out) for _, good, out in rows if not good]
        outputs = (("output", "output_file_id", ok), ("error", "error_file_id", bad))
        for kind, field, lines in outputs:
            if not lines:
                continue
            data = ("\n".join(lines) + "\n").encode()
            fid = output_file_id(job["id"], kind)
            await asyncio.to_thread(b.put_file, job["_tenant"], "batch_output", data, fid)
            job[field] = fid

    async def _finish(self, job: dict[str, Any]) -> None:
        b = self.batches
        await asyncio.to_thread(b.put_job, job)
        await asyncio.to_thread(b.deactivate, job["id"])
        await asyncio.to_thread(b.release, job["id"], self.worker_id)

    # -- one line ---------------------------------------------------------------------------
    async def wait_turn(self) -> None:
        """Before a line starts (its redaction, its prefill): wait while interactive requests
        are in flight on this replica or on a model server (another ingress replica's traffic
        shows there), at most ``max_yield_s``."""
        deadline = time.monotonic() + self.settings.max_yield_s
        while time.monotonic() < deadline:
            if self.traffic.in_flight > 0:
                await asyncio.sleep(0.005)
            elif await self._models_busy():
                await asyncio.sleep(0.02)
            else:
                return

    async def _models_busy(self) -> bool:
        """Whether any model server reports interactive work in flight (its priority gate)."""
        try:
            models = self.pipelines().gateway.models
        except Exception:  # the gateway is starting: nothing to yield to
            return False

        async def busy(client: Any) -> bool:
            try:
                stats = await asyncio.wait_for(client.stats(), timeout=1.0)
            except Exception:  # a replica that does not answer does not hold batch work back
                return False
            return int(stats.get("interactive", 0)) > 0

        found = await asyncio.gather(*(busy(c) for c in list(models.values())))
        return any(found)

    async def drive(
        self, job: dict[str, Any], index: int, line: dict[str, Any], purpose: str | None
    ) -> tuple[bool, dict[str, Any]]:
        """Run one line through the inference pipeline; (ok, the OpenAI batch output line).
        With ``preempt``, an attempt stopped for interactive traffic is run again later."""
        attempts = 0
        while True:
            if attempts and self.settings.yield_to_interactive:
                await self.traffic.wait_idle(self.settings.max_yield_s)
            preemptible = self.settings.preempt and attempts < self.settings.max_preemptions
            result = await self._attempt(job, index, line, purpose, preemptible)
            if result is not None:
                return result
            attempts += 1

    async def _attempt(
        self,
        job: dict[str, Any],
        index: int,
        line: dict[str, Any],
        purpose: str | None,
        preemptible: bool,
    ) -> tuple[bool, dict[str, Any]] | None:
        raw = json.dumps(line["body"]).encode()

        async def read_body() -> bytes:
            return raw

        state = RequestState(
            request_id=str(uuid.uuid4()),
            route=ENDPOINTS[line["url"]],
            purpose=purpose,
            read_body=read_body,
        )
        # the audit record says which job and line (Bastion's ids, never the custom id)
        state.detail = {"batch_id": job["id"], "batch_line": index}
        stages: list[Stage] = [
            BatchPrincipal(self.keys_store, job["_key_id"], job["_tenant"]),
            *self.pipelines().inference.stages[1:],
        ]
        turns = Turns(self.traffic, self.settings.max_yield_s)
        if self.settings.yield_to_interactive:
            # the model server pauses the generation; every other step waits its turn here
            stages = background_stages(stages, Background(self.settings.max_pause_s))
            stages = yielding(stages, turns)
        pipeline = Pipeline(stages)
        try:
            items = await pipeline.open(state)
            collected = await self._collect(state, items, preemptible)
            if collected is None:
                return None  # preempted: recorded as such, run again later
            body = await whole(state, _replay(collected))
            status, ok = 200, True
        except Exception as exc:
            status, body = error_response(exc)
            if status >= 500:  # audit, store or model unavailable: not the line's fault;
                raise  # the line stays unrecorded and runs at the job's next run
            ok = False
        out = {
            "id": "batch_req_" + uuid.uuid4().hex,
            "custom_id": line["custom_id"],
            "response": {"status_code": status, "request_id": state.request_id, "body": body},
            "error": None,
        }
        return ok, out

    async def _collect(
        self, state: RequestState, items: AsyncIterator[Item], preemptible: bool
    ) -> list[Item] | None:
        """The stream's items; None when an interactive request arrived first (the stream is
        closed after its current item, which stops generation and records the attempt)."""
        collected: list[Item] = []
        it = aiter(items)
        watch = asyncio.ensure_future(self.traffic.arrival()) if preemptible else None
        try:
            while True:
                step = asyncio.ensure_future(anext(it))
                if watch is not None:
                    await asyncio.wait({step, watch}, return_when=asyncio.FIRST_COMPLETED)
                try:
                    collected.append(await step)  # at most one item more
                except StopAsyncIteration:
                    return collected
                if watch is not None and (watch.done() or self.traffic.in_flight > 0):
                    assert state.detail is not None
                    state.detail["batch_attempt"] = "preempted"
                    await items.aclose()  # type: ignore[attr-defined]
                    return None
        finally:
            if watch is not None:
                watch.cancel()


async def _replay(items: list[Item]) -> AsyncIterator[Item]:
    for item in items:
        yield item
