"""Validators for the learned detector's spans (the union is recall-first; precision comes from
here, never from the model's confidence).

The trained model (``learned.py``) proposes PERSON, LOCATION, ADDRESS, ZIP and ORGANIZATION
spans. Each proposal passes the same checks a rule-based finding of that type passes:
- PERSON: words that are not names are trimmed from both ends ("Later Raman" -> "Raman"); the
  rest must pass ``validate_person`` and not be an eponym ("Crohn's disease");
- ORGANIZATION: ``validate_organization`` (not a generic description such as "Blood Bank");
- ADDRESS: a street line has a street suffix or a unit word ("Flat", "Apt", "PO Box");
- ZIP: a bare number after a code cue ("CPT 99213", "lot 12345") is not a postcode;
- LOCATION: not a state, county or country.
Learned spans get a score below every rule's, so where a rule finds the same span its type
wins when spans are merged; nothing is dropped for its score.
"""

from __future__ import annotations

import regex
from presidio_analyzer import RecognizerResult

from privacy.recognizers.lexicon import (
    NOT_CITIES,
    STREET_SUFFIX,
    validate_organization,
    validate_person,
)
from privacy.recognizers.person_lexicon import is_english_word, name_lexicon

__all__ = ["LEARNED_SCORE", "check_learned"]

LEARNED_SCORE = 0.55
_STREET = regex.compile(
    rf"(?i)(?<![\w])(?:{STREET_SUFFIX})s?\.?(?![\w])|(?<![\w])(?:flat|apt|apartment|unit|suite|"
    r"studio|level|p\.?\s?o\.?\s?box|box|lot|rr|route)(?![\w])"
)
_CODE_BEFORE = regex.compile(
    r"(?i)(?:cpt|icd(?:-\d+)?|hcpcs|code|codes|lot|batch|ref|reference|order|invoice|case|room|"
    r"ext|x|\#|no\.?|number|id|mrn|claim|item|model|serial|version|v)[ \t:#.]{0,3}$"
)
_EPONYM_AFTER = regex.compile(
    r"(?i)(?:['\u2019]s|s['\u2019]|['\u2019])?[ \t-]{1,2}(?:disease|syndrome|phenomenon|palsy|"
    r"sign|test|score|scale|oesophagus|esophagus|thyroiditis|dementia|lymphoma|manoeuvre|"
    r"maneuver|reflex|fracture|ulcer|catheter|monitor)\b"
)
_WORD = regex.compile(r"\p{L}[\p{L}'\u2019.-]*")


def _trim_person(text: str, start: int, end: int) -> tuple[int, int]:
    lex = name_lexicon()
    words = [(m.start() + start, m.end() + start) for m in _WORD.finditer(text[start:end])]

    def name_like(a: int, b: int) -> bool:
        w = text[a:b].strip(".")
        if len(w) <= 1 or (len(w) == 2 and w.endswith(".")):
            return True  # an initial
        if not lex.is_name_like(w):
            return False
        return (
            lex.is_first(w, strict=False)
            or lex.is_surname(w, strict=True)
            or not is_english_word(w)
        )

    while words and not name_like(*words[0]):
        words.pop(0)
    while words and not name_like(*words[-1]):
        words.pop()
    if not words:
        return start, start
    return words[0][0], words[-1][1]


def _plausible_town(value: str) -> bool:
    """Not a state, county or country, and not a single English word that no name list knows
    ("Vehicle")."""
    if value.lower() in NOT_CITIES:
        return False
    words = value.split()
    if len(words) == 1:
        lex = name_lexicon()
        w = words[0]
        if w.isupper() and len(w) <= 4:
            return False  # an acronym
        known = lex.is_first(w, strict=False) or lex.is_surname(w, strict=False)
        if is_english_word(w) and not known:
            return False
    return True


def _code_not_zip(text: str, start: int, end: int) -> bool:
    """A bare number right after a code cue ("CPT 99213") is a code, not a postcode."""
    value = text[start:end]
    return value.replace("-", "").isdigit() and bool(
        _CODE_BEFORE.search(text, max(0, start - 12), start)
    )


def _keep(text: str, r: RecognizerResult) -> RecognizerResult | None:
    start, end = r.start, r.end
    if r.entity_type == "PERSON":
        start, end = _trim_person(text, start, end)
        value = text[start:end]
        if end <= start or validate_person(value) is False:
            return None
        if len({ch.lower() for ch in value if ch.isalpha()}) < 3:
            return None  # "xxx-xx-": a mask, not a name
        if value.isupper() and len(value) <= 4 and " " not in value:
            return None  # an acronym ("ITIN", "MRN")
        if _EPONYM_AFTER.match(text, end):
            return None
    elif (
        (r.entity_type == "ORGANIZATION" and validate_organization(text[start:end]) is False)
        or (r.entity_type == "ADDRESS" and not _STREET.search(text, start, end))
        or (r.entity_type == "ZIP" and _code_not_zip(text, start, end))
        or (r.entity_type == "LOCATION" and not _plausible_town(text[start:end]))
    ):
        return None
    return RecognizerResult(
        r.entity_type,
        start,
        end,
        min(r.score, LEARNED_SCORE),
        analysis_explanation=r.analysis_explanation,
        recognition_metadata=r.recognition_metadata,
    )


def check_learned(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """The learned detector's spans of ``text`` that pass their type's validator."""
    out = []
    for r in results:
        kept = _keep(text, r)
        if kept is not None:
            out.append(kept)
    return out
