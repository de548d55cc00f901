"""The injection classifier: pattern rules plus logistic regression on MiniLM sentence embeddings
and on word and character n-grams (lexical.py).

A text longer than ``WINDOW_WORDS`` words is split into windows of whole sentences (see
:func:`windows`) so an instruction buried in a long retrieved document is scored on its own;
a request's windows are embedded in one batch, at most ``MAX_WINDOWS`` of them (when a request
has more, the windows with the most instruction cue words are kept; the rules always read every
text whole). The score of a request is the highest window probability, or 1.0 when a rule
matches. The weights and the shipped threshold are ``weights.npz`` and ``meta.json``, written by
``python -m policies.guardrails.train``; ``meta.json``'s ``quantized`` says which encoder the
weights were trained on (true: the int8 encoder, see encoder.py), and the shipped classifier
embeds with that one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policies.guardrails.encoder import SentenceEncoder, shared_encoder
from policies.guardrails.lexical import LexicalScorer
from policies.guardrails.rules import match_rules

__all__ = [
    "MAX_WINDOWS",
    "InjectionClassifier",
    "Screening",
    "load_classifier",
    "windows",
]

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "weights.npz"
META = HERE / "meta.json"
WINDOW_WORDS = 48
SENTENCE_WINDOW_WORDS = 24
OVERLAP_WORDS = 8
MAX_WINDOWS = 16

_SENTENCE = re.compile(r"(?<=[.!?:;])\s+|\n+")
_CUES = re.compile(
    r"\b(?:ignore|disregard|forget|instructions?|system|prompt|rules?|assistant|ai|model|"
    r"reveal|override|pretend|act|you|developer|admin|mode|must|now)\b",
    re.IGNORECASE,
)


def windows(text: str) -> list[str]:
    """``text`` as one window when it has at most WINDOW_WORDS words; a longer text as windows
    of whole sentences up to SENTENCE_WINDOW_WORDS words (a longer sentence is cut into pieces
    of that size overlapping by OVERLAP_WORDS), so a short instruction inside a long document
    is not diluted by the text around it."""
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [" ".join(words)] if words else []
    out: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE.split(text):
        sw = sentence.split()
        if not sw:
            continue
        if len(current) + len(sw) > SENTENCE_WINDOW_WORDS and current:
            out.append(" ".join(current))
            current = []
        if len(sw) > SENTENCE_WINDOW_WORDS:
            step = SENTENCE_WINDOW_WORDS - OVERLAP_WORDS
            for i in range(0, len(sw) - OVERLAP_WORDS, step):
                out.append(" ".join(sw[i : i + SENTENCE_WINDOW_WORDS]))
        else:
            current += sw
    if current:
        out.append(" ".join(current))
    return out


@dataclass(frozen=True)
class Screening:
    """The verdict input for one request: the score in [0, 1] and the rule that matched, if any."""

    score: float
    rule: str | None


class InjectionClassifier:
    """Scores texts for prompt injection. Thread-safe; the encoder is shared per process."""

    def __init__(
        self,
        weights: np.ndarray,
        bias: float,
        threshold: float,
        encoder: SentenceEncoder | None = None,
        lexical: LexicalScorer | None = None,
    ) -> None:
        self.weights = weights.astype(np.float32)
        self._weights64 = self.weights.astype(np.float64)  # scoring is in float64, as trained
        self.bias = float(bias)
        self.threshold = float(threshold)
        self.encoder = encoder or shared_encoder()
        self.lexical = lexical

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """The model's probability of injection for each text (one window each)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.probabilities_of(texts, self.encoder.encode(texts))

    def probabilities_of(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """The same, from the texts' vectors (training computes them once for all folds)."""
        logits = vectors.astype(np.float64) @ self._weights64 + self.bias
        if self.lexical is not None:
            logits = logits + self.lexical.logits(texts)
        return 1.0 / (1.0 + np.exp(-logits))

    def screen(self, texts: list[str], rules: bool = True) -> Screening:
        """Score a request's screened texts (user messages, tool results, content parts)."""
        if rules:
            for text in texts:
                rule = match_rules(text)
                if rule is not None:
                    return Screening(1.0, rule)
        parts = [w for text in texts for w in windows(text)]
        if len(parts) > MAX_WINDOWS:
            ranked = sorted(range(len(parts)), key=lambda i: -len(_CUES.findall(parts[i])))
            parts = [parts[i] for i in sorted(ranked[:MAX_WINDOWS])]
        probs = self.probabilities(parts)
        return Screening(float(probs.max()) if len(probs) else 0.0, None)


def load_classifier(
    weights: Path = WEIGHTS, meta: Path = META, encoder: SentenceEncoder | None = None
) -> InjectionClassifier:
    """The shipped classifier (fails loudly when its files are missing: screening fails closed)."""
    with np.load(weights) as data:
        w, b = data["weights"], float(data["bias"])
        lexical = LexicalScorer.from_arrays(data)
    record = json.loads(meta.read_text())
    quantized = bool(record.get("quantized", False))
    if encoder is not None and encoder.quantized != quantized:
        kind = "int8" if quantized else "fp32"
        raise ValueError(f"the weights were trained on the {kind} encoder")
    encoder = encoder or shared_encoder(quantized)
    return InjectionClassifier(w, b, float(record["threshold"]), encoder, lexical)
