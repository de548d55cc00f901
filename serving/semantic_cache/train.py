"""Train the semantic cache's pair verifier (verify.py) on the TUNING split only.

    .venv/bin/python -m serving.semantic_cache.train [--out serving/semantic_cache/verifier.json]

Data: bench/cache_data/tune.jsonl and tune2.jsonl (groups of a question, three paraphrases that
need the same answer, three near-misses that need another). The held-out split
(bench/cache_data/heldout.jsonl) is never read here.

Every group's question is cached; each paraphrase and near-miss is a query. A query's candidates
are its ``CANDIDATES`` nearest cached questions by cosine (the index's top-k, as at run time),
each through the real path: redaction, ``question_of`` (signature), the cache's in-process
MiniLM encoder (the injection guard's). A pair is positive when the query is a paraphrase
and the candidate its own group's question. The decision answers from the candidate with
the highest probability when it reaches the threshold.

Model choice: logistic regression; its regularization, the cosine floor and the probability
threshold are chosen by 5-fold cross-validation over groups (out-of-fold probabilities): the
largest hit rate on paraphrases with near-miss false hits and wrong-group hits each at most
``MAX_FALSE``. The final model is fitted on all tuning pairs; the threshold is the
cross-validated one. Deterministic (fixed folds, lbfgs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from serving.semantic_cache.keys import question_of
from serving.semantic_cache.terms import Question
from serving.semantic_cache.verify import FEATURES, WEIGHTS, Verifier, features

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "cache_data"
TUNING = ("tune.jsonl", "tune2.jsonl")
CANDIDATES = 8
MAX_FALSE = 0.01
FOLDS = 5
FLOORS = (0.3, 0.4, 0.5, 0.6, 0.7)
CS = (0.1, 0.3, 1.0, 3.0)


def load_groups(files: tuple[str, ...] = TUNING) -> list[dict[str, Any]]:
    groups = []
    for name in files:
        assert "heldout" not in name, "the held-out split is never used for training"
        groups += [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]
    return groups


def question_of_text(redactor: Any, text: str, max_tokens: int | None = None) -> Question:
    """A one-message chat request's :class:`Question` through the real path (redaction,
    ``question_of``), as the cache stage builds it."""
    from serving import protocol
    from serving.pipeline.state import RequestState, Route

    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    request = protocol.ChatCompletionRequest.model_validate(body)
    redaction = redactor.redact_messages([text], "bench")
    question = question_of(RequestState("b", Route.CHAT, request=request, redaction=redaction))
    assert question is not None
    return question


def prepare(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Questions and queries in their cached form: (signature, vector) through the real path."""
    from privacy import PrivacyConfig, Redactor
    from serving.semantic_cache.cache import _guard_encoder
    from serving.semantic_cache.verify import want_signatures

    want_signatures()
    redactor = Redactor(PrivacyConfig())
    encoder = _guard_encoder()  # the cache's own (``embed: ingress``)

    def cached_form(texts: list[str]) -> tuple[list[tuple[str, ...]], np.ndarray]:
        qs = [question_of_text(redactor, t) for t in texts]
        return [q.terms for q in qs], encoder.encode([" ".join(q.text.split()) for q in qs])

    q_sigs, q_vecs = cached_form([g["question"] for g in groups])
    queries: list[tuple[str, ...]] = []
    texts, group_of, para = [], [], []
    for i, g in enumerate(groups):
        for t in g["paraphrases"]:
            texts.append(t), group_of.append(i), para.append(True)
        for t in g["near_misses"]:
            texts.append(t), group_of.append(i), para.append(False)
    queries, vecs = cached_form(texts)
    return {
        "cached_sigs": q_sigs,
        "cached_vecs": q_vecs,
        "query_sigs": queries,
        "query_vecs": vecs,
        "group": np.asarray(group_of),
        "para": np.asarray(para),
    }


def pairs(data: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y, query index, candidate group)`` over every query's top-k candidates."""
    sims = data["query_vecs"] @ data["cached_vecs"].T
    X, y, qi, cg = [], [], [], []
    for i, row in enumerate(sims):
        for j in np.argsort(-row)[:CANDIDATES]:
            X.append(features(data["query_sigs"][i], data["cached_sigs"][j], float(row[j])))
            y.append(int(data["para"][i] and data["group"][i] == j))
            qi.append(i)
            cg.append(j)
    return np.asarray(X), np.asarray(y), np.asarray(qi), np.asarray(cg)


def fit(X: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, Any]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit((X - mean) / scale, y)
    return mean, scale, model


def decide(
    prob: np.ndarray, cos: np.ndarray, qi: np.ndarray, cg: np.ndarray, n: int, floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the best candidate's probability (-1 when none) and its group."""
    best = np.full(n, -1.0)
    group = np.full(n, -1)
    for p, c, q, g in zip(prob, cos, qi, cg, strict=True):
        if c >= floor and p > best[q]:
            best[q], group[q] = p, g
    return best, group


def rates(best: np.ndarray, group: np.ndarray, data: dict[str, Any], t: float) -> dict[str, float]:
    hit = best >= t
    para, own = data["para"], data["group"]
    return {
        "hit_rate": float(np.mean(hit[para] & (group[para] == own[para]))),
        "false_hit_rate": float(np.mean(hit[~para])),
        "wrong_group_rate": float(np.mean(hit[para] & (group[para] != own[para]))),
    }


def choose(
    prob: np.ndarray, X: np.ndarray, qi: np.ndarray, cg: np.ndarray, data: dict[str, Any]
) -> tuple[float, float, dict[str, float]]:
    """(floor, threshold, rates) with the largest hit rate under the false-hit limits."""
    n = len(data["para"])
    best: tuple[float, float, float, dict[str, float]] | None = None
    for floor in FLOORS:
        top, group = decide(prob, X[:, 0], qi, cg, n, floor)
        for t in np.unique(np.round(top[top >= 0], 4)):
            r = rates(top, group, data, float(t))
            if r["false_hit_rate"] > MAX_FALSE or r["wrong_group_rate"] > MAX_FALSE:
                continue
            if best is None or (r["hit_rate"], -t) > (best[0], -best[2]):
                best = (r["hit_rate"], floor, float(t), r)
    assert best is not None
    return best[1], best[2], best[3]


def cross_validate(
    X: np.ndarray, y: np.ndarray, qi: np.ndarray, cg: np.ndarray, data: dict[str, Any], c: float
) -> np.ndarray:
    groups = data["group"][qi]
    n_groups = int(data["group"].max()) + 1
    fold_of = np.arange(n_groups) % FOLDS  # fixed: group i in fold i mod 5
    prob = np.zeros(len(y))
    for k in range(FOLDS):
        test = fold_of[groups] == k
        mean, scale, model = fit(X[~test], y[~test], c)
        prob[test] = model.predict_proba((X[test] - mean) / scale)[:, 1]
    return prob


def main(out: Path) -> None:
    groups = load_groups()
    data = prepare(groups)
    X, y, qi, cg = pairs(data)
    results = []
    for c in CS:
        prob = cross_validate(X, y, qi, cg, data, c)
        floor, t, r = choose(prob, X, qi, cg, data)
        results.append((r["hit_rate"], -c, c, floor, t, r))
        print(json.dumps({"C": c, "floor": floor, "threshold": t, "cv": r}))
    _, _, c, floor, t, r = max(results)
    mean, scale, model = fit(X, y, c)
    meta = {
        "trained_on": list(TUNING),
        "groups": len(groups),
        "pairs": len(y),
        "C": c,
        "cv_folds": FOLDS,
        "cv_rates": r,
        "max_false": MAX_FALSE,
        "candidates": CANDIDATES,
    }
    verifier = Verifier(mean, scale, model.coef_[0], float(model.intercept_[0]), t, floor, meta)
    out.write_text(verifier.to_json() + "\n")
    print(json.dumps({"chosen": {"C": c, "floor": floor, "threshold": t, "cv": r}}))
    print("weights:", dict(zip(FEATURES, np.round(model.coef_[0], 2), strict=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    main(parser.parse_args().out)
