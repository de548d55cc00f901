"""``bastion eval run``: every case through the pipeline, scored, summarised, compared.

A case's score is the share of its checks that passed (skipped checks are left out); the set's
scores are the mean case score overall and per tag, and each check type's pass rate. A score
more than ``tolerance`` below the baseline's is a regression: the gate fails.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving.evals.cases import EvalCase
from serving.evals.checks import Answer, Checker, CheckResult

__all__ = [
    "ask",
    "build_result",
    "compare",
    "load_result",
    "run_cases",
    "score_checks",
    "summarise",
]

RESULT_FORMAT = "bastion.eval.result/1"


async def ask(client: Any, model: str, case: EvalCase) -> Answer:
    """One case through the official openai SDK (the in-process app or a server)."""
    import openai

    kwargs: dict[str, Any] = {
        "model": model,
        "messages": case.messages,
        "max_tokens": case.max_tokens,
        "temperature": case.temperature,
        # the semantic cache would answer from an earlier version's answers
        "extra_headers": {"x-bastion-cache": "bypass"},
    }
    if case.response_format is not None:
        kwargs["response_format"] = case.response_format
    started = time.perf_counter()
    try:
        raw = await client.chat.completions.with_raw_response.create(**kwargs)
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        return Answer(
            status=exc.status_code,
            error_code=(error or {}).get("code") if isinstance(error, dict) else None,
            latency_ms=(time.perf_counter() - started) * 1000,
            request_id=exc.response.headers.get("x-request-id"),
        )
    latency = (time.perf_counter() - started) * 1000
    completion = raw.parse()
    usage = completion.usage
    cost = raw.headers.get("x-bastion-cost")
    return Answer(
        text=completion.choices[0].message.content or "",
        latency_ms=latency,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        cost=float(cost) if cost else None,
        request_id=raw.headers.get("x-request-id"),
        model_version=raw.headers.get("x-bastion-model-version"),
    )


def score_checks(results: list[CheckResult]) -> float:
    ran = [r for r in results if r.passed is not None]
    return sum(1.0 for r in ran if r.passed) / len(ran) if ran else 1.0


async def run_cases(
    client: Any,
    model: str,
    cases: list[EvalCase],
    checker: Checker,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run and score every case, in order, with a progress bar on stderr."""
    import asyncio

    from tqdm import tqdm

    out = []
    bar = tqdm(total=len(cases), unit="case", file=sys.stderr, disable=not progress)
    try:
        for case in cases:
            answer = await ask(client, model, case)
            if answer.status == 401:  # the key, not the model: nothing to score
                raise ValueError("the server refused the key (401)")
            results = await asyncio.to_thread(checker.run, case, answer)
            out.append(
                {
                    "id": case.id,
                    "tags": case.tags,
                    "score": round(score_checks(results), 4),
                    "passed": all(r.passed is not False for r in results),
                    "checks": [r.to_json() for r in results],
                    "status": answer.status,
                    "error_code": answer.error_code,
                    "latency_ms": round(answer.latency_ms, 1),
                    "usage": {
                        "prompt": answer.prompt_tokens,
                        "completion": answer.completion_tokens,
                    },
                    "model_version": answer.model_version,
                    "request_id": answer.request_id,
                    "answer": answer.text,
                }
            )
            bar.update(1)
    finally:
        bar.close()
    return out


def summarise(cases: list[dict[str, Any]]) -> dict[str, float]:
    """``overall``, ``tag:<tag>`` (mean case score) and ``check:<type>`` (pass rate) scores."""
    scores: dict[str, float] = {}
    if not cases:
        return scores
    scores["overall"] = sum(c["score"] for c in cases) / len(cases)
    by_tag: dict[str, list[float]] = defaultdict(list)
    by_check: dict[str, list[float]] = defaultdict(list)
    for c in cases:
        for tag in c["tags"]:
            by_tag[tag].append(c["score"])
        for check in c["checks"]:
            if check["passed"] is not None:
                by_check[check["type"]].append(1.0 if check["passed"] else 0.0)
    scores.update({f"tag:{t}": sum(v) / len(v) for t, v in sorted(by_tag.items())})
    scores.update({f"check:{k}": sum(v) / len(v) for k, v in sorted(by_check.items())})
    return {k: round(v, 4) for k, v in scores.items()}


def compare(
    scores: dict[str, float], baseline: dict[str, float], tolerance: float
) -> list[dict[str, Any]]:
    """Every score present in both that fell more than ``tolerance`` below the baseline."""
    regressions = []
    for name, before in baseline.items():
        now = scores.get(name)
        if now is not None and now < before - tolerance - 1e-9:
            delta = round(now - before, 4)
            regressions.append({"score": name, "baseline": before, "now": now, "delta": delta})
    return regressions


def build_result(
    evalset: Path,
    model: str,
    target: str,
    cases: list[dict[str, Any]],
    baseline: dict[str, Any] | None,
    baseline_path: Path | None,
    tolerance: float,
) -> dict[str, Any]:
    scores = summarise(cases)
    base_scores = (baseline or {}).get("scores", {})
    regressions = compare(scores, base_scores, tolerance) if baseline else []
    versions = sorted({c["model_version"] for c in cases if c["model_version"]})
    return {
        "format": RESULT_FORMAT,
        "evalset": str(evalset),
        "model": model,
        "model_versions": versions,
        "target": target,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cases": cases,
        "scores": scores,
        "baseline": {
            "path": str(baseline_path) if baseline_path else None,
            "model_versions": (baseline or {}).get("model_versions"),
            "scores": base_scores,
        }
        if baseline
        else None,
        "tolerance": tolerance,
        "regressions": regressions,
        "passed": not regressions,
    }


def load_result(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != RESULT_FORMAT:
        raise ValueError(f"{path}: not a bastion eval result")
    return data
