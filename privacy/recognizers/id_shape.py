"""Identifier-shaped tokens without a cue: record, member and account numbers written bare.

In chats and e-mails an id is often given without the word that names it ("it's 00482913", "RX448812
is the one on the letter"). A token is identifier-shaped when it holds at least six digits (or five
with letters: "RX44881", "H-204431", "H/204431"), or is a run of digit groups split by single spaces
with seven digits in all and one group of four or more ("447 1902", "485 777 3456"; not a list of
years or of 24-hour times), or has five digits (four with letters: "KXM-4471") a little after a
record or member cue, and is not something else with digits: a decimal or an amount ("1,250.00",
"$125000"), a time, a fraction or range ("120/80", "3-5", years "2015-2020"), a quantity with its
unit ("250000 /uL", "500000 units"), or a reference code that names no one (after "order",
"invoice", "ticket", "tracking", "transaction", "confirmation", "complaint", "booking", "receipt" or
"reference"), or a number after the cue of a checksummed type (NPI, routing, SSN, card ...) whose
own recognizer rejected it. Phone numbers, dates and card numbers found by the other recognizers
overlap these spans and keep their own type (a merged span takes the type of its longest member;
this one's score is the lowest).

The type is MRN unless a bank word ("account", "bank", "sort code", "IBAN", "transfer") is near,
then ACCOUNT: the nearest guess for a number whose cue is missing.
"""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from privacy.recognizers.base import tagged_result

__all__ = ["IdShapeRecognizer"]

_TOKEN = regex.compile(
    r"(?<![\w$£€¥#.,/:@+-])"
    r"(?P<v>(?:[A-Za-z]{1,4}[-/]?)?\d(?:[\d]|-(?=\d)){3,17}\d?(?:-?[A-Za-z]{1,2})?)"
    r"(?![\w@%]|[.,/:]\d|-\d|[ \t]?(?:(?i:mg|mcg|ml|kg|g|l|mmol|umol|units?|iu|mmhg|bpm|x10"
    r"|cells|copies|cfu|per)(?![\w])|/|%))"
)
# Digits grouped with single spaces ("447 1902", "485 777 3456"): one group of four or more
# digits and seven digits in all (a series of lab values, "112 124 130", is not taken).
_GROUPED = regex.compile(
    r"(?<![\w$£€¥#.,/:@+-])"
    r"(?P<v>(?:[A-Z]{1,3}[ ])?\d{2,8}(?:[ ]\d{2,8}){1,3})"
    r"(?![\w@%]|[.,/:]\d|[ \t]?(?i:mg|mcg|ml|kg|g|l|mmol|umol|units?|iu|mmhg|bpm|x10|/|%"
    r"|cells|copies|cfu|per)(?![\w]))"
)
_YEAR = regex.compile(r"(?:19|20)\d{2}")
_YEAR_RANGE = regex.compile(r"(?:19|20)\d{2}-(?:19|20)\d{2}")
# Digit groups split by "/" or "." ("447/1902", "RXH/447/190"): six digits or more, not a date,
# a decimal, a version or an address of a network.
_SLASHED = regex.compile(
    r"(?<![\w$£€¥#.,/:@+-])"
    r"(?P<v>(?:[A-Za-z]{1,4}[/-]?)?\d{2,8}(?:[/.]\d{2,8}){1,3}(?:[/-][A-Za-z]{1,2})?)"
    r"(?![\w@%/-]|[.,:]\d|[ \t]?(?i:mg|mcg|ml|kg|g|l|mmol|umol|units?|iu|mmhg|bpm|x10|%|cells"
    r"|copies|cfu|per|tablets?|doses?|days?)(?![\w]))"
)
_DATE_LIKE = regex.compile(
    r"(?:\d{1,2}[/.]\d{1,2}[/.](?:\d{2}|\d{4})|\d{4}[/.]\d{1,2}[/.]\d{1,2}|\d+\.\d{1,3}|"
    r"(?:\d{1,3}\.){3}\d{1,3})"
)
# A record-number cue a little before a bare number: five digits are then enough.
_RECORD_CUE = regex.compile(
    r"(?i:mrn|hospital[ \t](?:number|no|id)|record|chart|nhs|chi|urn?|patient[ \t](?:id|number|no)|"
    r"unit[ \t](?:number|no)|case[ \t](?:number|no)|member|policy|subscriber)(?![\w])"
)
_NOT_PERSONAL = regex.compile(
    r"(?<![\w])(?i:order|invoice|ticket|tracking|transaction|txn|confirmation|complaint|booking|receipt|"
    r"reference|ref|serial|model|lot|batch|sku|part|version|build|isbn|doi|pmid|icd|cpt|ndc|"
    r"loinc|snomed|flight|room|extension|ext|pin|otp|code)(?![\w])\W{0,3}(?:\w{1,10}\W{1,3}){0,2}$"
)
# A cue that names a checksummed type: its own recognizer decides (a failed checksum is not
# that identifier, and this fallback must not overrule it).
_CHECKED_CUE = regex.compile(
    r"(?<![\w])(?i:npi|routing|aba|rtn|ssn|social|card|visa|mastercard|amex|iban|dea|vin|sin|tfn|"
    r"pps)(?![\w])\W{0,3}(?:\w{1,10}\W{1,3}){0,2}$"
)
_CUE_PREFIX = frozenset({"mrn", "urn", "id", "no", "nr", "ssn", "dob", "tel", "ph", "fax", "ref"})
_BANK = regex.compile(
    r"(?i:account|acct|a/c|bank|banking|sort[ \t]?code|iban|transfer|deposit|checking|savings|"
    r"chequing|payee)"
)
_SSN_SHAPE = regex.compile(r"\d{3}-\d{2}-\d{4}")
_MIN_DIGITS = 6
_SCORE = 0.5


def _years(value: str) -> bool:
    """Whether ``value`` is a span of years, the second after the first ("2015-2020")."""
    if not _YEAR_RANGE.fullmatch(value):
        return False
    first, last = (int(part) for part in value.split("-"))
    return first < last <= first + 60


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
        matches = list(_TOKEN.finditer(text))
        for match in _GROUPED.finditer(text):
            groups = [g for g in match.group("v").split(" ") if g.isdigit()]
            digits = sum(len(g) for g in groups)
            long_groups = [g for g in groups if len(g) >= 4]
            if digits < 7 or not long_groups or all(_YEAR.fullmatch(g) for g in long_groups):
                continue
            if all(len(g) == 4 and int(g[:2]) < 24 and int(g[2:]) < 60 for g in groups):
                continue  # times ("0800 1730")
            matches.append(match)
        for match in _SLASHED.finditer(text):
            value = match.group("v")
            core = value.strip("/-")
            if _DATE_LIKE.fullmatch(regex.sub(r"^[A-Za-z]{1,4}[/-]?|[/-][A-Za-z]{1,2}$", "", core)):
                continue
            if sum(ch.isdigit() for ch in value) >= 6:
                matches.append(match)
        for match in matches:
            value = match.group("v")
            digits = sum(ch.isdigit() for ch in value)
            letters = any(ch.isalpha() for ch in value)
            if len(set(value)) <= 2:
                continue
            if digits < (5 if letters else _MIN_DIGITS):
                # Fewer digits ("KXM-4471", "44719") only a little after a record-number cue.
                cued = _RECORD_CUE.search(text, max(0, match.start() - 60), match.start())
                if digits < (4 if letters else 5) or cued is None:
                    continue
            if _SSN_SHAPE.fullmatch(value):
                continue  # the SSN recognizer and its validator own this shape
            if _years(value):
                continue  # a span of years ("2015-2020", "1998-2004"), as in an employment history
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
            results.append(tagged_result(self, entity, start, match.end("v"), _SCORE))
        return results
