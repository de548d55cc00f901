"""Eval sets as a release gate (docs/evals.md): JSONL cases run through the full pipeline
(in-process or against a server), scored per check, compared with a baseline result."""

from serving.evals.cases import EvalCase, load_cases
from serving.evals.gate import passed

__all__ = ["EvalCase", "load_cases", "passed"]
