"""Each field of the pipeline's RequestState is written by the one stage that owns it (read from
the source): the driver only builds the state, no module writes another stage's fields."""

from __future__ import annotations

import ast
import dataclasses
from collections import defaultdict
from pathlib import Path

from serving.pipeline.state import RequestState

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *ROOT.glob("serving/pipeline/*.py"),
    *ROOT.glob("serving/http/*.py"),
    ROOT / "serving/openapi.py",
    *ROOT.glob("serving/batch/*.py"),  # the Batch API's in-process driver
]
NAMES = {"state", "st"}  # what the pipeline and the routes call a RequestState

OWNERS = {
    # a batch line is authenticated by the key that created the job (serving/batch/worker.py)
    "principal": {"serving/pipeline/authenticate.py", "serving/batch/worker.py"},
    "key_id_attempted": {"serving/pipeline/authenticate.py"},
    # route.py's select stage puts the rendered prompt template first, before redaction
    "request": {"serving/pipeline/validate.py", "serving/pipeline/route.py"},
    "redaction": {"serving/pipeline/redact.py"},
    "decision": {"serving/pipeline/decide.py"},
    "alias_version": {"serving/pipeline/route.py"},
    "variant": {"serving/pipeline/route.py"},
    "prompt_version": {"serving/pipeline/route.py"},
    "model": {"serving/pipeline/route.py"},
    "cache": {"serving/pipeline/cache.py"},
    "reservation": {"serving/pipeline/usage.py"},
    "spent": {"serving/pipeline/usage.py"},
    "upstream": {"serving/pipeline/generate.py"},
    "first_item": {"serving/pipeline/generate.py"},
    "first_token_at": {"serving/pipeline/generate.py"},
    "usage": {"serving/pipeline/generate.py"},
    "output_redactions": {"serving/pipeline/output_redaction.py"},
    "output_degraded": {"serving/pipeline/output_redaction.py"},
    "guardrails": {
        "serving/pipeline/input_guard.py",
        "serving/pipeline/output_guard.py",
        "serving/pipeline/structured.py",
    },
    "guard_detail": {"serving/pipeline/input_guard.py", "serving/pipeline/output_guard.py"},
    "output": {"serving/pipeline/restore.py"},
    "result": {"serving/pipeline/action.py"},
    # the action stage's work: the facts a recorded route reports (admin, audit API, OpenAPI)
    "detail": {
        "serving/http/admin.py",
        "serving/http/audit.py",
        "serving/openapi.py",
        "serving/http/feedback.py",  # POST /v1/feedback: the rated request's id, the rating
        "serving/http/batch.py",  # the Batch API's routes, and its worker's ids per line
        "serving/batch/worker.py",
    },
    "outcome": {"serving/pipeline/audit.py"},
}
_MUTATORS = {"append", "extend", "update", "clear", "pop", "insert", "setdefault"}


def _field(node: ast.AST) -> str | None:
    named = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    return node.attr if named and node.value.id in NAMES else None  # type: ignore[attr-defined]


def _writes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for path in SOURCES:
        if not path.is_file():
            continue
        module = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[ast.AST] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _MUTATORS
            ):
                targets = [node.func.value]
            for target in targets:
                for part in target.elts if isinstance(target, ast.Tuple) else [target]:
                    name = _field(part)
                    if name is not None:
                        found[name].add(module)
    return found


def test_every_field_has_its_owner_listed():
    fields = {f.name for f in dataclasses.fields(RequestState)}
    driver = {
        "request_id", "route", "origin", "bearer", "purpose", "correlation_id", "read_body",
        "wall_start", "started", "cache_control", "end_user",
    }  # fmt: skip
    assert set(OWNERS) | driver == fields


def test_only_the_owner_writes_a_field():
    writes = _writes()
    assert writes, "the scan finds the stages' writes"
    for field, modules in writes.items():
        assert field in OWNERS, f"{field} (set at construction) written by {sorted(modules)}"
        assert modules <= OWNERS[field], f"{field} written by {sorted(modules - OWNERS[field])}"
