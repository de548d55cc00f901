"""Person names and cities from spaCy's statistical NER (PERSON, GPE)."""

from __future__ import annotations

import re
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from privacy.recognizers.base import tagged_result
from privacy.recognizers.lexicon import NAME_STOP, NOT_CITIES
from privacy.recognizers.person_lexicon import plausible_single_name

__all__ = ["SpacyNerRecognizer"]

_LABELS = {"PERSON": ("PERSON", 0.85), "GPE": ("LOCATION", 0.7)}
_TRIM = " \t\n\r.,;:!?'\"()[]{}"
_COUNTY_BEFORE = re.compile(r"(?:\bCo\.?|\bCounty|\bCOUNTY|\bCO\.)[ \t]$")


class SpacyNerRecognizer(EntityRecognizer):
    """Reads the entities spaCy already found (no second pass over the text).

    Drops hits that are not names (stop words, no capital letter, digits) and GPE hits that
    are states or countries (allowed under HIPAA Safe Harbor).
    """

    def __init__(self, entities: list[str]) -> None:
        super().__init__(supported_entities=entities, name="spacy_ner", supported_language="en")

    def load(self) -> None:
        """Nothing to load: the model runs in the NLP engine."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """Turn the NLP engine's PERSON / GPE spans into results."""
        if nlp_artifacts is None:
            return []
        results = []
        wanted = set(entities) & set(self.supported_entities)
        for span in nlp_artifacts.entities:
            mapped = _LABELS.get(span.label_)
            if mapped is None or mapped[0] not in wanted:
                continue
            start, end = span.start_char, span.end_char
            while start < end and text[start] in _TRIM:
                start += 1
            while end > start and text[end - 1] in _TRIM:
                end -= 1
            if text[end - 2 : end] in ("'s", "\u2019s"):
                end -= 2
            value = text[start:end]
            if not _plausible(value, mapped[0]):
                continue
            if mapped[0] == "LOCATION" and _COUNTY_BEFORE.search(text, max(0, start - 8), start):
                continue  # "Co. Clare": a county, kept like a state
            results.append(tagged_result(self, mapped[0], start, end, mapped[1]))
        return results


def _plausible(value: str, entity: str) -> bool:
    if len(value) < 2 or any(ch.isdigit() for ch in value) or not value[0].isupper():
        return False
    if "\n" in value or "<" in value or ">" in value:
        return False
    words = value.split()
    if entity == "LOCATION":
        return value.lower() not in NOT_CITIES
    if any(len(w) > 1 and w.isupper() and "." not in w for w in words):
        return False  # acronyms ("Login IP", "MRN") are not names
    if words[0].lower().strip(".,") in NAME_STOP:
        return False
    return len(words) > 1 or plausible_single_name(words[0])
