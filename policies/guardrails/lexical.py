"""Lexical features of the injection classifier: TF-IDF of word and character n-grams.

The embedding alone places "ignore the previous instructions" close to "ignore the previous lab
result"; the words and their spelling separate them better. Two vocabularies are learned by
``train.py`` on the tuning family (scikit-learn's ``TfidfVectorizer``): words (lower-cased runs of
two or more word characters) as unigrams and bigrams, and characters (3 to 5, inside each
space-padded word, ``char_wb``), both with sublinear term frequency, idf weights and L2
normalization per vocabulary. Their terms, idf weights and the logistic regression's
coefficients ship in ``weights.npz``; this module computes the same vectors without
scikit-learn at serving time (``tests/policies/guardrails/test_lexical.py`` checks the analyzers
against scikit-learn's, and training checks the scores end to end before writing the file).
A window's lexical logit is the dot product of its two normalized vectors with their
coefficients; the classifier adds it to the embedding's logit.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

__all__ = ["LexicalScorer", "char_wb_ngrams", "word_ngrams"]

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s\s+")
WORD_RANGE = (1, 2)
CHAR_RANGE = (3, 5)


def word_ngrams(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams (scikit-learn's ``word`` analyzer, (1, 2))."""
    tokens = _TOKEN.findall(text.lower())
    out = list(tokens)
    out += [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    return out


def char_wb_ngrams(text: str) -> list[str]:
    """Character 3- to 5-grams inside space-padded words (scikit-learn's ``char_wb``)."""
    out: list[str] = []
    low, high = CHAR_RANGE
    for word in _SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            offset = 0
            out.append(padded[offset : offset + n])
            while offset + n < size:
                offset += 1
                out.append(padded[offset : offset + n])
            if offset == 0:  # the word is shorter than n: counted once
                break
    return out


class _Vocabulary:
    def __init__(self, terms: Iterable[str], idf: np.ndarray, coef: np.ndarray) -> None:
        self.index = {term: i for i, term in enumerate(terms)}
        self.idf = idf.astype(np.float64)
        self.coef = coef.astype(np.float64)

    def logit(self, grams: list[str]) -> float:
        counts = Counter(i for i in map(self.index.get, grams) if i is not None)
        if not counts:
            return 0.0
        norm = 0.0
        dot = 0.0
        for i, tf in counts.items():
            value = (1.0 + math.log(tf)) * self.idf[i]
            norm += value * value
            dot += value * self.coef[i]
        return dot / math.sqrt(norm)


class LexicalScorer:
    """The lexical part of a window's logit (no bias: the classifier holds it)."""

    def __init__(
        self,
        word: tuple[Iterable[str], np.ndarray, np.ndarray],
        char: tuple[Iterable[str], np.ndarray, np.ndarray],
    ) -> None:
        self.word = _Vocabulary(*word)
        self.char = _Vocabulary(*char)

    def logits(self, texts: list[str]) -> np.ndarray:
        return np.array(
            [self.word.logit(word_ngrams(t)) + self.char.logit(char_wb_ngrams(t)) for t in texts],
            dtype=np.float64,
        )

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> LexicalScorer | None:
        """From ``weights.npz``'s arrays (an ``NpzFile`` or a dict), or None when they have no
        lexical part."""
        if "word_terms" not in data:
            return None
        return cls(
            (data["word_terms"].tolist(), data["word_idf"], data["word_coef"]),
            (data["char_terms"].tolist(), data["char_idf"], data["char_coef"]),
        )
