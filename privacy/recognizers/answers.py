"""Identifiers given as the answer to a question on the line before.

In calls and chats the cue is in the question and the value comes alone in the reply:

    Nurse: Can I have your hospital number?
    Patient: Yes, it's 447 1902.
    Agent: And the last four digits of your social?
    Caller: 6789

A line that asks (it has a "?") about an identifier ("hospital number", "NHS number", "MRN",
"member ID", "policy", "social", "card", "account", "licence", "passport", "phone" ...) makes the
next non-empty line an answer. In the answer (its speaker label left out), every digit run of
five digits or more (four with letters), grouped with spaces or dashes and with up to three
leading capital letters ("447 1902", "RX 4471902", "44-71-902", "KXM-4471"), is an identifier
of the type the question named; when
the question asks for the last or first few digits ("last four", "ending"), runs of three to six
digits count. Dates ("12 03 1961"), times, amounts and decimals are not taken. A question about
the town ("Which town?", "Where do you live?") makes the town that opens the reply a LOCATION
("Ballymena.", "in Port Ellison"). Numbers read out
in words are the spoken-number recognizer's (``spoken.py``).

Every quantifier is bounded; the work is linear in the text.
"""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from privacy.recognizers.base import tagged_result

__all__ = ["ENTITIES", "AnswerRecognizer"]

ENTITIES = (
    "LOCATION",
    "SSN",
    "CARD",
    "ACCOUNT",
    "ROUTING",
    "MEMBER_ID",
    "MRN",
    "DRIVER_LICENSE",
    "PASSPORT",
    "PHONE",
)

_CUES = regex.compile(
    r"(?<![\w])(?:"
    r"(?P<SSN>ssn|social(?:[ \t]security)?|national[ \t]insurance|ni[ \t](?:number|no)|sin|"
    r"social[ \t]insurance|tfn|tax[ \t]file|ppsn?|ss[ \t](?:number|no)|ss\#)|"
    r"(?P<CARD>card|visa|mastercard|amex|debit|credit)|"
    r"(?P<ACCOUNT>account|acct|a/c|checking|chequing|savings)|"
    r"(?P<ROUTING>sort[ \t]?code|routing|bsb|transit)|"
    r"(?P<MEMBER_ID>member(?:ship)?|policy|insurance|insurer|medicare|medicaid|health[ \t]card|"
    r"health[ \t]number|subscriber|plan|ihi|ohip|phn|gms|dva)|"
    r"(?P<MRN>mrn|m\.r\.n|medical[ \t]record|hospital|patient[ \t](?:id|number|no|identifier)|"
    r"chart|record|nhs|chi|ur|urn|unit[ \t](?:number|no)|case[ \t](?:number|no)|"
    r"file[ \t](?:number|no)|clinic[ \t](?:number|no|id)|hosp)|"
    r"(?P<DRIVER_LICENSE>licen[cs]e|dl|driving[ \t]permit)|"
    r"(?P<PASSPORT>passport)|"
    r"(?P<PHONE>phone|mobile|cell|landline|telephone|contact[ \t]number|number))"
    r"(?![\w])",
    regex.IGNORECASE,
)
# Questions about a reference that names no one (an order, a ticket) make no answer an id.
_NOT_PERSONAL = regex.compile(
    r"(?<![\w])(?i:order|invoice|ticket|tracking|transaction|confirmation|complaint|booking|receipt|"
    r"reference|serial|model|room|extension|pin|otp|code|amount|balance|total|dose|how[ \t]many|"
    r"how[ \t]much|how[ \t]old|age|weight|height|score|rate|reading|temperature|price)(?![\w])"
)
_PARTIAL = regex.compile(
    r"(?<![\w])(?i:last|final|first|ending|ends|ended|end[ \t]in)(?![\w])", regex.IGNORECASE
)
_LABEL = regex.compile(r"[ \t]{0,4}[^\n:?.!]{1,25}:[ \t]{0,3}")
_VALUE = regex.compile(
    r"(?<![\w.,/:$£€-])"
    r"(?:(?-i:[A-Z]{1,3})[ /-]?|[a-z]{1,3}(?=\d))?"
    r"\d{1,10}(?:(?:[ ]|[ ]?-[ ]?)\d{1,10}){0,5}(?-i:[A-Z]{1,2})?"
    r"(?![\w]|[.,:/]\d|[ \t]{0,2}(?i:%|mg|mcg|ml|kg|lbs?|units?|mmol|am|pm|hours?|hrs?|mins?|"
    r"minutes|days?|weeks?|months?|years?|times|dollars|pounds|euros|percent)(?![\w]))"
)
_DATE = regex.compile(r"\d{1,2}[ -]\d{1,2}[ -](?:19|20)\d{2}|(?:19|20)\d{2}[ -]\d{1,2}[ -]\d{1,2}")
# "Which town?" / "Where do you live?": the town opens the reply ("Ballymena.", "in Leeds").
_TOWN_QUESTION = regex.compile(
    r"(?i:(?:which|what)[ \t](?:town|city|suburb|village)|where[ \t](?:do|are)[ \t]you[ \t]"
    r"(?:live|living|based|calling[ \t]from|staying)|your[ \t](?:town|city|suburb))"
)
_TOWN_ANSWER = regex.compile(
    r"(?:(?i:yes|yeah|sure|um|uh|er|so|it[\u2019']?s|its|it[ \t]is|that[\u2019']?s|in|"
    r"i[\u2019']?m[ \t]in|we[\u2019']?re[ \t]in|i[ \t]live[ \t]in|near|just[ \t]outside|"
    r"outside)[,.]?[ \t]{1,3}){0,3}"
    r"(?P<v>\p{Lu}[\p{Ll}'\u2019]{1,24}(?:(?:-|[ \t])(?:(?:upon|on|under|le|de|la)(?:-|[ \t]))?"
    r"\p{Lu}[\p{Ll}'\u2019]{1,20}){0,2})(?=[ \t]*(?:[.,!;\n]|$))"
)
_ANSWER_CHARS = 200
_SCORE = 0.6


class AnswerRecognizer(EntityRecognizer):
    """Identifiers given in reply to a question that names them (see the module docstring)."""

    def __init__(self, supported_entities: list[str] | None = None) -> None:
        super().__init__(supported_entities=list(supported_entities or ENTITIES), name="answers")

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """One result per identifier-shaped value in a reply to an identifier question."""
        wanted = set(entities) & set(self.supported_entities)
        if "?" not in text or not wanted:
            return []
        results: list[RecognizerResult] = []
        pos = 0
        n = len(text)
        while pos < n:
            q = text.find("?", pos)
            if q < 0:
                break
            line_start = text.rfind("\n", 0, q) + 1
            line_end = text.find("\n", q)
            pos = n if line_end < 0 else line_end + 1
            if line_end < 0:
                break
            question = text[max(line_start, q - 200) : q]
            cut = max(question.rfind(". "), question.rfind("! "), question.rfind("? "))
            question = question[cut + 1 :]  # the sentence that asks
            if "LOCATION" in wanted and _TOWN_QUESTION.search(question):
                results.extend(self._town(text, line_end + 1))
            entity = self._entity(question)
            if entity is None or entity not in wanted:
                continue
            partial = bool(_PARTIAL.search(question))
            # The answer: the next non-empty line, without its speaker label.
            start = line_end + 1
            while start < n and text[start] in "\n \t\r":
                start += 1
            end = text.find("\n", start)
            end = n if end < 0 else end
            end = min(end, start + _ANSWER_CHARS)
            label = _LABEL.match(text, start, end)
            if label is not None:
                start = label.end()
            for match in _VALUE.finditer(text, start, end):
                value = match.group()
                digits = sum(ch.isdigit() for ch in value)
                letters = any(ch.isalpha() for ch in value)
                low = 3 if partial else 4 if letters else 5
                if not low <= digits <= 20 or _DATE.fullmatch(value):
                    continue
                if len(set(ch for ch in value if ch.isdigit())) == 1 and digits > 3:
                    continue
                results.append(tagged_result(self, entity, match.start(), match.end(), _SCORE))
        return results

    def _town(self, text: str, start: int) -> list[RecognizerResult]:
        """The town that opens the reply starting at ``start`` (validated like any town)."""
        from privacy.recognizers.lexicon import validate_town

        n = len(text)
        while start < n and text[start] in "\n \t\r":
            start += 1
        end = text.find("\n", start)
        end = n if end < 0 else end
        label = _LABEL.match(text, start, end)
        if label is not None:
            start = label.end()
        match = _TOWN_ANSWER.match(text, start, end)
        if match is None or validate_town(match.group("v")) is False:
            return []
        return [tagged_result(self, "LOCATION", match.start("v"), match.end("v"), _SCORE)]

    @staticmethod
    def _entity(question: str) -> str | None:
        """The type named by the first identifier cue of the question (its head noun: "the
        policy number on your card" asks for a member id; "number" alone counts only when
        nothing more specific is there); None when it asks about something else."""
        if _NOT_PERSONAL.search(question):
            return None
        phone = None
        for match in _CUES.finditer(question):
            if match.lastgroup != "PHONE":
                return match.lastgroup
            phone = "PHONE"
        return phone
