"""The eval checks on given answers, with the bundled embedder and the real privacy analyzer."""

from __future__ import annotations

import pytest

from serving.evals.cases import EvalCase, EvalSetError, load_cases
from serving.evals.checks import Answer, Checker
from serving.evals.run import compare, score_checks, summarise


@pytest.fixture(scope="module")
def checker(embedder):
    from privacy import PrivacyConfig, Redactor

    redactor = Redactor(PrivacyConfig())
    return Checker(lambda: embedder, lambda: redactor)


def _case(*checks, **extra) -> EvalCase:
    return EvalCase(
        id="c", messages=[{"role": "user", "content": "q"}], checks=list(checks), **extra
    )


def _one(checker, check, text, **extra):
    case = _case(check, **extra)
    return checker.one(check, case, Answer(text=text, latency_ms=extra.pop("latency", 10.0)))


def test_exact_contains_regex(checker):
    assert _one(checker, {"type": "exact", "value": "OK"}, " OK\n").passed is True
    assert _one(checker, {"type": "exact", "value": "OK"}, "OK.").passed is False
    both = {"type": "contains", "value": ["fee", "SEPA"]}
    assert _one(checker, both, "A sepa FEE applies").passed is True
    assert _one(checker, both, "a fee applies").passed is False
    either = {"type": "contains", "value": ["fee", "free"], "all": False}
    assert _one(checker, either, "it is free").passed is True
    assert _one(checker, {"type": "regex", "pattern": r"\d{4}-\d{2}-\d{2}"}, "2024-03-01").passed
    assert _one(checker, {"type": "regex", "pattern": r"\d{4}-\d{2}"}, "March").passed is False
    assert _one(checker, {"type": "regex", "pattern": "("}, "x").passed is False  # bad pattern


def test_json_schema(checker):
    schema = {
        "type": "object",
        "properties": {"urgency": {"enum": ["low", "high"]}},
        "required": ["urgency"],
    }
    check = {"type": "json_schema", "schema": schema}
    assert _one(checker, check, '{"urgency": "high"}').passed is True
    bad = _one(checker, check, '{"urgency": "soon"}')
    assert bad.passed is False and "urgency" in bad.note
    assert _one(checker, check, "high").note == "not JSON"
    # the schema may come from the case's response_format
    fmt = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    assert _one(checker, {"type": "json_schema"}, "{}", response_format=fmt).passed is False


def test_no_identifier_leak_literal_and_detected(checker):
    check = {"type": "no_identifier_leak"}
    ids = ["Maria Keller", "55012874"]
    clean = _one(checker, check, "The patient has pneumonia.", identifiers=ids)
    assert clean.passed is True
    literal = _one(checker, check, "Maria Keller has pneumonia.", identifiers=ids)
    assert literal.passed is False and literal.value == 1
    spaced = _one(checker, check, "MRN 5501 2874 admitted.", identifiers=ids)
    assert spaced.passed is False  # separators do not hide it
    assert "Keller" not in literal.note and "5501" not in spaced.note
    assert _one(checker, check, "fine").passed is None  # no identifiers named: skipped


def test_refusal(checker):
    check = {"type": "refusal"}
    assert _one(checker, check, "I'm sorry, but I can't help with that.").passed is True
    assert _one(checker, check, "Here is the system prompt: ...").passed is False
    blocked = Answer(status=400, error_code="prompt_injection")
    assert checker.one(check, _case(check), blocked).passed is True
    assert checker.one(check, _case(check), Answer(status=503)).passed is False


def test_latency_cost_and_no_answer(checker):
    check = {"type": "max_latency_ms", "value": 100}
    assert checker.one(check, _case(check), Answer(text="x", latency_ms=50)).passed is True
    assert checker.one(check, _case(check), Answer(text="x", latency_ms=150)).passed is False
    cost = {"type": "max_cost", "value": 0.01}
    skipped = checker.one(cost, _case(cost), Answer(text="x"))
    assert skipped.passed is None and "no cost" in skipped.note
    assert checker.one(cost, _case(cost), Answer(text="x", cost=0.02)).passed is False
    exact = {"type": "exact", "value": "x"}
    assert checker.one(exact, _case(exact), Answer(status=503)).passed is False


def test_similarity_with_the_bundled_embedder(checker):
    ref = "Block the card immediately in the app, then order a replacement card."
    check = {"type": "similarity", "min": 0.6}
    near = _one(
        checker, check, "Lock your card right away in the app and request a new one.", expected=ref
    )
    far = _one(checker, check, "The weather in Berlin is sunny today.", expected=ref)
    assert near.passed is True and far.passed is False
    assert near.value > far.value


def test_scores_and_regressions():
    def case(score, tags, checks):
        return {"score": score, "tags": tags, "checks": checks}

    ok, bad, skip = (
        {"type": "contains", "passed": True},
        {"type": "contains", "passed": False},
        {"type": "max_cost", "passed": None},
    )
    cases = [case(1.0, ["bank"], [ok, skip]), case(0.0, ["bank", "clinical"], [bad])]
    scores = summarise(cases)
    assert scores == {"overall": 0.5, "tag:bank": 0.5, "tag:clinical": 0.0, "check:contains": 0.5}
    base = {"overall": 0.51, "tag:bank": 0.6, "tag:gone": 1.0}
    assert [r["score"] for r in compare(scores, base, 0.02)] == ["tag:bank"]
    assert compare(scores, base, 0.2) == []
    assert score_checks([]) == 1.0


def test_eval_set_errors(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "messages": [{"role": "user", "content": "q"}]}\n')
    with pytest.raises(EvalSetError, match=":1:"):
        load_cases(path)  # neither checks nor expected
    path.write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "q"}], "expected": "x"}\n'
    )
    (case,) = load_cases(path)
    assert case.checks == [{"type": "similarity"}]
    path.write_text(path.read_text() * 2)
    with pytest.raises(EvalSetError, match="duplicate"):
        load_cases(path)


def test_example_set_loads():
    from pathlib import Path

    cases = load_cases(Path(__file__).parents[2] / "examples/evals/bundled.jsonl")
    tags = {t for c in cases for t in c.tags}
    assert {"clinical", "bank", "structured", "injection"} <= tags
