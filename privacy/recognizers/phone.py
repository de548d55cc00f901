"""Phone numbers in national and international formats, read by Google's libphonenumber.

The ``phonenumbers`` package knows each country's numbering plan, so national formats need no
hand-written regex: "01914960003", "0114 496 0208", "(0131)4960979", "(02) 9876 5432",
"087 123 4567", "2528822968", "+353 87 123 4567". It runs only on the digit runs of a text,
once per region hint (US, CA, GB, AU, IE), and every number in a run is reported.

Precision comes from the numbering plan and the form of the number, never from a score cut:
- a number written with ``+`` or ``00`` must be possible for its country code;
- a national number with a trunk prefix ``0`` (GB, IE, AU) must be possible for the region;
- a North American number without prefix must be valid (a real area code and exchange).
"""

from __future__ import annotations

from typing import Any

import phonenumbers
import regex
from phonenumbers import Leniency, PhoneNumberMatcher
from presidio_analyzer import EntityRecognizer, RecognizerResult

from privacy.recognizers.base import tagged_result

__all__ = ["REGIONS", "PhoneNumbersRecognizer"]

REGIONS = ("US", "CA", "GB", "AU", "IE")
_TRUNK_REGIONS = frozenset({"GB", "AU", "IE"})
_RUN = regex.compile(r"(?<![\w])[+(]?\d[\d \t().\-/]{6,28}\d(?![\w])")
_MIN_DIGITS = 9
_NANP_SHAPE = regex.compile(r"1?[2-9]\d{2}[2-9]\d{6}")
_SSN_SHAPE = regex.compile(r"\d{3}[- ]\d{2}[- ]\d{4}")


class PhoneNumbersRecognizer(EntityRecognizer):
    """PHONE spans found by libphonenumber under region hints (see the module docstring)."""

    def __init__(self, regions: tuple[str, ...] = REGIONS) -> None:
        super().__init__(supported_entities=["PHONE"], name="phone_numbers")
        self.regions = regions

    def load(self) -> None:
        """Nothing to load: phonenumbers' metadata is imported with the module."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """One result per distinct number span."""
        if "PHONE" not in entities:
            return []
        found: dict[tuple[int, int], float] = {}
        for run in _RUN.finditer(text):
            chunk = run.group()
            if sum(ch.isdigit() for ch in chunk) < _MIN_DIGITS:
                continue
            for region in _regions_for(chunk, self.regions):
                for match in PhoneNumberMatcher(chunk, region, leniency=Leniency.POSSIBLE):
                    score = _score(match.raw_string, match.number, region)
                    if score is None:
                        continue
                    key = (run.start() + match.start, run.start() + match.end)
                    found[key] = max(score, found.get(key, 0.0))
        return [
            tagged_result(self, "PHONE", start, end, score)
            for (start, end), score in sorted(found.items())
        ]


def _score(raw: str, number: Any, region: str) -> float | None:
    """Score of an accepted match, or None when its form does not make it a phone number."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) < _MIN_DIGITS or len(set(digits)) <= 2 or _SSN_SHAPE.fullmatch(raw):
        return None
    valid = phonenumbers.is_valid_number(number)
    if not valid and len(digits) < 10:
        return None  # a possible-but-invalid 9-digit run is more often some other number
    lead = raw.lstrip("( ")
    if lead.startswith("+") or (lead.startswith("00") and not lead.startswith("000")):
        return 0.9 if valid else 0.7
    if lead.startswith("0"):
        if region not in _TRUNK_REGIONS or len(digits) > 11:
            return None
        return 0.9 if valid else 0.65
    if region in ("US", "CA"):
        if valid:
            return 0.6 if raw.isdigit() else 0.8  # a bare run may be another id: cue ids outrank
        if _NANP_SHAPE.fullmatch(digits):
            return 0.55  # NANP-shaped but unassigned area code: still written as a phone number
    return None


_TRUNK_START = regex.compile(r"(?:^|[^\d])0")


def _regions_for(chunk: str, regions: tuple[str, ...]) -> list[str]:
    """The region hints worth trying on a digit run: "+..." and plain runs parse the same under
    every NANP hint (one is enough); a run with a trunk-prefix 0 needs the GB/AU/IE hints."""
    out = [r for r in regions if r in ("US", "CA")][:1]
    if _TRUNK_START.search(chunk):
        out += [r for r in regions if r in _TRUNK_REGIONS]
    return out
