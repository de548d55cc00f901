"""Checksums and sanity checks for pattern matches, by name (referenced from patterns.yaml).

Each validator takes the matched value and returns True (valid: score raised to 1.0),
False (rejected) or None (no opinion: the pattern's score stands).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

__all__ = ["VALIDATORS", "aba_checksum", "luhn"]


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn(digits: str) -> bool:
    """Luhn (mod 10) checksum over a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def aba_checksum(digits: str) -> bool:
    """ABA routing number checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10)."""
    if len(digits) != 9:
        return False
    d = [int(c) for c in digits]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def _card(value: str) -> bool | None:
    digits = _digits(value)
    if not 12 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    return luhn(digits)


def _npi(value: str) -> bool:
    digits = _digits(value)
    return len(digits) == 10 and luhn("80840" + digits)


def _aba(value: str) -> bool:
    digits = _digits(value)
    if not aba_checksum(digits):
        return False
    prefix = int(digits[:2])
    return prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80


def _dea(value: str) -> bool:
    digits = value[2:]
    if len(digits) != 7 or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def _iban(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _vin(value: str) -> bool:
    if len(value) != 17 or value.isdigit() or value.isalpha():
        return False
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(value, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return value[8] == ("X" if check == 10 else str(check))


def _ssn(value: str) -> bool:
    digits = _digits(value)
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in {"000", "666"} or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return len(set(digits)) > 1


def _ssn_shape(value: str) -> bool | None:
    """The 3-2-4 dashed shape alone names an SSN in text, even outside the issued ranges (a
    made-up or mistyped number is redacted all the same); not nine equal digits or an area of
    000. No opinion
    otherwise: the pattern's lower score lets a valid ITIN keep its type."""
    digits = _digits(value)
    if len(digits) != 9 or len(set(digits)) == 1 or digits.startswith("000"):
        return False  # "000-..." is the placeholder the SSA never issues
    return None


def _ssn_cued(value: str) -> bool:
    """After an SSN cue the shape is enough: nine digits, not all the same."""
    digits = _digits(value)
    return len(digits) == 9 and len(set(digits)) > 1


def _itin(value: str) -> bool:
    digits = _digits(value)
    return len(digits) == 9 and digits[0] == "9"


def _ipv4(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 4
    except ValueError:
        return False


def _ipv6(value: str) -> bool:
    if value.count(":") < 2:
        return False
    try:
        return ipaddress.ip_address(value).version == 6
    except ValueError:
        return False


def _min_digits(n: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return sum(ch.isdigit() for ch in value) >= n

    return check


def _phone(value: str) -> bool:
    main = value.lower().split("x")[0].split("ext")[0]
    return 10 <= len(_digits(main)) <= 15


def _date_numeric(value: str) -> bool:
    parts = [p for p in value.replace("/", "-").replace(".", "-").replace(" ", "-").split("-") if p]
    if len(parts) != 3:
        return False
    a, b = int(parts[0]), int(parts[1])
    # month/day (US) or day/month (elsewhere): at least one reading must be a real date
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


def _date_day_month(value: str) -> bool:
    """A day and a month without a year ("14/3", "3.14"): one reading must be a real date,
    and "1/2"-style fractions (both parts under 3) are not taken for one."""
    parts = value.replace(".", "/").split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return False
    a, b = int(parts[0]), int(parts[1])
    if a < 3 and b < 3:
        return False
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
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


def _ssn_spelled(value: str) -> bool:
    """Nine number words ("one two three ...") that spell a valid SSN."""
    words = [w for w in value.lower().replace(",", " ").replace("-", " ").split() if w != "dash"]
    digits = "".join(_DIGIT_WORDS.get(w, "") for w in words)
    return len(digits) == 9 and _ssn(digits)


def _ppsn_ok(value: str) -> bool:
    """Irish PPS number: 7 digits, a check letter, an optional letter (mod-23 checksum)."""
    digits, letters = value[:7], value[7:].upper()
    total = sum(int(d) * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    if len(letters) == 2 and letters[1] != "W":
        total += (ord(letters[1]) - 64) * 9
    return "WABCDEFGHIJKLMNOPQRSTUV"[total % 23] == letters[0]


def _national_id(value: str) -> bool | None:
    """UK National Insurance, Irish PPSN, Canadian SIN (Luhn), Australian TFN (mod 11)."""
    compact = value.replace(" ", "").replace("-", "")
    if compact[:7].isdigit() and len(compact) in (8, 9) and compact[7:].isalpha():
        return _ppsn_ok(compact)
    if compact.isdigit():
        if len(set(compact)) <= 1:
            return False
        if len(compact) == 9 and luhn(compact):
            return True  # SIN
        if len(compact) in (8, 9):
            weights = (1, 4, 3, 7, 5, 8, 6, 9, 10)[: len(compact)]
            tfn_ok = sum(int(d) * w for d, w in zip(compact, weights, strict=True)) % 11 == 0
            return True if tfn_ok else None  # cue-only patterns reach here: the cue stands
        return None
    if len(compact) == 9 and compact[:2].isalpha() and compact[2:8].isdigit():
        prefix = compact[:2].upper()
        return prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    return None


def _national_id_checksum(value: str) -> bool:
    """Nine digits without a cue: only a valid Canadian SIN (Luhn) or Australian TFN (mod 11)."""
    digits = _digits(value)
    if len(digits) != 9 or len(set(digits)) <= 1:
        return False
    weights = (1, 4, 3, 7, 5, 8, 6, 9, 10)
    return luhn(digits) or sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def _national_id_cued(value: str) -> bool | None:
    """After an explicit cue ("PPSN:", "NI number") the shape is enough: a failed checksum
    still leaves a value that identifies someone (or was mistyped), so it is redacted."""
    compact = value.replace(" ", "")
    return None if sum(ch.isdigit() for ch in compact) >= 6 else False


_ADDRESS_NOT = frozenset(
    {
        "n/a", "na", "none", "nil", "same", "same as above", "as above", "see above",
        "unknown", "not known", "withheld", "not given", "not provided", "declined", "tbc",
        "tba", "nfa", "no fixed abode", "no fixed address", "homeless", "not stated",
    }
)  # fmt: skip


def _address_field(value: str) -> bool | None:
    """The value after an address label ("Address: ...", "Street: ..."): a street line or a
    house name, not "N/A" / "as above", an e-mail or web address, or words in lower case."""
    v = value.strip().strip(".").lower()
    if v in _ADDRESS_NOT or "@" in v or "://" in v or v.startswith("www."):
        return False
    if not any(ch.isalpha() for ch in v):
        return False
    if not any(ch.isdigit() for ch in value) and not any(w[:1].isupper() for w in value.split()):
        return False
    return None


VALIDATORS: dict[str, Callable[[str], bool | None]] = {
    "address_field": _address_field,
    "national_id_cued": _national_id_cued,
    "ssn_spelled": _ssn_spelled,
    "national_id": _national_id,
    "national_id_checksum": _national_id_checksum,
    "digits5": _min_digits(5),
    "card": _card,
    "npi": _npi,
    "aba": _aba,
    "dea": _dea,
    "iban": _iban,
    "vin": _vin,
    "ssn": _ssn,
    "ssn_shape": _ssn_shape,
    "ssn_cued": _ssn_cued,
    "itin": _itin,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "phone": _phone,
    "date_numeric": _date_numeric,
    "date_day_month": _date_day_month,
    "digits3": _min_digits(3),
    "digits4": _min_digits(4),
    "digits1": _min_digits(1),
}
"""Validator registry. A name in patterns.yaml that is not here fails at load time."""
