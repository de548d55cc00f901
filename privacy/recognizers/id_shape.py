"""Identifier-shaped tokens without a cue: record, member and account numbers written bare.

In chats and e-mails an id is often given without the word that names it ("it's 00482913",
"RX448812 is the one on the letter"). A token is identifier-shaped when it holds at least six
digits (or five with letters: "RX44881", "H-204431") and is not something else with digits:
a decimal or an amount ("1,250.00", "$125000"), a time, a fraction or range ("120/80",
"3-5"), a quantity with its unit ("250000 /uL", "500000 units"), or a reference code that names
no one (after "order", "invoice", "ticket", "tracking", "transaction", "confirmation",
"complaint", "booking", "receipt" or "reference"), or a number after the cue of a checksummed
type (NPI, routing, SSN, card ...) whose own recognizer rejected it. Phone numbers, dates and
card numbers found by the other recognizers overlap these spans and keep their own type (a
merged span takes the type of its longest member; this one's score is the lowest).

The type is MRN unless a bank word ("account", "bank", "sort code", "IBAN", "transfer") is near,
then ACCOUNT: the nearest guess for a number whose cue is missing.
"""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

__all__ = ["IdShapeRecognizer"]

_TOKEN = regex.compile(
    r"(?<![\w$£€¥#.,/:@+-])"
    r"(?P<v>(?:[A-Za-z]{1,4}-?)?\d(?:[\d]|-(?=\d)){4,17}\d?(?:-?[A-Za-z]{1,2})?)"
    r"(?![\w@%]|[.,/:]\d|-\d|[ \t]?(?i:mg|mcg|ml|kg|g|l|mmol|umol|units?|iu|mmhg|bpm|x10|/|%"
    r"|cells|copies|cfu|per))"
)
_NOT_PERSONAL = regex.compile(
    r"(?i:order|invoice|ticket|tracking|transaction|txn|confirmation|complaint|booking|receipt|"
    r"reference|ref|serial|model|lot|batch|sku|part|version|build|isbn|doi|pmid|icd|cpt|ndc|"
    r"loinc|snomed|flight|room|extension|ext|pin|otp|code)\W{0,3}(?:\w{1,10}\W{1,3}){0,2}$"
)
# A cue that names a checksummed type: its own recognizer decides (a failed checksum is not
# that identifier, and this fallback must not overrule it).
_CHECKED_CUE = regex.compile(
    r"(?i:npi|routing|aba|rtn|ssn|social|card|visa|mastercard|amex|iban|dea|vin|sin|tfn|pps)"
    r"\W{0,3}(?:\w{1,10}\W{1,3}){0,2}$"
)
_CUE_PREFIX = frozenset({"mrn", "urn", "id", "no", "nr", "ssn", "dob", "tel", "ph", "fax", "ref"})
_BANK = regex.compile(
    r"(?i:account|acct|a/c|bank|banking|sort[ \t]?code|iban|transfer|deposit|checking|savings|"
    r"chequing|payee)"
)
_SSN_SHAPE = regex.compile(r"\d{3}-\d{2}-\d{4}")
_MIN_DIGITS = 6
_SCORE = 0.5


class IdShapeRecognizer(EntityRecognizer):
    """Bare identifier-shaped tokens (see the module docstring)."""

    def __init__(self, supported_entities: list[str] | None = None) -> None:
        super().__init__(
            supported_entities=list(supported_entities or ["MRN", "ACCOUNT"]), name="id_shape"
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """One result per identifier-shaped token."""
        wanted = set(entities) & set(self.supported_entities)
        results = []
        for match in _TOKEN.finditer(text):
            value = match.group("v")
            digits = sum(ch.isdigit() for ch in value)
            letters = any(ch.isalpha() for ch in value)
            if digits < (5 if letters else _MIN_DIGITS) or len(set(value)) <= 2:
                continue
            if _SSN_SHAPE.fullmatch(value):
                continue  # the SSN recognizer and its validator own this shape
            before = text[max(0, match.start() - 40) : match.start()]
            if _NOT_PERSONAL.search(before) or _CHECKED_CUE.search(before):
                continue
            start = match.start("v")
            prefix = regex.match(r"[A-Za-z]+-?", value)
            if prefix and prefix.group().rstrip("-").lower() in _CUE_PREFIX:
                start += prefix.end()  # "MRN-448812": the cue is not part of the value
            near = text[max(0, match.start() - 80) : match.end() + 40]
            entity = "ACCOUNT" if _BANK.search(near) else "MRN"
            if entity not in wanted:
                continue
            results.append(
                RecognizerResult(
                    entity,
                    start,
                    match.end("v"),
                    _SCORE,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
            )
        return results
