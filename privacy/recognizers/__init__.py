"""Bastion's recognizers: pattern recognizers declared in patterns.yaml plus the spaCy NER one.

``load_recognizers(entities, timeout_s)`` returns fresh recognizer instances for the enabled
entity types. Unknown entity types, validator names or YAML keys fail at load time.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from presidio_analyzer import EntityRecognizer

from privacy.entities import ENTITY_TYPES
from privacy.recognizers.base import BoundedPatternRecognizer, RecognizerSpec
from privacy.recognizers.lexicon import (
    MONTH,
    NAME,
    NAME_WORD,
    STATE,
    STATE_NO_TITLE,
    STREET_SUFFIX,
    validate_person,
    validate_person_in_context,
)
from privacy.recognizers.ner import SpacyNerRecognizer
from privacy.recognizers.validators import VALIDATORS

__all__ = ["MACROS", "load_recognizers", "load_specs"]

ID_CUE_END = r"(?i:\#|no\.?|number|id)?[ \t]{0,3}[:#]?[ \t]{0,3}(?i:is[ \t]{1,3})?"

MACROS: dict[str, str] = {
    "{NAME}": NAME,
    "{NAME_WORD}": NAME_WORD,
    "{MONTH}": MONTH,
    "{STATE}": STATE,
    "{STATE_NO_TITLE}": STATE_NO_TITLE,
    "{SUFFIX}": STREET_SUFFIX,
    "{ID_CUE_END}": ID_CUE_END,
}


def _expand(regex: str) -> str:
    for key, value in MACROS.items():
        regex = regex.replace(key, value)
    return regex


@cache
def load_specs() -> tuple[RecognizerSpec, ...]:
    """Parse and validate patterns.yaml (cached)."""
    import yaml

    from privacy.recognizers.web import VALIDATORS as WEB_VALIDATORS

    raw = yaml.safe_load(resources.files(__package__).joinpath("patterns.yaml").read_text("utf-8"))
    specs = []
    validators = {
        **VALIDATORS,
        **WEB_VALIDATORS,
        "person": validate_person,
        "person_in_context": validate_person_in_context,
    }
    for item in raw:
        spec = RecognizerSpec.model_validate(item)
        if spec.entity not in ENTITY_TYPES:
            raise ValueError(f"recognizer {spec.name}: unknown entity type {spec.entity}")
        if spec.validator is not None and spec.validator not in validators:
            raise ValueError(f"recognizer {spec.name}: unknown validator {spec.validator}")
        for pattern in spec.patterns:
            pattern.regex = _expand(pattern.regex)
        specs.append(spec)
    names = [s.name for s in specs]
    if len(names) != len(set(names)):
        raise ValueError("patterns.yaml: duplicate recognizer names")
    return tuple(specs)


def load_recognizers(
    entities: frozenset[str] | set[str], timeout_s: float, *, with_ner: bool = True
) -> list[EntityRecognizer]:
    """Instantiate the recognizers that emit any of ``entities``."""
    from privacy.recognizers.web import VALIDATORS as WEB_VALIDATORS

    validators = {
        **VALIDATORS,
        **WEB_VALIDATORS,
        "person": validate_person,
        "person_in_context": validate_person_in_context,
    }
    recognizers: list[EntityRecognizer] = [
        BoundedPatternRecognizer(spec, validators.get(spec.validator or ""), timeout_s)
        for spec in load_specs()
        if spec.entity in entities
    ]
    ner_entities = [e for e in ("PERSON", "LOCATION") if e in entities]
    if with_ner and ner_entities:
        recognizers.append(SpacyNerRecognizer(ner_entities))
    return recognizers
