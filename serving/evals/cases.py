"""Eval cases: one JSON object per line.

``{"id", "messages", "expected"?, "checks"?, "tags"?, "identifiers"?, "max_tokens"?,
"temperature"?, "response_format"?}``. Without ``checks``, a case with ``expected`` is checked
by similarity to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["CHECK_TYPES", "EvalCase", "EvalSetError", "dump_cases", "load_cases"]

CHECK_TYPES = (
    "exact",
    "contains",
    "regex",
    "json_schema",
    "no_identifier_leak",
    "refusal",
    "max_latency_ms",
    "max_cost",
    "similarity",
)


class EvalSetError(ValueError):
    """An eval set file that cannot be read; the message names the line."""


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    messages: list[dict[str, Any]] = Field(min_length=1)
    expected: str | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    identifiers: list[str] = Field(
        default_factory=list, description="Known identifiers in the case (no_identifier_leak)."
    )
    max_tokens: int = Field(64, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0, le=2)
    response_format: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _checks(self) -> EvalCase:
        if not self.checks and self.expected is not None:
            self.checks = [{"type": "similarity"}]
        if not self.checks:
            raise ValueError("a case needs checks or an expected answer")
        for check in self.checks:
            if check.get("type") not in CHECK_TYPES:
                raise ValueError(f"unknown check type {check.get('type')!r}")
        return self


def load_cases(path: Path) -> list[EvalCase]:
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            case = EvalCase.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            raise EvalSetError(f"{path}:{n}: {exc}") from None
        if case.id in seen:
            raise EvalSetError(f"{path}:{n}: duplicate case id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise EvalSetError(f"{path}: no cases")
    return cases


def dump_cases(cases: list[EvalCase], path: Path) -> None:
    lines = [c.model_dump_json(exclude_defaults=True) for c in cases]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
