"""Word lists and regex fragments shared by recognizers (names, months, states, street suffixes)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

__all__ = [
    "AU_STATE",
    "BANK_NAME",
    "CA_PROVINCE",
    "CREDENTIAL",
    "LEXICON_WORDS",
    "MONTH",
    "NAME",
    "NAME_STOP",
    "NAME_STOP_ALT",
    "NAME_WORD",
    "NOT_CITIES",
    "ORG_GENERIC",
    "ORG_START_STOP",
    "ORG_SUFFIX",
    "ORG_WORDS",
    "PARTICLE",
    "STATE",
    "STATES_AND_COUNTRIES",
    "STATE_NO_TITLE",
    "STREET_SUFFIX",
    "validate_organization",
    "validate_person",
    "validate_town",
]

_WORDS = yaml.safe_load(resources.files(__package__).joinpath("lexicon.yaml").read_text("utf-8"))
LEXICON_WORDS: dict[str, Any] = _WORDS
"""lexicon.yaml as loaded (read-only by convention)."""

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
STATES_AND_COUNTRIES = frozenset(
    [s.lower() for s in STATE_NAMES + STATE_ABBR] + [c.lower() for c in _WORDS["country_words"]]
)
"""US states and countries, lower case."""
NOT_CITIES = STATES_AND_COUNTRIES | frozenset(r.lower() for r in _WORDS["region_words"])
"""States, countries, counties and provinces: never redacted as a town."""

MONTH = (
    r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
MONTH = (
    rf"(?:{MONTH}|JAN(?:UARY)?|FEB(?:RUARY)?|MAR(?:CH)?|APR(?:IL)?|MAY|JUNE?|JULY?|AUG(?:UST)?|"
    r"SEP(?:T(?:EMBER)?)?|OCT(?:OBER)?|NOV(?:EMBER)?|DEC(?:EMBER)?)\.?"
)

STREET_SUFFIX = "|".join(
    sorted(set(_WORDS["street_suffix"].split() + _WORDS["street_suffix_intl"].split()))
)
"""USPS street suffixes plus those of the UK, Ireland, Australia, Canada (regex alternation)."""

ORG_SUFFIX = "|".join(sorted(_WORDS["org_suffix"].split(), key=len, reverse=True))
"""The last word of an organisation's name ("Hospital", "Clinic", "Inc", "Ltd", "Bank")."""

ORG_GENERIC = frozenset(_WORDS["org_generic"].split())
"""Words that with a suffix make a generic description ("Family Practice"), not a name."""

BANK_NAME = "|".join(
    sorted((n.replace(" ", r"[ \t]") for n in _WORDS["bank_names"]), key=len, reverse=True)
)
"""Banks usually named without a suffix (regex alternation)."""

ORG_START_STOP = "|".join(sorted(_WORDS["org_start_stop"].split(), key=len, reverse=True))
"""Words that start a sentence or a field, never an organisation's name (regex alternation)."""

_NOT_ORGANIZATIONS = frozenset(n.casefold() for n in _WORDS["not_organizations"])
_ORG_START_STOP_SET = frozenset(w.lower() for w in _WORDS["org_start_stop"].split())

CA_PROVINCE = "|".join(_WORDS["ca_provinces"].split())
AU_STATE = "|".join(_WORDS["au_states"].split())
CREDENTIAL = "|".join(sorted(_WORDS["credentials"].split(), key=len, reverse=True))
"""Post-nominal credentials ("MD", "PhD", "FRCP") as a regex alternation."""

NAME_STOP = frozenset(_WORDS["name_stop"].split())
"""Capitalized words that are not (part of) a person's name."""

ORG_WORDS = frozenset(_WORDS["org_words"].split())
"""Words that make a capitalized pair an organisation, place or department."""

_STOP_ALT = "|".join(
    sorted((w.capitalize() for w in NAME_STOP if w.isalpha()), key=len, reverse=True)
)
NAME_STOP_ALT = _STOP_ALT
"""The stop words, capitalized, as a regex alternation."""

NAME_WORD = (
    r"(?:(?:[A-Z]['\u2019]|\p{Lu}[ \t](?=\p{Lu}\p{Ll}))?\p{Lu}[\p{L}]{0,24}\p{Ll}"
    r"(?:-\p{Lu}[\p{L}]{0,24}\p{Ll})?)"
)
"""One capitalized name word in any alphabet: Smith, McDonald, O'Brien, Smith-Jones, Étienne,
Ó Dargáin (an Irish Ó/Ní prefix joins the word)."""

PARTICLE = (
    r"(?:(?:[Vv]an|[Vv]on|[Dd]e|[Dd]el|[Dd]ella|[Dd]i|[Dd]os|[Dd]as|[Dd]u|[Dd]er|[Dd]en|"
    r"[Tt]er|[Tt]en|[Ll]e|[Ll]a|Mac|Mc|Ó|Ní|Nic|Uí|an|bin|binti|al|el|St\.?)[ \t]){1,2}"
)
"""Surname particles: van der, de la, von, Mac an, Ó, bin, al."""

NAME = (
    rf"(?:\p{{Lu}}\.?[ \t]{{1,2}}(?=\p{{Lu}}))?(?:{PARTICLE})?{NAME_WORD}"
    rf"(?:[ \t]{{1,2}}(?:[A-Z]\.?[ \t]{{1,2}})?"
    rf"(?!(?:{_STOP_ALT})(?![\w'\u2019-]))(?:{PARTICLE})?{NAME_WORD}){{0,2}}"
    r"(?:,?[ \t](?:Jr|Sr)\.?(?![\w])|[ \t](?:II|III|IV)(?![\w]))?"
)
"""Up to three name words with an optional middle initial and Jr./Sr./II/III; stops before a
stop word."""


def validate_person(value: str) -> bool | None:
    """Reject a name candidate whose first word is a common capitalized non-name word, or a
    single word that is an English word and not a known name ("Background", "Better")."""
    from privacy.recognizers.person_lexicon import plausible_single_name

    words = [w.strip(",.").lower() for w in value.split()]
    while len(words) > 1 and len(words[0]) == 1:
        words = words[1:]  # an initial ("T. Moyer")
    if not words or words[0] in NAME_STOP or len(words[0]) < 2:
        return False
    if len(words) > 1 and words[-1] in ORG_WORDS:  # "Internal Medicine", "Mercy Hospital"
        return False
    if len(words) == 1 and not plausible_single_name(words[0]):
        return False
    return None


def validate_organization(value: str) -> bool | None:
    """An organisation's name needs one word that is not generic ("Cardiac Surgery" is not a
    name, "Hoffman Memorial Hospital" is) and must not start with a stop word."""
    if " ".join(value.casefold().split()).removeprefix("the ") in _NOT_ORGANIZATIONS:
        return False
    words = [w.strip(",.").lower() for w in value.split() if w.strip(",.&")]
    if words and words[0] == "the":
        words = words[1:]
    if not words or words[0] in _ORG_START_STOP_SET:
        return False
    if all(w in ORG_GENERIC for w in words):
        return False
    return None


_NOT_TOWNS = frozenset(_WORDS["not_towns"].split())


_TOWN_PREFIXES = frozenset(
    [
        "new",
        "north",
        "south",
        "east",
        "west",
        "upper",
        "lower",
        "little",
        "great",
        "st",
        "saint",
        "mount",
        "mt",
        "port",
        "fort",
        "lake",
    ]
)


def validate_town(value: str) -> bool | None:
    """A town before a postcode: not a label ("Postcode"), a stop word or a state/country."""
    words = [w.strip(",.").lower() for w in value.split()]
    if not words or words[0] in _NOT_TOWNS:
        return False
    if words[0] in NAME_STOP and not (len(words) > 1 and words[0] in _TOWN_PREFIXES):
        return False
    if value.lower() in NOT_CITIES:
        return False
    return None
