"""Numbers read out: digits written as words, or one digit at a time.

In call transcripts and chats people read numbers out: "five five five, oh one four eight",
"four one one one, one one one one, ...", "double seven", "forty-four eighty-one twelve",
"one eight hundred", "6 1 7 5 5 5 0 1 4 8". Each run of
digit words (and digit groups mixed with them) is turned into its digit string, and the run is
reported when it is long enough to be an identifier (with the one to three capital letters
that may lead it, as in "W seven oh five ...", or spelled one by one, "R X four four ...", or
read out as letters are on the phone, "H as in hotel, four four ...", "hotel x-ray four ..."):

- seven digits or more: a phone, card, SSN, member or account number. The type comes from the
  cue word before the run ("card", "social", "member", "account", "hospital", "NHS", "phone",
  ...; up to 100 characters back, so the cue may be in the question on the line before), or
  else from the number itself (a Luhn-valid 13-19 digit number is a card, 9 digits an SSN,
  10-11 a phone number);
- five or six digits after a specific cue (a record, member, account ... number: not the bare
  word "number", which also asks for phone numbers); digit groups alone ("44 71 90") count
  only after such a cue, with six digits or more, and not when they read as a date;
- three to six digits after a "last four" / "ending in" cue: the partial identifier of that cue
  (four digits with no typed cue: a card).

Postcodes read out with letter names ("ell ess six, two queue tee", "dee zero two, ex two eight
five") are a ZIP when a postcode, ZIP or Eircode cue comes up to 100 characters before: five to
ten letter names, single letters and digits, at least one letter name and one digit.

A run with no digit word needs five single-digit tokens ("6 1 7 5 ...") or a specific cue:
ordinary digit runs belong to the other recognizers. Every quantifier is bounded (linear time).
"""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from privacy.recognizers.base import tagged_result
from privacy.recognizers.validators import luhn

__all__ = ["ENTITIES", "SpokenNumberRecognizer", "spoken_digits"]

ENTITIES = (
    "PHONE", "CARD", "SSN", "MEMBER_ID", "MRN", "ACCOUNT", "ROUTING", "DRIVER_LICENSE",
    "PASSPORT",
    "ZIP",
)  # fmt: skip

_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
_TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_WORD = r"(?:zero|oh|nought|(?-i:O)|one|two|three|four|five|six|seven|eight|nine)"
_PAIR = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[ \t-]" + _WORD + r")?"
    r"|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
    r"|hundred|thousand)"
)
_TOKEN = rf"(?:(?:double|triple)[ \t-]{{1,2}}{_WORD}|{_PAIR}|{_WORD}|\d{{1,4}})"
_SEP = r"(?:[ \t]{0,2}[,-][ \t]{0,2}|[ \t]{1,3}(?:(?:dash|hyphen|slash|stroke)[ \t]{1,3})?)"
# "W seven oh five ...", "ZMM 1 3 3 ...", letters spelled one by one: "R X 4 4 7 ...", "H-4-4..."
# or read out as on the phone: "H as in hotel, four four ...", "hotel x-ray four four ..."
_NATO = (
    r"(?:alpha|alfa|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliett?|kilo|lima|mike|"
    r"november|oscar|papa|quebec|romeo|sierra|tango|uniform|victor|whiske?y|x-?ray|yankee|zulu)"
)
_AS_IN = r"[A-Za-z][ \t]{1,2}(?:as[ \t]{1,2}in|for)[ \t]{1,2}[A-Za-z][A-Za-z-]{1,12}"
_LEAD = (
    r"(?:(?-i:(?![AI][ \t])[A-Z]{1,3}|[A-Z](?:[ \t-][A-Z]){1,2})(?:[ \t-]{1,2}|/[ \t]?)"
    rf"|(?:(?:{_AS_IN}|{_NATO})[ \t]{{0,2}}[,-]?[ \t]{{1,2}}){{1,3}})?"
)
_RUN = regex.compile(
    r"(?<![\w.,/-])(?<!(?i:last|final|first|the)[ \t-]{1,2})"
    rf"{_LEAD}{_TOKEN}(?:{_SEP}{_TOKEN}){{2,30}}(?![\w]|[.,/-]\d)",
    regex.IGNORECASE,
)
_TOKENS = regex.compile(rf"{_TOKEN}", regex.IGNORECASE)
_LEAD_ONLY = regex.compile(_LEAD)
_HAS_WORD = regex.compile(rf"(?<![\w])(?:{_PAIR}|{_WORD})(?![\w])", regex.IGNORECASE)

# Cue word before the run -> entity type (the nearest cue wins).
_CUES = regex.compile(
    r"(?<![\w])(?:(?P<CARD>card|visa|mastercard|amex|debit|credit)|"
    r"(?P<SSN>ssn|social|ss\#|national[ \t]insurance|sin|tfn|tax[ \t]file|pps|ppsn)|"
    r"(?P<MEMBER_ID>member(?:ship)?|policy|medicare|medicaid|insurance|plan|subscriber|"
    r"health[ \t](?:card|number)|ihi|ohip|phn)|"
    r"(?P<DRIVER_LICENSE>licen[cs]e)|(?P<PASSPORT>passport)|"
    r"(?P<MRN>mrn|m[ .]?r[ .]?n|mr\#|record|chart|hospital|hosp|patient[ \t](?:id|number|no)|"
    r"nhs|chi|ur|urn|k[ \t](?:number|no)|unit[ \t](?:number|no)|case[ \t](?:number|no)|"
    r"file[ \t](?:number|no)|clinic)|"
    r"(?P<ACCOUNT>account|acct|a/c|checking|savings|chequing)|"
    r"(?P<ROUTING>routing|sort[ \t]?code|bsb|transit)|"
    r"(?P<ZIP>zip(?:[ \t]?code)?|post[ \t]?code|postal[ \t]code)|"
    r"(?P<PHONE>phone|telephone|tel|mobile|cell|call|ring|reach|text|landline|fax|number))"
    r"(?![\w])",
    regex.IGNORECASE,
)
# Postcodes read out with letter names ("ell ess six, two queue tee", "dee zero two, ex two
# eight five", "kay one ay, zero bee one"): a run of letter names, letters and digits (words or
# figures) after a postcode cue, with at least one letter name and one digit.
_LETTER_NAME = (
    r"(?:ay|bee|see|cee|dee|ee|eff?|gee|h?aitch|eye|jay|kay|ell?|em|en|pee|queue|cue|ar|ess|tee|"
    r"you|vee|double[ -]?you|ex|why|wye|zed|zee)"
)
_CODE_TOKEN = rf"(?:{_LETTER_NAME}|{_WORD}|[A-Za-z]|\d)"
_SPELLED_CODE = regex.compile(
    rf"(?<![\w'\u2019-]){_CODE_TOKEN}"
    rf"(?:(?:[ \t]{{0,2}}[,-][ \t]{{0,2}}|[ \t]{{1,2}}){_CODE_TOKEN}){{4,9}}"
    r"(?![\w'\u2019-])",
    regex.IGNORECASE,
)
_LETTER_NAMES = regex.compile(rf"(?<![\w-]){_LETTER_NAME}(?![\w-])", regex.IGNORECASE)
_DIGIT_TOKENS = regex.compile(rf"(?<![\w-])(?:{_WORD}|\d)(?![\w-])", regex.IGNORECASE)
_CODE_CUE = regex.compile(
    r"(?<![\w])(?:post[ \t]?code|postal[ \t]code|zip(?:[ \t]?code)?|eircode)(?![\w])",
    regex.IGNORECASE,
)

_LAST_FOUR = regex.compile(
    r"(?<![\w])(?:(?:last|final)[ \t-](?:4|four)|ending|ends|ended)(?![\w])", regex.IGNORECASE
)
_GROUPS = regex.compile(r"\d+")


def _date_groups(run: str) -> bool:
    """Three digit groups that read as a date ("14 03 1961", "3-14-61", "1961 3 14")."""
    parts = [int(g) for g in _GROUPS.findall(run)]
    if len(parts) != 3:
        return False
    if parts[0] > 1900:
        parts = [parts[2], parts[1], parts[0]]
    a, b = parts[0], parts[1]
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


_CONTEXT = 100
_MIN_DIGITS = 7
_MIN_DIGITS_CUED = 5  # after a specific cue ("hospital number", "member ID"): 5 digits suffice
_SCORE = 0.7


def spoken_digits(run: str) -> str:
    """The digit string a run of digit words / digit groups reads out ("double" and "triple"
    repeat the next digit)."""
    out = []
    for token in _TOKENS.findall(run):
        word = token.lower()
        if word[0].isdigit():
            out.append(word)
            continue
        parts = regex.split(r"[ \t-]+", word)
        if parts[0] in _TENS:  # "forty-one" -> 41, "forty" -> 40
            out.append(_TENS[parts[0]] + (_WORDS[parts[1]] if len(parts) > 1 else "0"))
        elif word in _TEENS:
            out.append(_TEENS[word])
        elif word in ("hundred", "thousand"):
            out.append("00" if word == "hundred" else "000")
        else:
            times = 2 if parts[0] == "double" else 3 if parts[0] == "triple" else 1
            out.append(_WORDS[parts[-1]] * times)
    return "".join(out)


def _cue(before: str) -> str | None:
    """The type named by the last cue word before a run; "number", "call" and the other phone
    words count only when no more specific cue is there ("member number" is a member id)."""
    specific = phone = None
    for match in _CUES.finditer(before):
        if match.lastgroup == "PHONE":
            phone = "PHONE"
        else:
            specific = match.lastgroup
    return specific or phone


class SpokenNumberRecognizer(EntityRecognizer):
    """Identifiers read out in words or digit by digit (see the module docstring)."""

    def __init__(self, supported_entities: list[str] | None = None) -> None:
        super().__init__(
            supported_entities=list(supported_entities or ENTITIES), name="spoken_numbers"
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """One result per run that reads out an identifier."""
        wanted = set(entities) & set(self.supported_entities)
        results = []
        for match in _RUN.finditer(text):
            run = match.group()
            tokens = _TOKENS.findall(run)
            digits = spoken_digits(run)
            singles = sum(len(t) == 1 for t in tokens)
            lead = _LEAD_ONLY.match(run).group()
            # The cue may be the lead itself ("MRN four four seven ...").
            before = text[max(0, match.start() - _CONTEXT) : match.start() + len(lead)]
            # Digit groups alone ("44 71 90", "447 19 02"): an id only after a specific cue.
            if (
                not _HAS_WORD.search(run)
                and singles < 5
                and not singles == len(digits) == 4
                and (
                    len(digits) < 6
                    or _date_groups(run)
                    or lead  # "SSN 123-45-6789": the lead is a cue, the digits its own
                    or _cue(before) in (None, "PHONE")
                )
            ):
                continue
            entity = self._entity(digits, before)
            if entity is None and lead and len(digits) >= 4:
                cue = _cue(before)  # "K X M four four seven one" after a record cue
                entity = cue if cue not in (None, "PHONE") else None
            if entity is None or entity not in wanted:
                continue
            results.append(self._result(entity, match.start(), match.end()))
        if "ZIP" in wanted:
            results += self._spelled_codes(text)
        return results

    def _result(self, entity: str, start: int, end: int) -> RecognizerResult:
        return tagged_result(self, entity, start, end, _SCORE)

    def _spelled_codes(self, text: str) -> list[RecognizerResult]:
        """Postcodes read out with letter names, after a postcode cue (up to 100 characters
        back, so the cue may be the question on the line before)."""
        out = []
        for match in _SPELLED_CODE.finditer(text):
            run = match.group()
            if not (_LETTER_NAMES.search(run) and _DIGIT_TOKENS.search(run)):
                continue
            if not _CODE_CUE.search(text[max(0, match.start() - _CONTEXT) : match.start()]):
                continue
            out.append(self._result("ZIP", match.start(), match.end()))
        return out

    @staticmethod
    def _entity(digits: str, before: str) -> str | None:
        n = len(digits)
        if 3 <= n <= 6 and _LAST_FOUR.search(before[-60:]):
            cue = _cue(before)
            if cue in (None, "PHONE"):
                return "CARD" if n == 4 else None
            return cue
        if len(set(digits)) == 1:
            return None
        cue = _cue(before)
        if cue == "ZIP":  # "my zip is nine oh two one oh", "postcode two nine two oh"
            return "ZIP" if n in (4, 5, 9) else None
        if n < _MIN_DIGITS and not (n >= _MIN_DIGITS_CUED and cue not in (None, "PHONE")):
            return None
        if cue is not None:
            return cue
        if 13 <= n <= 19 and luhn(digits):
            return "CARD"
        if n == 9:
            return "SSN"
        if n in (10, 11):
            return "PHONE"
        return "PHONE" if n < 10 else "ACCOUNT"
