"""Structured output (``response_format``): every answer the client asked to be JSON is
validated with ``jsonschema`` before it is released — a JSON object for ``json_object``, an
instance of the schema for ``json_schema`` — whatever the engine did to constrain decoding.

Placed right after generate (before output redaction, so that a retry's answer is scanned,
guarded and restored like any other, and usage counts every attempt):

- a whole answer is held until valid; an invalid one is generated again, up to
  ``structured_output.retries`` times (default 1), then stopped with 422
  ``invalid_structured_output``;
- a streamed answer streams as it comes; it is validated before its final item, and a failing
  stream ends with one error event (serving/pipeline/errors.py) instead of the final chunk.

Validation reads identifiers as the client will get them: placeholders in the answer's string
values are restored (in memory only) before the schema is applied. The answer is checked once
more after restoration (:func:`check_restored`, called by serving/pipeline/restore.py), so what
later stages did to the text (output redaction, the output guard) can never pass invalid JSON.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from models.engines.base import Delta, EngineFailure, Usage
from serving import protocol
from serving.observability import METRICS
from serving.pipeline.errors import StructuredOutputInvalid, UpstreamError
from serving.pipeline.generate import ModelClient, generate_request
from serving.pipeline.stage import Stage
from serving.pipeline.state import Item, RequestState

__all__ = ["Structured", "check", "check_restored", "declared_schema", "invalid_reason"]

log = logging.getLogger("bastion.structured")

GUARD = "structured"


def declared_schema(state: RequestState) -> dict[str, Any] | None:
    """The JSON Schema the request's answer must satisfy (None: plain text)."""
    request = state.request
    if not isinstance(request, protocol.ChatCompletionRequest) or request.response_format is None:
        return None
    return request.response_format.answer_schema


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads accepts NaN and Infinity; JSON does not


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    from jsonschema import Draft202012Validator, FormatChecker, validators

    schema = json.loads(schema_text)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    return cls(schema, format_checker=FormatChecker())


def invalid_reason(
    text: str, schema: dict[str, Any], restore: Callable[[str], str] | None = None
) -> str | None:
    """Why ``text`` is not a valid answer (None: it is). ``restore`` maps each string of the
    parsed answer to what the client gets (placeholders → values) before the schema applies.
    The reason names the failing JSON Schema keyword and path, never answer content."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return "the answer is not valid JSON"
    if restore is not None:
        value = _map_strings(value, restore)
    if schema.get("type") == "object" and not isinstance(value, dict):
        return "the answer is not a JSON object"
    try:
        error = next(iter(_validator(json.dumps(schema, sort_keys=True)).iter_errors(value)), None)
    except Exception as exc:  # an unresolvable reference inside the schema
        log.warning("schema could not be applied", extra={"error_type": type(exc).__name__})
        return "the schema could not be applied"
    if error is None:
        return None
    depth = len(error.absolute_path)  # keys are client text: only the depth is named
    return f"the answer violates the schema (keyword {error.validator!r} at depth {depth})"


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {fn(k): _map_strings(v, fn) for k, v in value.items()}
    return value


def _tenant(state: RequestState) -> str:
    return state.principal.tenant if state.principal is not None else "-"


def _verdict(state: RequestState, verdict: str) -> None:
    METRICS.guardrail_verdicts.labels(_tenant(state), GUARD, verdict).inc()


def check(state: RequestState, text: str) -> str | None:
    """Validate an answer in placeholder form against the request's schema (reason or None)."""
    schema = declared_schema(state)
    if schema is None:
        return None
    restore = state.redaction.restore if state.redaction is not None else None
    return invalid_reason(text, schema, restore)


def check_restored(state: RequestState, text: str) -> None:
    """The last check, on the restored answer the client gets: raise if it is invalid."""
    schema = declared_schema(state)
    if schema is None:
        return
    reason = invalid_reason(text, schema)
    if reason is not None:
        _verdict(state, "block")
        raise StructuredOutputInvalid(
            f"The answer did not satisfy response_format after redaction and restoration: {reason}."
        )


def _summed(first: Usage | None, second: Usage | None) -> Usage:
    a, b = first or Usage(0, 0), second or Usage(0, 0)
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens)


class Structured(Stage):
    """Validates answers that must be JSON; regenerates a whole answer that is not (bounded).

    Owns no state field: the verdict goes to ``bastion_guardrail_verdicts_total{guard=
    "structured"}`` (pass, flag: valid after a retry, block) and a failure stops the request.
    """

    name = "structured"

    def __init__(self, models: Mapping[str, ModelClient], retries: int = 1) -> None:
        self.models = models
        self.retries = retries

    async def wrap(self, state: RequestState, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        if declared_schema(state) is None:
            async for item in items:
                yield item
            return
        if state.stream:
            async for item in self._streamed(state, items):
                yield item
            return
        answer = [item async for item in items]
        usage: Usage | None = None
        for attempt in range(self.retries + 1):
            last = answer[-1] if answer else None
            if not isinstance(last, Delta) or last.finish_reason is None:
                raise UpstreamError("the model stream ended early")
            usage = _summed(usage, last.usage) if attempt else last.usage
            reason = check(state, "".join(i.text for i in answer if isinstance(i, Delta)))
            if reason is None:
                _verdict(state, "flag" if attempt else "pass")
                for item in answer[:-1]:
                    yield item
                yield Delta(last.text, last.finish_reason, usage)
                return
            log.info("structured answer invalid", extra={"attempt": attempt, "reason": reason})
            if attempt < self.retries:
                answer = await self._again(state, attempt + 1)
        _verdict(state, "block")
        raise StructuredOutputInvalid(
            f"The model's answer did not satisfy response_format after {self.retries + 1} "
            f"attempt(s): {reason}."
        )

    async def _streamed(
        self, state: RequestState, items: AsyncIterator[Item]
    ) -> AsyncIterator[Item]:
        parts: list[str] = []
        async for item in items:
            if isinstance(item, Delta):
                parts.append(item.text)
                if item.finish_reason is not None:
                    reason = check(state, "".join(parts))
                    if reason is not None:
                        _verdict(state, "block")
                        raise StructuredOutputInvalid(
                            f"The streamed answer did not satisfy response_format: {reason}."
                        )
                    _verdict(state, "pass")
            yield item

    async def _again(self, state: RequestState, attempt: int) -> list[Item]:
        """A new generation of the same request (a seeded request gets the next seed)."""
        assert state.model is not None
        client = self.models.get(state.model.key)
        if client is None:
            raise UpstreamError("the model version is no longer deployed here")
        request = generate_request(state)
        if request.sampling.seed is not None:
            sampling = dataclasses.replace(request.sampling, seed=request.sampling.seed + attempt)
            request = dataclasses.replace(request, sampling=sampling)
        out: list[Item] = []
        stream = client.generate(request)
        try:
            async for item in stream:
                if isinstance(item, EngineFailure):
                    raise UpstreamError(item.message or "the model failed")
                out.append(item)
        except UpstreamError:
            raise
        except Exception as exc:
            log.error("model call failed", extra={"error_type": type(exc).__name__})
            raise UpstreamError("the model is unavailable") from exc
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return out
