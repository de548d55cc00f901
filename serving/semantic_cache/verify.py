"""The pair verifier: does a new question ask the same as a cached one, so its answer fits?

Cosine similarity of MiniLM embeddings alone cannot tell a rewording from a question with one
slot changed: the bundled model puts near-misses (``... for an adult?`` → ``... for a child?``)
up to 0.97 and true paraphrases down to 0.63 (bench/cache.py). The verifier is a logistic
regression over features of the pair, trained by serving/semantic_cache/train.py on the tuning
split only (bench/cache_data/tune*.jsonl) and shipped as verifier.json:

- the cosine similarity (and its square);
- content-word overlap after lemmatization (spaCy's bundled ``en_core_web_sm``): Jaccard, and
  per word class (nouns, verbs, adjectives/adverbs, numbers, prepositions, question words) the
  words one side has and the other lacks, and whether both sides lack one (a substitution);
- numbers, negations and placeholders that differ;
- the edit shape: how many runs of words differ in otherwise identical word sequences and the
  share of words kept (what the older edit guard used alone).

A question is kept only as its **signature**: per content word a 10-hex-digit digest of its
lemma and one letter for its class (``terms``), so no text is stored in an entry (the question
was redacted before; placeholders become their entity type).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from privacy.pseudonymize import PLACEHOLDER_RE
from serving.semantic_cache.lexicon import SYNONYMS, slot_of

__all__ = [
    "FEATURES",
    "WEIGHTS",
    "Verifier",
    "features",
    "load_verifier",
    "signature",
    "signature_if_wanted",
    "want_signatures",
]

WEIGHTS = Path(__file__).with_name("verifier.json")

_NEGATIONS = frozenset({"not", "n't", "no", "never", "without", "none", "nor", "cannot"})
_QUESTION = frozenset({"what", "which", "when", "where", "why", "how", "who", "whom", "whose"})
_SKIP_POS = frozenset({"PUNCT", "SPACE", "DET", "PRON", "AUX", "CCONJ", "SCONJ", "PART"})
_CLASS = {"NOUN": "N", "PROPN": "N", "VERB": "V", "ADJ": "A", "ADV": "A", "NUM": "D", "ADP": "P"}
CLASSES = "NVADPWGH"  # nouns, verbs, adj/adv, numbers, prepositions, wh-words, negation, ph.
_PH = re.compile(r"^xph([a-z]+)$")

_NLP: Any = None
_NLP_LOCK = threading.Lock()
_CALL_LOCK = threading.Lock()


def _nlp() -> Any:
    global _NLP
    with _NLP_LOCK:
        if _NLP is None:
            from privacy.analyzer import SPACY_MODEL
            from privacy.offline import configure_offline

            configure_offline()
            import importlib

            package = importlib.import_module(SPACY_MODEL)
            _NLP = package.load(exclude=["parser", "ner", "senter"])
        return _NLP


_WANTED = False


def want_signatures() -> None:
    """A cache of this process uses the verifier: questions get signatures from now on (and
    spaCy loads now, off the caller's thread, rather than on the first request). Without it the
    cache stage spends no time on them."""
    global _WANTED
    if not _WANTED:
        _WANTED = True
        threading.Thread(target=_nlp, daemon=False).start()


def signature_if_wanted(text: str) -> tuple[str, ...]:
    return signature(text) if _WANTED else ()


def _placeholder_word(match: re.Match[str]) -> str:
    for t in ("t1", "t3", "t2"):
        kind = match.group(t)
        if kind is not None:
            return " xph" + re.sub(r"[^a-z]", "", kind.lower()) + " "
    return " xph "


def _digest(lemma: str) -> str:
    return hashlib.sha256(lemma.encode()).hexdigest()[:10]


def _term(lemma: str, cls: str) -> str:
    """``digest(10) + class letter + slot letter`` (``-``: in no closed class)."""
    lemma = SYNONYMS.get(lemma, lemma)
    return _digest(lemma) + cls + (slot_of(lemma) or "-")


def signature(text: str) -> tuple[str, ...]:
    """The content words of a redacted question in order, each as ``digest + class letter``
    (see the module docstring); placeholders count as their entity type."""
    text = PLACEHOLDER_RE.sub(_placeholder_word, text)
    nlp = _nlp()
    with _CALL_LOCK:
        doc = nlp(text[:2000])
    out = []
    for tok in doc:
        lower = tok.lower_
        if lower in _NEGATIONS or tok.lemma_.lower() in _NEGATIONS:
            out.append(_term("not", "G"))
            continue
        if lower in _QUESTION:
            out.append(_term(lower, "W"))
            continue
        if _PH.match(lower):
            out.append(_term(lower, "H"))
            continue
        if tok.like_num:
            out.append(_term(lower.replace(",", ""), "D"))
            continue
        if tok.pos_ in _SKIP_POS or not any(c.isalnum() for c in lower):
            continue
        lemma = tok.lemma_.lower() or lower
        if lower in SYNONYMS or slot_of(lower) is not None:
            lemma = lower  # the lexicon's own form (``lost``, ``savings``)
        out.append(_term(lemma, _CLASS.get(tok.pos_, "X")))
    return tuple(out)


def _split(sig: Sequence[str]) -> dict[str, set[str]]:
    """Digests by word class, and by closed class under ``"slot:" + code``. Terms of another
    format (entries stored by an older version) are ignored: such a pair shares nothing, and
    the verifier refuses it."""
    by: dict[str, set[str]] = {c: set() for c in CLASSES + "X"}
    for term in sig:
        if len(term) == 12:
            by.setdefault(term[10], set()).add(term[:10])
            if term[11] != "-":
                by.setdefault("slot:" + term[11], set()).add(term[:10])
    return by


FEATURES = (
    "cos",
    "cos2",
    "jaccard",
    "content_jaccard",
    "q_only_share",
    "c_only_share",
    *(f"{side}_only_{c}" for c in "NVAP" for side in ("q", "c")),
    *(f"subst_{c}" for c in "NVAP"),
    "subst_any",
    "numbers_differ",
    "negation_differs",
    "placeholders_differ",
    "wh_differs",
    "slot_conflict",
    "slot_one_side",
    "slot_changed",
    "query_adds_only",
    "query_drops_only",
    "overlap_x_wh",
    "overlap_x_slot",
    "overlap_x_adds",
    "edit_runs",
    "edit_shared",
    "slot_edit",
    "length_ratio",
)


def features(query: Sequence[str], cached: Sequence[str], cos: float) -> np.ndarray:
    """The feature vector of one (query, cached question) pair (order: ``FEATURES``). Only
    signature terms count (12 characters; a question's ``terms`` also hold the edit guard's
    10-character word digests)."""
    query = [t for t in query if len(t) == 12]
    cached = [t for t in cached if len(t) == 12]
    q, c = _split(query), _split(cached)
    q_all = set().union(*q.values())
    c_all = set().union(*c.values())
    content = "NVAD"
    q_con = set().union(*(q[k] for k in content))
    c_con = set().union(*(c[k] for k in content))
    union = q_all | c_all
    f: list[float] = [
        cos,
        cos * cos,
        len(q_all & c_all) / len(union) if union else 1.0,
        len(q_con & c_con) / len(q_con | c_con) if q_con | c_con else 1.0,
        len(q_con - c_all) / max(1, len(q_con)),
        len(c_con - q_all) / max(1, len(c_con)),
    ]
    only = {}
    for k in "NVAP":
        only[k] = (len(q[k] - c_all), len(c[k] - q_all))
        f += [min(3.0, only[k][0]), min(3.0, only[k][1])]
    for k in "NVAP":
        f.append(float(only[k][0] > 0 and only[k][1] > 0))
    f.append(float(bool(q_con - c_all) and bool(c_con - q_all)))
    f.append(float(q["D"] != c["D"]))
    f.append(float(sum(t[10:] == "G" for t in query) != sum(t[10:] == "G" for t in cached)))
    f.append(float(q["H"] != c["H"]))
    f.append(float(q["W"] != c["W"]))
    slots = {k for k in (*q, *c) if k.startswith("slot:")}
    conflict = one_side = changed = 0
    for k in slots:
        qs, cs = q.get(k, set()), c.get(k, set())
        q_new, c_new = qs - c_all, cs - q_all
        changed += len(q_new) + len(c_new)
        if q_new and c_new:
            conflict += 1
        elif (q_new and not cs) or (c_new and not qs):
            one_side += 1
    f += [min(2.0, conflict), min(2.0, one_side), min(4.0, changed)]
    adds, drops = bool(q_con - c_all), bool(c_con - q_all)
    overlap = f[3]
    f += [
        float(adds and not drops),
        float(drops and not adds),
        overlap * float(q["W"] != c["W"]),
        overlap * float(conflict + one_side > 0),
        overlap * float(adds != drops),
    ]
    runs, shared = _edit(query, cached)
    f += [min(6.0, runs), shared, float(0 < runs <= 2 and shared >= 0.6)]
    f.append(min(len(query), len(cached)) / max(1, len(query), len(cached)))
    return np.asarray(f, dtype=np.float64)


def _edit(new: Sequence[str], cached: Sequence[str]) -> tuple[int, float]:
    """``(changed runs, shared share of the shorter)`` of two word sequences."""
    if not new or not cached:
        return 0, 0.0
    matcher = difflib.SequenceMatcher(None, list(new), list(cached), autojunk=False)
    runs = shared = 0
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            shared += i2 - i1
        else:
            runs += 1
    return runs, shared / min(len(new), len(cached))


@dataclass(frozen=True)
class Verifier:
    """Logistic regression over :func:`features` (standardized); ``threshold`` is the least
    probability for a hit, ``floor`` the least cosine for a candidate (both chosen on the
    tuning split by train.py)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    floor: float
    meta: dict[str, Any]

    def probability(self, query: Sequence[str], cached: Sequence[str], cos: float) -> float:
        """0 when either side has no signature (an entry stored before the verifier existed:
        it is never served by it)."""
        if not any(len(t) == 12 for t in query) or not any(len(t) == 12 for t in cached):
            return 0.0
        z = (features(query, cached, cos) - self.mean) / self.scale
        logit = float(z @ self.coef + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def to_json(self) -> str:
        return json.dumps(
            {
                "features": list(FEATURES),
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(),
                "coef": self.coef.tolist(),
                "intercept": self.intercept,
                "threshold": self.threshold,
                "floor": self.floor,
                "meta": self.meta,
            },
            indent=1,
        )


@cache
def load_verifier(path: Path = WEIGHTS) -> Verifier:
    """The shipped verifier (raises when its features do not match this code's)."""
    data = json.loads(path.read_text())
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path} was trained on other features; rerun train.py")
    return Verifier(
        np.asarray(data["mean"]),
        np.asarray(data["scale"]),
        np.asarray(data["coef"]),
        float(data["intercept"]),
        float(data["threshold"]),
        float(data["floor"]),
        dict(data.get("meta", {})),
    )
