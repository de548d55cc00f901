"""Person names found with a first-name / surname lexicon, in any letter case and without cues.

spaCy's small model misses names it has no context for: at the start of a sentence, in
upper or lower case, in "Last, First" order, inside JSON. This recognizer reads word pairs:

- ``First Last`` (title case): the first word is a known first name; the next word is a
  capitalized word that is not a stop word, an organisation word or a street suffix. A first
  name that is also a common English word ("Will", "Rose") needs a known surname after it.
- ``JOHN SMITH`` / ``john smith``: both words must be in the lexicon (first name that is not a
  common word, surname that is frequent or not a common word).
- ``Okonkwo-Lindqvist, Marguerite``: a capitalized word, a comma, then a known first name.

A third name word, a middle initial and Jr./Sr./II/III extend the span. The word lists and
their provenance are in ``name_lists/`` (SOURCE.md).
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from privacy.recognizers.base import tagged_result
from privacy.recognizers.lexicon import (
    AU_STATE,
    CA_PROVINCE,
    LEXICON_WORDS,
    NAME_STOP,
    ORG_SUFFIX,
    ORG_WORDS,
    STATES_AND_COUNTRIES,
)

__all__ = [
    "NameLexicon",
    "PersonLexiconRecognizer",
    "english_lemmas",
    "is_english_word",
    "name_lexicon",
    "plausible_single_name",
    "validate_person_cased",
    "validate_person_in_context",
]

# A frequent surname may also be a common word ("Brown", "Young"): it still counts in lower case.
_FREQUENT_SURNAME_RANK = 3000
_MONTHS_DAYS = frozenset(LEXICON_WORDS["months_days"].split())
# Function words and frequent words that the census lists contain as names.
_FUNCTION = frozenset(LEXICON_WORDS["function_words"].split())
_WORD = regex.compile(r"[A-Za-z][A-Za-z'\u2019-]{0,40}")
_INITIAL = regex.compile(r"[ \t]{1,2}([A-Z])\.?[ \t]{1,2}")
_TRAIL_INITIAL = regex.compile(r"[ \t]{1,2}[A-Z]\.?(?![\w])")
_GAP = regex.compile(r"[ \t]{1,2}")
_COMMA_GAP = regex.compile(r",[ \t]{1,2}")
_GENERATION = regex.compile(r"(?:,?[ \t]{1,2}(?:Jr|Sr|JR|SR|jr|sr)\.?|[ \t](?:II|III|IV))(?![\w])")


class NameLexicon:
    """First names, surnames (by census frequency rank) and common English words."""

    def __init__(self) -> None:
        root = resources.files(__package__).joinpath("name_lists")

        def lines(name: str) -> list[str]:
            text = root.joinpath(name).read_text("utf-8")
            return [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]

        self.first = frozenset(lines("first.txt") + lines("first_extra.txt"))
        self.surname_rank = {w: i for i, w in enumerate(lines("last.txt"))}
        self.common = frozenset(lines("common_words.txt"))
        self.block = (
            NAME_STOP
            | _MONTHS_DAYS
            | _FUNCTION
            | ORG_WORDS
            | STATES_AND_COUNTRIES
            | frozenset(w.lower() for w in ORG_SUFFIX.split("|"))
            | frozenset(w.lower() for w in (AU_STATE + "|" + CA_PROVINCE).split("|"))
        )

    def is_first(self, word: str, *, strict: bool) -> bool:
        """A known first name; ``strict``: and not also a common English word."""
        w = _fold(word)
        if w in self.block or w not in self.first:
            return False
        return not (strict and w in self.common)

    def is_surname(self, word: str, *, strict: bool) -> bool:
        """A known surname; ``strict``: frequent, or not also a common English word."""
        w = _fold(word)
        if w in self.block:
            return False
        rank = self.surname_rank.get(w)
        if rank is None:
            return False
        return not strict or rank < _FREQUENT_SURNAME_RANK or w not in self.common

    def is_name_like(self, word: str) -> bool:
        """A capitalized word that could be part of a name (not a stop, org or place word)."""
        w = _fold(word)
        return w not in self.block and len(w) >= 2

    def is_uncommon(self, word: str) -> bool:
        """Not a common English word (each part of a hyphenated word)."""
        return all(p not in self.common and p not in self.block for p in _fold(word).split("-"))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """A word without a possessive ("Carter's") or trailing apostrophes and hyphens."""
    if end - start > 3 and text[end - 2 : end] in ("'s", "\u2019s"):
        end -= 2
    while end > start + 1 and text[end - 1] in "'\u2019-":
        end -= 1
    return start, end


def _fold(word: str) -> str:
    """Lower case, no apostrophes, no accents ("Geneviève" -> "genevieve")."""
    w = word.lower().replace("\u2019", "").replace("'", "")
    if not w.isascii():
        w = "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
    return w


@cache
def english_lemmas() -> frozenset[str]:
    """English base words (WordNet's index, as shipped in the bundled spaCy model's lemmatizer
    tables); empty if the model has none. Used to tell "Background" from "Bakare"."""
    import importlib
    from pathlib import Path

    from spacy.lookups import Lookups

    from privacy.analyzer import SPACY_MODEL

    root = Path(importlib.import_module(SPACY_MODEL).__file__ or "").parent
    for path in root.glob("*/lemmatizer/lookups"):
        index = Lookups().from_disk(path).get_table("lemma_index")
        return frozenset(w for words in index.values() for w in words if w.isalpha())
    return frozenset()


_INFLECTIONS = ("ing", "ed", "es", "s", "ly", "er", "est")


def is_english_word(word: str) -> bool:
    """``word`` or a crude stem of it (-ing, -ed, -s, -ly...) is an English base word."""
    w = _fold(word)
    lemmas = english_lemmas()
    if w in lemmas:
        return True
    for suffix in _INFLECTIONS:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            stem = w[: -len(suffix)]
            if stem in lemmas or stem + "e" in lemmas or stem[:-1] in lemmas:
                return True
    return False


def plausible_single_name(word: str) -> bool:
    """A one-word name candidate: a known first name or frequent surname, or a word that is
    not an English word ("Scott", "Okafor" yes; "Background", "Discussed" no)."""
    lex = name_lexicon()
    if not lex.is_name_like(word):
        return False
    if lex.is_first(word, strict=False) or lex.is_surname(word, strict=True):
        return True
    return not is_english_word(word)


@cache
def name_lexicon() -> NameLexicon:
    """The shared lexicon (loaded once)."""
    return NameLexicon()


def _case(word: str) -> str:
    letters = word.replace("'", "").replace("\u2019", "").replace("-", "")
    if letters.isupper():
        return "upper" if len(letters) >= 2 else "initial"
    if letters.islower():
        return "lower"
    return "title" if word[0].isupper() else "mixed"


class PersonLexiconRecognizer(EntityRecognizer):
    """Finds person names from the lexicon (see the module docstring)."""

    def __init__(self, score: float = 0.7) -> None:
        super().__init__(supported_entities=["PERSON"], name="person_lexicon")
        self.score = score
        self.lex = name_lexicon()

    def load(self) -> None:
        """The lexicon is loaded by the constructor."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """PERSON spans for the name pairs in ``text``."""
        if "PERSON" not in entities:
            return []
        words = [_trim(text, m.start(), m.end()) for m in _WORD.finditer(text)]
        first = self.lex.first
        spans: list[tuple[int, int]] = []
        for i in range(len(words) - 1):
            a0, a1 = words[i]
            # Every rule needs a known first name here, or a comma after a capitalized word.
            if _fold(text[a0:a1]) in first:
                span = self._pair(text, words, i) or self._last_first(text, words, i)
            elif text.startswith(",", a1) and text[a0].isupper():
                span = self._last_first(text, words, i)
            else:
                continue
            if span is not None and not (spans and span[1] <= spans[-1][1]):
                spans.append(span)
        return [self._result(start, end) for start, end in spans]

    # -- rules -------------------------------------------------------------------------------
    def _pair(self, text: str, words: list[tuple[int, int]], i: int) -> tuple[int, int] | None:
        a0, a1 = words[i]
        if a0 > 0 and (text[a0 - 1].isalnum() or text[a0 - 1] in "@._/"):
            return None
        a = text[a0:a1]
        j = i + 1
        gap = text[a1 : words[j][0]]
        if _INITIAL.fullmatch(gap + text[words[j][0] : words[j][1]] + " ") and j + 1 < len(words):
            j += 1  # "John Q. Public": skip the initial
            gap = text[words[j - 1][1] : words[j][0]]
        elif not _GAP.fullmatch(gap):
            return None
        b0, b1 = words[j]
        b = text[b0:b1]
        ca, cb = _case(a), _case(b)
        lex = self.lex
        if ca == "title" and cb in ("title", "upper"):
            if not lex.is_name_like(b) or not lex.is_first(a, strict=False):
                return None
            if not lex.is_first(a, strict=True) and not (
                lex.is_surname(b, strict=True) or lex.is_uncommon(b)
            ):
                return None  # "Rose Garden" is not a name, "Rose Okafor" is
        elif ca == cb and ca in ("upper", "lower"):
            if not (lex.is_first(a, strict=True) and lex.is_surname(b, strict=True)):
                return None
        else:
            return None
        end = b1
        if j + 1 < len(words) and _GAP.fullmatch(text[b1 : words[j + 1][0]]):
            c = text[words[j + 1][0] : words[j + 1][1]]
            if _case(c) == cb and lex.is_surname(c, strict=True):
                end = words[j + 1][1]  # "Mary Ann Smith"
        return a0, self._generation(text, end)

    def _last_first(
        self, text: str, words: list[tuple[int, int]], i: int
    ) -> tuple[int, int] | None:
        a0, a1 = words[i]
        b0, b1 = words[i + 1]
        if not _COMMA_GAP.fullmatch(text[a1:b0]):
            return None
        a, b = text[a0:a1], text[b0:b1]
        ca, cb = _case(a), _case(b)
        if ca not in ("title", "upper") or cb not in ("title", "upper"):
            return None
        lex = self.lex
        if not lex.is_name_like(a) or (
            _fold(a) in lex.common and not lex.is_surname(a, strict=False)
        ):
            return None
        if not lex.is_first(b, strict=True) and not (
            lex.is_first(b, strict=False)
            and (lex.is_surname(a, strict=False) or lex.is_uncommon(a))
        ):
            return None
        initial = _TRAIL_INITIAL.match(text, b1)
        return a0, self._generation(text, initial.end() if initial else b1)

    @staticmethod
    def _generation(text: str, end: int) -> int:
        m = _GENERATION.match(text, end)
        return m.end() if m else end

    def _result(self, start: int, end: int) -> RecognizerResult:
        return tagged_result(self, "PERSON", start, end, self.score)


def validate_person_cased(value: str) -> bool | None:
    """A name candidate in any case (after a cue or a title): title-case words pass the usual
    stop-word check; lower- or upper-case words must be in the lexicon."""
    words = [w.strip(",.") for w in value.split() if w.strip(",.")]
    if not words:
        return False
    lex = name_lexicon()
    if any(_fold(w) in lex.block for w in words):
        return False
    if all(_case(w) in ("title", "initial") for w in words):
        return None
    if lex.is_first(words[0], strict=True) or lex.is_surname(words[-1], strict=True):
        return None
    return False


def validate_person_in_context(value: str) -> bool | None:
    """A capitalized pair after "with/from/by/for/to": a name when no word says organisation
    or place and the lexicon knows its first name or its surname."""
    words = [w.strip(",.") for w in value.split()]
    lex = name_lexicon()
    if any(_fold(w) in NAME_STOP or _fold(w) in ORG_WORDS for w in words):
        return False
    if lex.is_first(words[0], strict=False) or lex.is_surname(words[-1], strict=True):
        return None
    return False
