"""The shipped screen on the second held-out family, heldout_v2 (real MiniLM, in-process).

heldout_v2 was written by another author than the tuning set, the rules and the first held-out
family, without reading them, and committed before its first measurement (data/README.md). The
floors sit just below the figures bench/guardrails.py measured on it (rules, the embedding and
word/char n-gram head chosen by cross-validation on the tuning family, threshold 0.94), so that a
regression fails. They are floors, not targets (the issue's target, recall >= 0.90 at precision >=
0.95, is not met on this family by what ships: 0.867 at 0.968 with the int8 encoder; 0.905 at
0.969 with the fp32 one). The third tuning pass
added the *kinds* of attack an earlier report said this family's misses were (its texts stay
unread; data/README.md), so it is no longer blind on kinds. Never edit heldout_v2 or tune on it to
raise these figures; add a new family instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from policies.guardrails.classifier import load_classifier
from policies.guardrails.dataset import load_split
from policies.guardrails.rules import match_rules


@pytest.fixture(scope="module")
def predictions() -> dict[str, np.ndarray]:
    classifier = load_classifier()
    texts, labels = load_split("heldout_v2")
    scores = np.array([classifier.screen([t], rules=False).score for t in texts])
    rules = np.array([match_rules(t) is not None for t in texts])
    model = scores >= classifier.threshold
    return {"y": np.array(labels), "rules": rules, "model": model, "shipped": rules | model}


def _precision_recall(predicted: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    return tp / max(1, tp + fp), tp / int((y == 1).sum())


def test_the_family_has_its_size_and_labels(predictions) -> None:
    y = predictions["y"]
    assert len(y) == 227 and int(y.sum()) == 105  # 105 attacks, 122 benign


def test_shipped_screen_floor(predictions) -> None:
    precision, recall = _precision_recall(predictions["shipped"], predictions["y"])
    # measured 0.968 / 0.867 (91 tp, 3 fp, 14 fn; bench/guardrails.py 2026-12-06: int8 encoder
    # on onnxruntime, embedding and word/char n-gram head, threshold 0.94; the same head on the
    # fp32 encoder, threshold 0.92: 0.969 / 0.905). The embedding-only head of the fourth pass
    # gave 0.959 / 0.676, the third pass's (threshold 0.86) 0.963 / 0.752
    assert precision >= 0.95 and recall >= 0.84


def test_rules_only_floor(predictions) -> None:
    precision, recall = _precision_recall(predictions["rules"], predictions["y"])
    assert precision >= 0.92 and recall >= 0.58  # measured 0.955 / 0.600 (63 tp, 3 fp)


def test_classifier_only_floor(predictions) -> None:
    precision, recall = _precision_recall(predictions["model"], predictions["y"])
    assert precision >= 0.95 and recall >= 0.67  # measured 1.000 / 0.695 (73 tp, 0 fp)


def test_heldout_v2_shares_no_text_with_the_other_families() -> None:
    v2 = {t.lower() for t in load_split("heldout_v2")[0]}
    for split in ("tune", "heldout"):
        assert not v2 & {t.lower() for t in load_split(split)[0]}  # type: ignore[arg-type]
