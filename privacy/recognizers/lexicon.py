"""Word lists and regex fragments shared by recognizers (names, months, states, street suffixes)."""

from __future__ import annotations

from importlib import resources

import yaml

__all__ = [
    "MONTH",
    "NAME",
    "NAME_STOP",
    "NAME_WORD",
    "NOT_CITIES",
    "ORG_WORDS",
    "STATE",
    "STATE_NO_TITLE",
    "STREET_SUFFIX",
    "validate_person",
    "validate_person_in_context",
]

_WORDS = yaml.safe_load(resources.files(__package__).joinpath("lexicon.yaml").read_text("utf-8"))

STATE_ABBR: list[str] = _WORDS["state_abbr"].split()
STATE_NAMES: list[str] = _WORDS["state_names"]

STATE = "|".join(STATE_ABBR + [n.replace(" ", r"[ \t]") for n in STATE_NAMES])
"""A US state or territory, abbreviated or spelled out."""

# "Smith, MD" / "Jones, PA" / "Lee, DO" are credentials, not states, after a name.
STATE_NO_TITLE = "|".join(
    [a for a in STATE_ABBR if a not in {"MD", "PA", "DO", "NP", "RN", "OR", "IN", "ME"}]
    + [n.replace(" ", r"[ \t]") for n in STATE_NAMES]
)

# States and countries are allowed under HIPAA Safe Harbor; spaCy's GPE hits on them are dropped.
NOT_CITIES = frozenset(
    [s.lower() for s in STATE_NAMES + STATE_ABBR] + [c.lower() for c in _WORDS["country_words"]]
)

MONTH = (
    r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
MONTH = rf"(?:{MONTH})\.?"

STREET_SUFFIX = "|".join(_WORDS["street_suffix"].split())
"""USPS street suffixes as a regex alternation."""

NAME_STOP = frozenset(_WORDS["name_stop"].split())
"""Capitalized words that are not (part of) a person's name."""

ORG_WORDS = frozenset(_WORDS["org_words"].split())
"""Words that make a capitalized pair an organisation, place or department."""

_STOP_ALT = "|".join(
    sorted((w.capitalize() for w in NAME_STOP if w.isalpha()), key=len, reverse=True)
)

NAME_WORD = r"(?:[A-Z]['\u2019])?[A-Z][A-Za-z]{0,24}[a-z](?:-[A-Z][A-Za-z]{0,24}[a-z])?"
"""One capitalized name word: Smith, McDonald, O'Brien, Smith-Jones."""

NAME = (
    rf"{NAME_WORD}(?:[ \t]{{1,2}}(?:[A-Z]\.?[ \t]{{1,2}})?"
    rf"(?!(?:{_STOP_ALT})(?![\w'\u2019-])){NAME_WORD}){{0,2}}"
)
"""Up to three name words with an optional middle initial; stops before a stop word."""


def validate_person_in_context(value: str) -> bool | None:
    """A capitalized pair after "with/from/by": a name unless a word says organisation/place."""
    words = [w.strip(",.").lower() for w in value.split()]
    if any(w in NAME_STOP or w in ORG_WORDS for w in words):
        return False
    return None


def validate_person(value: str) -> bool | None:
    """Reject a name candidate whose first word is a common capitalized non-name word."""
    words = [w.strip(",.").lower() for w in value.split()]
    if not words or words[0] in NAME_STOP or len(words[0]) < 2:
        return False
    if len(words) > 1 and words[-1] in ORG_WORDS:  # "Internal Medicine", "Mercy Hospital"
        return False
    return None
