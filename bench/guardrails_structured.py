"""Structured output: how many answers satisfy their JSON Schema with and without constrained
decoding, and what the grammar costs — in one run.

100 schema-constrained chat requests (5 schemas x 20 subjects, fixed and listed below; each
prompt asks for JSON and includes the schema, as a client without constrained decoding would)
go to the bundled SmolLM2-135M-Instruct (llama.cpp, greedy), each twice, alternating: (a) with
the grammar built from the schema (what ``response_format: json_schema`` does) and (b) as plain
text. Every answer is validated by Bastion's own validator (serving/pipeline/structured.py:
``json.loads`` + ``jsonschema``), as the pipeline does before releasing it.

- validity: answers that parse and satisfy the schema, as returned (no cleanup);
- what the client gets with constrained decoding: a valid answer or a 422
  (``invalid_structured_output``); an invalid answer is never passed through;
- latency: wall time per request and per generated token, p50 (a) vs (b).

    .venv/bin/python bench/guardrails_structured.py [--requests 100] [--max-tokens 64]

``run_structured(...)`` returns the figures as a dict (bench/guardrails.py prints them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.engines.base import ChatMessage, Delta, ResponseFormat, Sampling
from models.engines.llamacpp import LlamaCppEngine
from serving import protocol
from serving.pipeline.errors import StructuredOutputInvalid
from serving.pipeline.state import RequestState, Route
from serving.pipeline.structured import Structured, invalid_reason

__all__ = ["REQUESTS", "SCHEMAS", "run_structured"]

MODEL = "smollm2-135m-instruct"

_TEXT = {"type": "string", "maxLength": 40}
SCHEMAS: dict[str, dict[str, Any]] = {
    "person": {
        "type": "object",
        "properties": {
            "name": _TEXT,
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "city": _TEXT,
        },
        "required": ["name", "age", "city"],
        "additionalProperties": False,
    },
    "product": {
        "type": "object",
        "properties": {
            "name": _TEXT,
            "price": {"type": "number"},
            "in_stock": {"type": "boolean"},
            "tags": {"type": "array", "items": _TEXT, "maxItems": 2},
        },
        "required": ["name", "price", "in_stock", "tags"],
        "additionalProperties": False,
    },
    "appointment": {
        "type": "object",
        "properties": {
            "department": {
                "type": "string",
                "enum": ["cardiology", "oncology", "radiology", "pediatrics", "general"],
            },
            "urgent": {"type": "boolean"},
            "reason": _TEXT,
        },
        "required": ["department", "urgent", "reason"],
        "additionalProperties": False,
    },
    "transaction": {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "enum": ["EUR", "USD", "GBP", "CHF"]},
            "category": {"type": "string", "enum": ["food", "travel", "rent", "health", "other"]},
            "flagged": {"type": "boolean"},
        },
        "required": ["amount", "currency", "category", "flagged"],
        "additionalProperties": False,
    },
    "triage": {
        "type": "object",
        "properties": {
            "symptom": _TEXT,
            "severity": {"type": "integer", "minimum": 1, "maximum": 5},
            "follow_up": {"type": "boolean"},
        },
        "required": ["symptom", "severity", "follow_up"],
        "additionalProperties": False,
    },
}

SUBJECTS: dict[str, list[str]] = {
    "person": [
        "a nurse from Berlin",
        "a retired teacher",
        "a young software developer",
        "a farmer in Ireland",
        "a pharmacist from Lyon",
        "a student in Madrid",
        "a taxi driver",
        "a chef from Naples",
        "a librarian",
        "a pilot from Oslo",
        "a carpenter",
        "a dentist from Vienna",
        "a painter",
        "a bank clerk from Zurich",
        "a firefighter",
        "a midwife",
        "a physics professor",
        "a bus driver from Prague",
        "a gardener",
        "a journalist from Lisbon",
    ],
    "product": [
        "a coffee mug",
        "running shoes",
        "a laptop stand",
        "a winter jacket",
        "a desk lamp",
        "a water bottle",
        "a phone charger",
        "a backpack",
        "a chess set",
        "an umbrella",
        "a notebook",
        "a blood pressure monitor",
        "a kettle",
        "headphones",
        "a yoga mat",
        "a thermometer",
        "a bicycle helmet",
        "a cutting board",
        "a wall clock",
        "sunglasses",
    ],
    "appointment": [
        "chest pain after exercise",
        "a child's ear infection",
        "a follow-up scan of a knee",
        "a routine check-up",
        "a suspicious mole",
        "an X-ray of a wrist",
        "high blood pressure",
        "a vaccination for a toddler",
        "a persistent cough",
        "an MRI of the spine",
        "heart palpitations",
        "a broken arm",
        "chemotherapy planning",
        "a fever in a baby",
        "an annual physical",
        "shortness of breath",
        "a CT scan of the abdomen",
        "a skin rash",
        "a lump in the breast",
        "dizziness",
    ],
    "transaction": [
        "a supermarket purchase",
        "a train ticket",
        "monthly rent",
        "a pharmacy bill",
        "a restaurant dinner",
        "a flight to Rome",
        "a hotel night",
        "a doctor's fee",
        "a large cash withdrawal",
        "a taxi ride",
        "groceries",
        "a gym membership",
        "an unusual transfer abroad",
        "a bakery",
        "a dentist invoice",
        "a ferry ticket",
        "a utility payment",
        "concert tickets",
        "a bookshop",
        "a car rental",
    ],
    "triage": [
        "a mild headache",
        "a deep cut on a hand",
        "a sprained ankle",
        "a high fever",
        "chest pain",
        "a sore throat",
        "a burn from boiling water",
        "back pain",
        "an allergic reaction",
        "a nosebleed",
        "stomach cramps",
        "a twisted knee",
        "blurred vision",
        "a bee sting",
        "a panic attack",
        "a dog bite",
        "ear pain",
        "a persistent cough",
        "a migraine",
        "a minor fall",
    ],
}


def _requests() -> list[tuple[str, str]]:
    out = []
    for i in range(20):
        for name in SCHEMAS:
            out.append((name, SUBJECTS[name][i]))
    return out


REQUESTS = _requests()  # 100 (schema name, subject), interleaved by schema


def _fields(schema: dict[str, Any]) -> str:
    parts = []
    for name, spec in schema["properties"].items():
        kind = "one of " + "/".join(spec["enum"]) if "enum" in spec else spec["type"]
        if spec.get("type") == "array":
            kind = f"list of at most {spec['maxItems']} strings"
        parts.append(f"{name} ({kind})")
    return ", ".join(parts)


def _messages(schema: str, subject: str) -> tuple[ChatMessage, ...]:
    text = (
        f"Describe {subject} as a JSON object with the fields {_fields(SCHEMAS[schema])}. "
        "Answer with the JSON only."
    )
    return (ChatMessage("user", text),)


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _released(schema_name: str, deltas: list[Delta]) -> str | None:
    """What the pipeline's structured stage releases for this answer (None: it stopped the
    request with 422). No retry: a greedy retry would repeat the same answer."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "strict": True, "schema": SCHEMAS[schema_name]},
        },
    }
    state = RequestState(request_id=f"bench-{schema_name}", route=Route.CHAT)
    state.request = protocol.ChatCompletionRequest.model_validate(body)

    async def items() -> Any:
        for delta in deltas:
            yield delta

    try:
        out = [d async for d in Structured({}, retries=0).wrap(state, items())]
    except StructuredOutputInvalid:
        return None
    return "".join(d.text for d in out if isinstance(d, Delta))


async def _one(engine: LlamaCppEngine, messages: Any, sampling: Sampling) -> tuple[Any, ...]:
    start = time.perf_counter()
    deltas, first = [], None
    async for delta in engine.chat(messages, sampling):
        if first is None and delta.text:
            first = time.perf_counter() - start
        deltas.append(delta)
    elapsed = time.perf_counter() - start
    return deltas, deltas[-1], (elapsed, first if first is not None else elapsed)


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    valid = sum(r["valid"] for r in rows)
    ms = [r["s"] * 1000 for r in rows]
    # decode time per token after the first (the prompt's processing is the same in both)
    per_token = [(r["s"] - r["ttft"]) * 1000 / (r["tokens"] - 1) for r in rows if r["tokens"] > 1]
    return {
        "valid": valid,
        "validity_rate": valid / len(rows),
        "finished_stop": sum(r["finish"] == "stop" for r in rows),
        "p50_ms": _p(ms, 0.5),
        "p90_ms": _p(ms, 0.9),
        "p50_ms_per_token": _p(per_token, 0.5),
        "p50_ttft_ms": _p([r["ttft"] * 1000 for r in rows], 0.5),
        "mean_completion_tokens": statistics.fmean(r["tokens"] for r in rows),
        "failures": sorted({r["reason"] for r in rows if r["reason"]}),
        # the end of each invalid answer with how it finished (synthetic text, no identifiers)
        "failed_tails": [f"{r['finish']}: {r['tail']!r}" for r in rows if r["reason"]][:5],
    }


async def _run(n: int, max_tokens: int, threads: int) -> dict[str, Any]:
    engine = LlamaCppEngine(MODEL, "v1", context_length=2048, threads=threads)
    await engine.start()
    constrained: list[dict[str, Any]] = []
    plain: list[dict[str, Any]] = []
    served = {"valid": 0, "422": 0, "invalid_passed_through": 0}
    try:
        # one warm-up of each kind (first-call costs), not counted
        warm = _messages(*REQUESTS[0])
        fmt = ResponseFormat("json_schema", json.dumps(SCHEMAS[REQUESTS[0][0]]), "warm", True)
        await _one(engine, warm, Sampling(max_tokens=8, temperature=0, response_format=fmt))
        await _one(engine, warm, Sampling(max_tokens=8, temperature=0))
        for i in range(n):
            schema_name, subject = REQUESTS[i % len(REQUESTS)]
            schema = SCHEMAS[schema_name]
            messages = _messages(schema_name, subject)
            fmt = ResponseFormat("json_schema", json.dumps(schema), schema_name, True)
            # the prompt is processed once, unmeasured, so both measured runs find it cached
            # (llama.cpp reuses a matching prefix) and differ only by the grammar
            await _one(engine, messages, Sampling(max_tokens=1, temperature=0))
            runs = [(constrained, fmt), (plain, ResponseFormat())]
            if i % 2:  # alternate which goes first
                runs.reverse()
            for rows, response_format in runs:
                sampling = Sampling(
                    max_tokens=max_tokens, temperature=0, response_format=response_format
                )
                deltas, last, (elapsed, ttft) = await _one(engine, messages, sampling)
                reason = invalid_reason("".join(d.text for d in deltas), schema)
                if rows is constrained:
                    released = await _released(schema_name, deltas)
                    if released is None:
                        served["422"] += 1
                    elif invalid_reason(released, schema) is None:
                        served["valid"] += 1
                    else:
                        served["invalid_passed_through"] += 1
                rows.append(
                    {
                        "valid": reason is None,
                        "reason": reason,
                        "finish": last.finish_reason,
                        "tokens": last.usage.completion_tokens if last.usage else 0,
                        "s": elapsed,
                        "ttft": ttft,
                        "tail": "".join(d.text for d in deltas)[-48:] if reason else "",
                    }
                )
    finally:
        await engine.close()
    a, b = _summary(constrained), _summary(plain)
    return {
        "requests": n,
        "schemas": len(SCHEMAS),
        "max_tokens": max_tokens,
        "model": f"{MODEL} Q4_1 GGUF, llama.cpp, greedy, {threads} threads",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "constrained": a,
        "unconstrained": b,
        # with constrained decoding, what the pipeline releases: valid, or a 422 — never invalid
        "served_valid": served["valid"],
        "served_422": served["422"],
        "invalid_passed_through": served["invalid_passed_through"],
        "added_p50_ms": a["p50_ms"] - b["p50_ms"],
        "added_p50_ms_per_token": a["p50_ms_per_token"] - b["p50_ms_per_token"],
    }


def run_structured(
    n_requests: int = 100, max_tokens: int = 64, threads: int | None = None
) -> dict[str, Any]:
    """Validity with and without constrained decoding over ``n_requests`` schema-constrained
    requests, and the grammar's added latency (p50), measured in one run."""
    threads = threads or max(1, min((os.cpu_count() or 2), 8))
    return asyncio.run(_run(n_requests, max_tokens, threads))


def _print(result: dict[str, Any]) -> None:
    a, b = result["constrained"], result["unconstrained"]
    print(
        f"structured output: {result['requests']} requests, {result['schemas']} schemas, "
        f"max_tokens {result['max_tokens']}; {result['model']}; {result['machine']}"
    )
    print(f"{'':24}{'constrained':>14}{'unconstrained':>16}")
    print(f"{'schema-valid':24}{a['validity_rate']:>14.2%}{b['validity_rate']:>16.2%}")
    print(f"{'finished (stop)':24}{a['finished_stop']:>14}{b['finished_stop']:>16}")
    print(f"{'p50 ms / request':24}{a['p50_ms']:>14.1f}{b['p50_ms']:>16.1f}")
    print(f"{'p90 ms / request':24}{a['p90_ms']:>14.1f}{b['p90_ms']:>16.1f}")
    print(f"{'p50 ms first token':24}{a['p50_ttft_ms']:>14.1f}{b['p50_ttft_ms']:>16.1f}")
    print(f"{'p50 ms / token':24}{a['p50_ms_per_token']:>14.2f}{b['p50_ms_per_token']:>16.2f}")
    print(
        f"{'mean completion tokens':24}{a['mean_completion_tokens']:>14.1f}"
        f"{b['mean_completion_tokens']:>16.1f}"
    )
    print(
        f"served with constrained decoding: {result['served_valid']} valid, "
        f"{result['served_422']} x 422 invalid_structured_output, "
        f"{result['invalid_passed_through']} invalid passed through"
    )
    print(
        f"added latency p50: {result['added_p50_ms']:+.1f} ms / request, "
        f"{result['added_p50_ms_per_token']:+.2f} ms / token"
    )
    for name, part in (("constrained", a), ("unconstrained", b)):
        if part["failures"]:
            print(f"{name} failures: {'; '.join(part['failures'])}")
    for tail in a["failed_tails"]:
        print(f"constrained, invalid answer ends: {tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = run_structured(args.requests, args.max_tokens, args.threads)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)


if __name__ == "__main__":
    main()
