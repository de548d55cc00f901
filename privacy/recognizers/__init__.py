"""Bastion's recognizers: pattern recognizers declared in patterns.yaml plus the spaCy NER one.

``load_recognizers(entities, timeout_s)`` returns fresh recognizer instances for the enabled
entity types. Unknown entity types, validator names or YAML keys fail at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from presidio_analyzer import EntityRecognizer

from privacy.entities import ENTITY_TYPES
from privacy.recognizers.answers import ENTITIES as ANSWER_ENTITIES
from privacy.recognizers.answers import AnswerRecognizer
from privacy.recognizers.base import BoundedPatternRecognizer, RecognizerSpec
from privacy.recognizers.id_shape import IdShapeRecognizer
from privacy.recognizers.lexicon import (
    AU_STATE,
    BANK_NAME,
    CA_PROVINCE,
    CREDENTIAL,
    MONTH,
    NAME,
    NAME_WORD,
    ORG_START_STOP,
    ORG_SUFFIX,
    PARTICLE,
    STATE,
    STATE_NO_TITLE,
    STREET_SUFFIX,
    validate_organization,
    validate_person,
    validate_town,
)
from privacy.recognizers.ner import SpacyNerRecognizer
from privacy.recognizers.person_lexicon import (
    PersonLexiconRecognizer,
    validate_person_cased,
    validate_person_in_context,
)
from privacy.recognizers.phone import PhoneNumbersRecognizer
from privacy.recognizers.spoken import ENTITIES as SPOKEN_ENTITIES
from privacy.recognizers.spoken import SpokenNumberRecognizer
from privacy.recognizers.validators import VALIDATORS

__all__ = ["ID_CUE_END", "ID_VALUE", "MACROS", "load_recognizers", "load_specs"]

ID_CUE_END = (
    r"(?:[ \t]{0,2}\([^()\n]{1,24}\))?"
    r"(?i:\#|no\.?|nr\.?|number|num\.?|id|ref\.?)?(?:[ \t]?(?i:\#|no\.?|number|id))?"
    r"[\"']?[ \t]{0,3}[:#=,-]{0,2}[ \t]{0,3}[\"']?(?:\#[ \t]{0,2})?"
    r"(?i:(?:is|was|it[\'\u2019]?s|it[ \t]is|that[\'\u2019]?s|should[ \t]be|would[ \t]be|"
    r"will[ \t]be|reads|um|uh|er|erm|ah|of|for[ \t](?:him|her|them|the[ \t]patient))[,.]?[ \t]{1,3}"
    r"){0,3}(?:[(\[](?:\#[ \t]?)?)?"
)
"""The end of an identifier's cue: a parenthesis ("(AU)"), "#", "no.", "number", "ID No.", ":",
a "#" after the colon ("Medical record: #4471229"), a comma, "is" / "it's" / "should be" /
"of", spoken fillers ("is, um, ..."), JSON quotes, an opening bracket ("MRN (448812)"), also
with a "#" ("chart (#4471229)")."""

ID_VALUE = (
    r"(?i:(?=[A-Z]{0,4}[ /-]?\d)[A-Z0-9]{1,14}"
    r"(?:(?:[ ]|[-/.])(?=[A-Z]{0,3}\d)[A-Z0-9]{1,10}){0,4})"
)
"""An id value after its cue, in any letter case, grouped or not ("448 812 7", "RX-4488-12",
"XJH 448812 01"): every group after the first has a digit, so following words are not taken."""

_TOWN_ONE = (
    r"\p{Lu}[\p{Ll}'\u2019]{1,24}(?:-(?:\p{Ll}{1,5}-){0,2}\p{Lu}?[\p{Ll}'\u2019]{1,20}){0,3}"
)
_TOWN_WORD = rf"(?:{_TOWN_ONE}|(?:Ste?|Ft|Mt|Pt)\.)"
TOWN = (
    r"(?:(?:St\.?|Ste\.?|Saint|Mount|Mt\.?|Ft\.?|Port|Fort|Lake|New|North|South|East|West|Upper|"
    r"Lower|Little|Great)[ \t])?"
    rf"(?:{_TOWN_WORD}[ \t](?:(?:upon|on|under|le|de|la|du|sur)[ \t]|d['\u2019])?){{0,2}}"
    + _TOWN_ONE
)
"""A town's name: up to three capitalized words, hyphenated ones ("Stoke-on-Trent",
"Winston-Salem"), with a connector ("Newcastle upon Tyne", "Coeur d'Alene") or an abbreviated
first word ("Sault Ste. Marie", "Ft. Myers")."""

AGE_WORDS = (
    r"(?i:ninety(?:[ \t-](?:one|two|three|four|five|six|seven|eight|nine))?|(?:one[ \t]|a[ \t])?"
    r"hundred(?:[ \t](?:and[ \t])?(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve))?)"
)
"""An age of 90 to 112 spelled out ("ninety-two", "ninety two", "a hundred and one")."""

MACROS: dict[str, str] = {
    "{AGE_WORDS}": AGE_WORDS,
    "{TOWN}": TOWN,
    "{ID_VALUE}": ID_VALUE,
    "{NAME}": NAME,
    "{NAME_WORD}": NAME_WORD,
    "{PARTICLE}": PARTICLE,
    "{MONTH}": MONTH,
    "{STATE}": STATE,
    "{STATE_NO_TITLE}": STATE_NO_TITLE,
    "{SUFFIX}": STREET_SUFFIX,
    "{ID_CUE_END}": ID_CUE_END,
    "{ORG_SUFFIX}": ORG_SUFFIX,
    "{ORG_STOP}": ORG_START_STOP,
    "{BANK_NAME}": BANK_NAME,
    "{CA_PROVINCE}": CA_PROVINCE,
    "{AU_STATE}": AU_STATE,
    "{CREDENTIAL}": CREDENTIAL,
}


def _expand(regex: str) -> str:
    for key, value in MACROS.items():
        regex = regex.replace(key, value)
    return regex


def _validators() -> dict[str, Callable[[str], bool | None]]:
    from privacy.recognizers.web import VALIDATORS as WEB_VALIDATORS

    return {
        **VALIDATORS,
        **WEB_VALIDATORS,
        "person": validate_person,
        "person_in_context": validate_person_in_context,
        "person_cased": validate_person_cased,
        "organization": validate_organization,
        "town": validate_town,
    }


@cache
def load_specs() -> tuple[RecognizerSpec, ...]:
    """Parse and validate patterns.yaml (cached)."""
    import yaml

    raw = yaml.safe_load(resources.files(__package__).joinpath("patterns.yaml").read_text("utf-8"))
    specs = []
    validators = _validators()
    for item in raw:
        spec = RecognizerSpec.model_validate(item)
        if spec.entity not in ENTITY_TYPES:
            raise ValueError(f"recognizer {spec.name}: unknown entity type {spec.entity}")
        if spec.validator is not None and spec.validator not in validators:
            raise ValueError(f"recognizer {spec.name}: unknown validator {spec.validator}")
        for pattern in spec.patterns:
            pattern.regex = _expand(pattern.regex)
        if spec.anchor is not None:
            spec.anchor = _expand(spec.anchor)
        specs.append(spec)
    names = [s.name for s in specs]
    if len(names) != len(set(names)):
        raise ValueError("patterns.yaml: duplicate recognizer names")
    return tuple(specs)


def load_recognizers(
    entities: frozenset[str] | set[str], timeout_s: float, *, with_ner: bool = True
) -> list[EntityRecognizer]:
    """Instantiate the recognizers that emit any of ``entities``: the YAML pattern recognizers,
    the lexicon name finder, the libphonenumber finder, numbers read out in words, identifiers
    given in reply to a question, bare identifier-shaped tokens and (``with_ner``) spaCy's
    NER."""
    validators = _validators()
    recognizers: list[EntityRecognizer] = [
        BoundedPatternRecognizer(spec, validators.get(spec.validator or ""), timeout_s)
        for spec in load_specs()
        if spec.entity in entities
    ]
    if "PERSON" in entities:
        recognizers.append(PersonLexiconRecognizer())
    if "PHONE" in entities:
        recognizers.append(PhoneNumbersRecognizer())
    spoken = [e for e in SPOKEN_ENTITIES if e in entities]
    if spoken:
        recognizers.append(SpokenNumberRecognizer(spoken))
    answered = [e for e in ANSWER_ENTITIES if e in entities]
    if answered:
        recognizers.append(AnswerRecognizer(answered))
    bare = [e for e in ("MRN", "ACCOUNT") if e in entities]
    if bare:
        recognizers.append(IdShapeRecognizer(bare))
    ner_entities = [e for e in ("PERSON", "LOCATION") if e in entities]
    if with_ner and ner_entities:
        recognizers.append(SpacyNerRecognizer(ner_entities))
    return recognizers
