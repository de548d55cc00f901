"""Shared mechanics of the evaluation generators: placing labelled values into text.

Only the mechanics live here (offsets, checksums defined by public standards). Every family
keeps its own templates, cue phrases, name and place lists and value formats in its own module.
"""

from __future__ import annotations

import random
import string
import unicodedata
from dataclasses import dataclass

__all__ = [
    "Doc",
    "L",
    "aba_check",
    "ascii_handle",
    "dea_check",
    "digits",
    "iban_check",
    "letters",
    "luhn_complete",
    "nhs_check",
    "ppsn_check",
    "render",
    "tfn_check",
    "vin_check",
]


@dataclass(frozen=True, slots=True)
class L:
    """A labelled value: ``type`` is an entity type name, ``value`` the text placed."""

    type: str
    value: str


@dataclass
class Doc:
    """Text under construction with its gold spans (character offsets, end exclusive)."""

    text: str = ""
    spans: list[tuple[int, int, str]] | None = None

    def __post_init__(self) -> None:
        if self.spans is None:
            self.spans = []

    def add(self, piece: str | L) -> Doc:
        if isinstance(piece, L):
            start = len(self.text)
            self.text += piece.value
            assert self.spans is not None
            self.spans.append((start, len(self.text), piece.type))
        else:
            self.text += piece
        return self

    def extend(self, pieces: list[str | L]) -> Doc:
        for piece in pieces:
            self.add(piece)
        return self

    def fill(self, template: str, slots: dict[str, str | L]) -> Doc:
        """Append ``template`` with each ``{name}`` replaced by ``slots[name]``."""
        pos = 0
        while True:
            open_ = template.find("{", pos)
            if open_ == -1:
                self.add(template[pos:])
                return self
            close = template.index("}", open_)
            self.add(template[pos:open_])
            self.add(slots[template[open_ + 1 : close]])
            pos = close + 1


def render(template: str, slots: dict[str, str | L]) -> Doc:
    """A new Doc from one template."""
    return Doc().fill(template, slots)


def ascii_handle(name: str, keep: str = "") -> str:
    """``name`` as people type it in an e-mail handle or a domain: accents dropped
    ("Ó Sé" -> "ose"), lower case, letters and digits only (plus the characters in ``keep``)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded.lower() if c.isalnum() or c in keep)


def digits(rng: random.Random, n: int, first_nonzero: bool = False) -> str:
    out = "".join(rng.choice(string.digits) for _ in range(n))
    if first_nonzero and out[0] == "0":
        out = rng.choice("123456789") + out[1:]
    return out


def letters(rng: random.Random, n: int, alphabet: str = string.ascii_uppercase) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def luhn_complete(partial: str) -> str:
    """``partial`` plus the Luhn check digit (payment cards, NPI after the 80840 prefix)."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


def aba_check(first8: str) -> str:
    """ABA routing number: 8 digits plus the 3-7-1 weighted check digit."""
    w = (3, 7, 1, 3, 7, 1, 3, 7)
    total = sum(int(c) * k for c, k in zip(first8, w, strict=True))
    return first8 + str((10 - total % 10) % 10)


def iban_check(country: str, bban: str) -> str:
    """IBAN (no spaces) with its ISO 13616 mod-97 check digits."""
    moved = bban + country + "00"
    num = "".join(str(int(c, 36)) for c in moved)
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check(vin17: str) -> str:
    """``vin17`` with position 9 replaced by the North American check digit."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin17, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return vin17[:8] + ("X" if check == 10 else str(check)) + vin17[9:]


def dea_check(prefix2: str, first6: str) -> str:
    """DEA registration number: two letters, six digits and the check digit."""
    d = [int(c) for c in first6]
    total = d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])
    return prefix2 + first6 + str(total % 10)


def nhs_check(first9: str) -> str | None:
    """NHS number (10 digits) from its first nine, or None when no check digit exists."""
    total = sum(int(c) * w for c, w in zip(first9, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 10:
        return None
    return first9 + ("0" if check == 11 else str(check))


def tfn_check(first8: str) -> str | None:
    """Australian tax file number: the ninth digit that makes the weighted sum divisible by 11."""
    w = (1, 4, 3, 7, 5, 8, 6, 9, 10)
    for last in "0123456789":
        cand = first8 + last
        if sum(int(c) * k for c, k in zip(cand, w, strict=True)) % 11 == 0:
            return cand
    return None


def ppsn_check(seven: str) -> str:
    """Irish PPS number: seven digits and the mod-23 check letter."""
    total = sum(int(c) * w for c, w in zip(seven, range(8, 1, -1), strict=True))
    return seven + "WABCDEFGHIJKLMNOPQRSTUV"[total % 23]
