"""Identifier values for the tuning corpus: names, addresses, phones and ids in five locales.

Every value comes from one ``random.Random`` and Faker instances seeded from it, so a seed fixes
the corpus byte for byte (for one installed Faker version). Values are rendered in the formats
people write them in each locale (national phone formats, postcodes, "Last, First", titles).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from faker import Faker

# The day the shipped weights' corpus was generated (privacy/models/bastion_ner/meta.json).
REFERENCE_DAY = date(2026, 12, 2)

__all__ = ["LOCALES", "Name", "Values"]

T = TypeVar("T")

LOCALES: tuple[str, ...] = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE")
# Name-only locales: people in the five countries are not all called Smith.
_NAME_LOCALES: tuple[str, ...] = (
    "en_IN",
    "es_MX",
    "fr_FR",
    "de_DE",
    "it_IT",
    "pl_PL",
    "nl_NL",
    "pt_BR",
    "tr_TR",
    "yo_NG",
    "ga_IE",
)

_TITLES = ("Mr.", "Mr", "Mrs.", "Mrs", "Ms.", "Ms", "Miss", "Dr.", "Dr", "Prof.", "Mx.", "Mx")
_DOCTOR_TITLES = ("Dr.", "Dr", "Doctor", "Prof.")
_CREDENTIALS = (", MD", " MD", ", RN", ", DO", ", PhD", ", NP", " FRCP", ", MRCGP", ", PA-C")
_GENERATIONAL = ("Jr.", "Jr", "Sr.", "II", "III")

# Real towns next to Faker's invented ones ("Port David", "Whitefort").
_TOWNS = {
    "en_US": ("Springfield", "Tulsa", "Fresno", "Boise", "Dayton", "Macon", "Yonkers", "Tacoma"),
    "en_GB": ("Leeds", "Sheffield", "Cardiff", "Swansea", "Croydon", "Harrogate", "Dundee"),
    "en_CA": ("Winnipeg", "Halifax", "Kelowna", "Moncton", "Guelph", "Saskatoon", "Laval"),
    "en_AU": ("Geelong", "Ballarat", "Toowoomba", "Wollongong", "Bendigo", "Cairns", "Mackay"),
    "en_IE": ("Galway", "Limerick", "Sligo", "Drogheda", "Athlone", "Tralee", "Kilkenny"),
}
_REGIONS = {
    "en_US": None,  # Faker state_abbr
    "en_GB": ("", "", "West Yorkshire", "Kent", "Lancashire", "Fife", "Gwynedd"),
    "en_CA": ("ON", "BC", "QC", "AB", "NS", "MB", "SK", "NB"),
    "en_AU": ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"),
    "en_IE": ("", "Co. Galway", "Co. Cork", "Co. Mayo", "Co. Kerry", "Co. Meath", "Co. Clare"),
}
_UK_AREAS = ("020", "0113", "0114", "0115", "0116", "0117", "0121", "0131", "0141", "0151")
_UK_AREAS2 = ("0161", "0191", "029", "028", "01632", "01904", "01223", "01865", "01273")
_CA_AREAS = (416, 647, 604, 514, 403, 613, 905, 780, 902, 204, 306, 506)
_AU_AREAS = ("02", "03", "07", "08")
_IE_AREAS = ("01", "021", "091", "061", "051", "071", "066")
_IE_MOBILE = ("083", "085", "086", "087", "089")


@dataclass(frozen=True)
class Name:
    """A person's name parts; ``render`` writes it in one of the ways people do."""

    first: str
    last: str
    middle: str


class Values:
    """Seeded generator of identifier values; ``locale`` is set per document."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for i, loc in enumerate(LOCALES + _NAME_LOCALES):
            fake = Faker(loc)
            fake.seed_instance(seed * 1000 + i)
            self.fakers[loc] = fake
        self.locale = "en_US"

    # -- helpers ---------------------------------------------------------------------------
    @property
    def fake(self) -> Faker:
        return self.fakers[self.locale]

    def pick(self, *options: T) -> T:
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def digits(self, n: int) -> str:
        return "".join(self.rng.choices(string.digits, k=n))

    # -- people ----------------------------------------------------------------------------
    def name(self) -> Name:
        loc = self.locale if self.chance(0.7) else self.rng.choice(_NAME_LOCALES)
        fake = self.fakers[loc]
        last = fake.last_name()
        if self.chance(0.08):
            last = f"{last}-{self.fakers[self.rng.choice(LOCALES)].last_name()}"
        middle = fake.first_name() if self.chance(0.25) else ""
        return Name(fake.first_name(), last, middle)

    def render_name(self, n: Name, style: str) -> str:
        """``style``: full, initial, middle, last_first, first, last, generational."""
        if style == "full":
            return f"{n.first} {n.last}"
        if style == "middle":
            mid = n.middle or self.pick(*string.ascii_uppercase)
            return (
                f"{n.first} {mid[0]}. {n.last}" if self.chance(0.6) else f"{n.first} {mid} {n.last}"
            )
        if style == "initial":
            return f"{n.first[0]}. {n.last}"
        if style == "last_first":
            last = n.last.upper() if self.chance(0.3) else n.last
            return f"{last}, {n.first}"
        if style == "first":
            return n.first
        if style == "last":
            return n.last
        if style == "generational":
            return f"{n.first} {n.last} {self.pick(*_GENERATIONAL)}"
        raise ValueError(style)

    def name_style(self) -> str:
        return self.rng.choices(
            ("full", "middle", "initial", "last_first", "generational"), (60, 14, 8, 12, 6)
        )[0]

    def title(self) -> str:
        return self.pick(*_TITLES)

    def doctor_title(self) -> str:
        return self.pick(*_DOCTOR_TITLES)

    def credential(self) -> str:
        return self.pick(*_CREDENTIALS)

    # -- places ----------------------------------------------------------------------------
    def street(self) -> str:
        loc = self.locale
        if loc == "en_GB" and self.chance(0.35):
            unit = self.pick("Flat", "Studio", "Apartment")
            num = f"{self.rng.randint(1, 99)}{self.pick('', '', 'a', 'b', 'm')}"
            sep = self.pick(" ", ", ")
            return f"{unit} {num}{sep}{self.fake.street_name()}"
        if loc == "en_AU" and self.chance(0.3):
            return f"{self.rng.randint(1, 40)}/{self.rng.randint(1, 300)} {self.fake.street_name()}"
        if loc in ("en_US", "en_CA") and self.chance(0.3):
            return f"{self.fake.building_number()} {self.fake.street_name()}, " + self.pick(
                f"Apt {self.rng.randint(1, 40)}{self.pick('', 'B', 'C')}",
                f"Suite {self.rng.randint(100, 999)}",
                f"Unit {self.rng.randint(1, 60)}",
            )
        return self.fake.street_address().replace("\n", ", ").strip()

    def town(self) -> str:
        if self.chance(0.3):
            return self.pick(*_TOWNS[self.locale])
        return self.fake.city()

    def region(self) -> str:
        regions = _REGIONS[self.locale]
        return self.fake.state_abbr() if regions is None else self.pick(*regions)

    def postcode(self) -> str:
        loc = self.locale
        if loc == "en_US":
            return self.fake.zipcode_plus4() if self.chance(0.15) else self.fake.zipcode()
        if loc == "en_IE":
            code = self.fake.postcode().replace(" ", "")
            return f"{code[:3]} {code[3:]}" if self.chance(0.6) else code
        code = self.fake.postcode()
        return code.lower() if self.chance(0.03) else code

    # -- organizations ---------------------------------------------------------------------
    def organization(self, kind: str) -> str:
        """``kind``: hospital, practice, employer."""
        f, last, town = self.fake, self.fake.last_name(), self.town()
        uk = self.locale in ("en_GB", "en_IE", "en_AU")
        centre = "Centre" if uk or (self.locale == "en_CA" and self.chance(0.5)) else "Center"
        if kind == "hospital":
            return self.pick(
                f"{last} Memorial Hospital",
                f"{town} General Hospital",
                f"St. {f.first_name()}'s Hospital",
                f"St {f.first_name()}'s University Hospital",
                f"{town} Royal Infirmary",
                f"Royal {town} Hospital",
                f"{last} Regional Medical {centre}",
                f"{town} Children's Hospital",
                f"{town} University Hospital",
                f"Mount {last} Hospital",
            )
        if kind == "practice":
            return self.pick(
                f"{last} Family Practice",
                f"{last} Medical Group",
                f"{f.street_name()} Surgery",
                f"{town} Medical {centre}",
                f"{last} & {f.last_name()} Dental",
                f"{last} Physiotherapy Clinic",
                f"{town} Health {centre}",
                f"{last} Pediatrics",
                f"The {f.street_name()} Practice",
                f"{town} Women's Clinic",
                f"{last} Pharmacy",
            )
        return self.pick(
            f.company(),
            f.company(),
            f"{last} Logistics Ltd",
            f"{town} Council",
            f"{last} Engineering",
            f"{last} & Sons",
            f"{town} Grammar School",
            f"{last} Construction Pty Ltd" if self.locale == "en_AU" else f"{last} Holdings",
        )

    # -- numbers ---------------------------------------------------------------------------
    def phone(self) -> str:
        loc, r = self.locale, self.rng
        if loc in ("en_US", "en_CA"):
            a = r.choice(_CA_AREAS) if loc == "en_CA" else r.randint(201, 989)
            if a % 100 == 11:
                a += 1
            b, c = r.randint(200, 999), r.randint(0, 9999)
            return self.pick(
                f"({a}) {b}-{c:04d}",
                f"{a}-{b}-{c:04d}",
                f"{a}.{b}.{c:04d}",
                f"+1 {a} {b} {c:04d}",
                f"+1-{a}-{b}-{c:04d}",
                f"{a}{b}{c:04d}",
                f"1-{a}-{b}-{c:04d}",
                f"+1 ({a}) {b}-{c:04d}",
                f"({a}){b}-{c:04d}",
                f"{a}-{b}-{c:04d} ext. {r.randint(10, 999)}",
            )
        if loc == "en_GB":
            if self.chance(0.35):
                m = f"7{r.randint(100, 999)}{self.digits(6)}"
                return self.pick(f"0{m[:4]} {m[4:]}", f"0{m}", f"+44 {m[:4]} {m[4:]}", f"+44{m}")
            area = r.choice(_UK_AREAS + _UK_AREAS2)
            rest = self.digits(11 - len(area))
            if len(area) == 3:
                return self.pick(
                    f"{area} {rest[:4]} {rest[4:]}",
                    f"{area}{rest}",
                    f"({area}) {rest[:4]} {rest[4:]}",
                    f"+44 (0){area[1:]} {rest[:4]} {rest[4:]}",
                    f"+44 {area[1:]} {rest[:4]} {rest[4:]}",
                )
            return self.pick(
                f"{area} {rest[:3]} {rest[3:]}",
                f"{area} {rest}",
                f"{area}{rest}",
                f"({area}){rest}",
                f"({area}) {rest}",
                f"+44 {area[1:]} {rest}",
                f"{area}-{rest[:3]}-{rest[3:]}",
            )
        if loc == "en_AU":
            if self.chance(0.4):
                m = f"4{self.digits(8)}"
                return self.pick(
                    f"0{m[:3]} {m[3:6]} {m[6:]}", f"0{m}", f"+61 {m[:3]} {m[3:6]} {m[6:]}"
                )
            area, rest = r.choice(_AU_AREAS), self.digits(8)
            return self.pick(
                f"({area}) {rest[:4]} {rest[4:]}",
                f"{area} {rest[:4]} {rest[4:]}",
                f"{area}{rest}",
                f"+61 {area[1:]} {rest[:4]} {rest[4:]}",
            )
        if self.chance(0.4):
            pre, rest = r.choice(_IE_MOBILE), self.digits(7)
            return self.pick(
                f"{pre} {rest[:3]} {rest[3:]}",
                f"{pre}{rest}",
                f"+353 {pre[1:]} {rest[:3]} {rest[3:]}",
            )
        area = r.choice(_IE_AREAS)
        rest = self.digits(7)
        return self.pick(
            f"{area} {rest[:3]} {rest[3:]}",
            f"({area}) {rest}",
            f"{area} {rest}",
            f"+353 {area[1:]} {rest[:3]} {rest[3:]}",
        )

    def email(self, n: Name | None = None) -> str:
        f = self.fake
        if n is not None and self.chance(0.6):
            first = n.first.lower().replace(" ", "").replace("'", "")
            last = n.last.lower().replace(" ", "").replace("'", "")
            user = self.pick(f"{first}.{last}", f"{first[0]}{last}", f"{first}{self.digits(2)}")
            user = user.encode("ascii", "ignore").decode() or "user"
            email = f"{user}@{f.free_email_domain() if self.chance(0.5) else f.domain_name()}"
        else:
            email = f.email()
        if self.chance(0.05):
            user, domain = email.split("@")
            host, _, tld = domain.rpartition(".")
            email = f"{user} at {host.replace('.', ' dot ')} dot {tld}"
        return email

    def date(self, *, dob: bool = False) -> str:
        # Dates relative to a fixed day, not to the day the generator runs: the corpus (and the
        # digest of it that the shipped weights record) must not change from one day to the next.
        years = 95 if dob else 6
        start = REFERENCE_DAY + timedelta(days=-365.24 * years)  # Faker's own "-Ny" arithmetic
        d = self.fake.date_between(start_date=start, end_date=REFERENCE_DAY)
        us = self.locale == "en_US"
        day = d.day
        suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        return self.pick(
            d.strftime("%m/%d/%Y") if us else d.strftime("%d/%m/%Y"),
            d.strftime("%B %-d, %Y") if us else d.strftime("%-d %B %Y"),
            d.strftime("%Y-%m-%d"),
            d.strftime("%d %b %Y"),
            d.strftime("%-m/%-d/%y") if us else d.strftime("%d.%m.%Y"),
            f"{day}{suffix} {d.strftime('%B %Y')}",
        )

    def age_over_89(self) -> str:
        return str(self.rng.randint(90, 104))

    def ssn(self) -> str:
        return self.fakers["en_US"].ssn()

    def national_id(self) -> str:
        """The locale's national identity number (labelled SSN: the nearest Bastion type)."""
        loc, r = self.locale, self.rng
        if loc == "en_GB":
            p = self.pick("AB", "CE", "JG", "KL", "NP", "SR", "TW", "YZ")
            d = self.digits(6)
            return self.pick(
                f"{p}{d}{self.pick('A', 'B', 'C', 'D')}", f"{p} {d[:2]} {d[2:4]} {d[4:]} C"
            )
        if loc == "en_CA":
            d = f"{r.randint(1, 7)}{self.digits(8)}"
            return self.pick(f"{d[:3]} {d[3:6]} {d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}")
        if loc == "en_AU":
            d = self.digits(9)
            return f"{d[:3]} {d[3:6]} {d[6:]}"
        if loc == "en_IE":
            return f"{self.digits(7)}{self.pick(*string.ascii_uppercase)}{self.pick('', 'A', 'W')}"
        return self.ssn()

    def health_id(self) -> tuple[str, str, str]:
        """(cue, value, entity type) of the locale's health-system number."""
        loc = self.locale
        if loc == "en_GB":
            d = self.digits(10)
            return (
                self.pick("NHS number", "NHS No.", "NHS no:"),
                self.pick(f"{d[:3]} {d[3:6]} {d[6:]}", d),
                "MRN",
            )
        if loc == "en_AU":
            d = self.digits(10)
            return ("Medicare number", f"{d[:4]} {d[4:9]} {d[9]}", "MEMBER_ID")
        if loc == "en_CA":
            d = self.digits(10)
            return (
                "health card",
                f"{d[:4]}-{d[4:7]}-{d[7:]}-{self.pick('AB', 'KL', 'XT')}",
                "MEMBER_ID",
            )
        if loc == "en_IE":
            return ("IHI", self.digits(12), "MEMBER_ID")
        return (self.pick("member ID", "Member #", "subscriber ID"), self.member_id(), "MEMBER_ID")

    def mrn(self) -> str:
        n = self.rng.randint(10**5, 10**9)
        return self.pick(
            str(n), f"{n:08d}", f"A{n:07d}"[:9], f"MR{n:07d}"[:9], f"{n // 1000}-{n % 1000:03d}"
        )

    def member_id(self) -> str:
        letters = "".join(self.rng.choices(string.ascii_uppercase, k=3))
        n = self.rng.randint(10**8, 10**9 - 1)
        return self.pick(f"{letters}{n}", f"W{n}", f"{letters}-{n}")

    def accession(self) -> str:
        yy, n = self.rng.randint(10, 26), self.rng.randint(1, 99999)
        return self.pick(f"S{yy}-{n:05d}", f"ACC{yy}{n:06d}", f"{yy}-LAB-{n:05d}", f"CT{yy}{n:07d}")

    def npi(self) -> str:
        body = str(self.rng.choice((1, 2))) + self.digits(8)
        return body + _luhn_digit("80840" + body)

    def dea(self) -> str:
        d = [self.rng.randint(0, 9) for _ in range(6)]
        check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
        return (
            self.pick(*"ABFGM")
            + self.pick(*string.ascii_uppercase)
            + "".join(map(str, d))
            + str(check)
        )

    def card(self) -> str:
        number = self.fakers["en_US"].credit_card_number()
        if len(number) == 16 and self.chance(0.4):
            sep = self.pick(" ", "-")
            return sep.join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def account(self) -> str:
        return self.digits(self.rng.randint(8, 12))

    def routing(self) -> tuple[str, str]:
        """(cue, value) of the locale's bank routing code (ABA, sort code, BSB, transit)."""
        loc = self.locale
        if loc in ("en_GB", "en_IE"):
            d = self.digits(6)
            return ("sort code", f"{d[:2]}-{d[2:4]}-{d[4:]}")
        if loc == "en_AU":
            d = self.digits(6)
            return ("BSB", f"{d[:3]}-{d[3:]}")
        return ("routing number", self.fakers["en_US"].aba())

    def iban(self) -> str:
        fake = self.fakers["en_IE" if self.locale == "en_IE" else "en_GB"]
        iban = fake.iban()
        if self.chance(0.3):
            iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban.lower() if self.chance(0.1) else iban

    def driver_license(self) -> str:
        r = self.rng
        return self.pick(
            r.choice(string.ascii_uppercase) + str(r.randint(10**6, 10**7 - 1)),
            r.choice(string.ascii_uppercase) + "-".join(str(r.randint(100, 999)) for _ in range(3)),
            str(r.randint(10**8, 10**9 - 1)),
        )

    def passport(self) -> str:
        r = self.rng
        return self.pick(
            str(r.randint(10**8, 10**9 - 1)),
            r.choice(string.ascii_uppercase) + str(r.randint(10**7, 10**8 - 1)),
        )


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)
