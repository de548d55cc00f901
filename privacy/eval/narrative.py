"""Evaluation family "narrative": clinical notes, referral and discharge letters.

Free prose in a clinician's voice: identifiers sit inside sentences, often with no cue word.
Every list and format below belongs to this family only.
"""

from __future__ import annotations

import random

from privacy.eval._render import (
    Doc,
    L,
    dea_check,
    digits,
    letters,
    luhn_complete,
    nhs_check,
    ppsn_check,
    tfn_check,
)

__all__ = ["N_DOCS", "SEED", "generate"]

SEED = 20261201
N_DOCS = 120
LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE")

_FIRST = {
    "en_US": [
        "Delphine",
        "Roscoe",
        "Marisol",
        "Thaddeus",
        "Yolanda",
        "Everett",
        "Shonda",
        "Cornelius",
        "Priya",
        "Lucian",
        "Bethany",
        "Dwayne",
        "Imelda",
        "Garrison",
        "Latoya",
        "Wendell",
        "Consuelo",
        "Bartholomew",
        "Kimberly",
        "Desmond",
    ],
    "en_GB": [
        "Philippa",
        "Rupert",
        "Gwendolyn",
        "Alasdair",
        "Imogen",
        "Crispin",
        "Rosamund",
        "Declan",
        "Harriet",
        "Tobias",
        "Bronwen",
        "Nigel",
        "Saoirse",
        "Rhys",
        "Olwen",
        "Barnaby",
        "Priti",
        "Ravinder",
        "Hermione",
        "Godfrey",
    ],
    "en_CA": [
        "Genevieve",
        "Lachlan",
        "Mireille",
        "Tremaine",
        "Anouk",
        "Desjardin",
        "Solange",
        "Brayden",
        "Ingrid",
        "Pascal",
        "Noelani",
        "Cedric",
        "Ophelie",
        "Rowan",
        "Yvette",
        "Dmitri",
        "Chantal",
        "Isidore",
        "Avery",
        "Kwame",
    ],
    "en_AU": [
        "Shazza",
        "Bronte",
        "Lachie",
        "Kirra",
        "Jarrah",
        "Matilda",
        "Hamish",
        "Tegan",
        "Darcy",
        "Indigo",
        "Callum",
        "Saffron",
        "Fletcher",
        "Jedda",
        "Ruby",
        "Banjo",
        "Tamsin",
        "Errol",
        "Kylie",
        "Warrick",
    ],
    "en_IE": [
        "Aoife",
        "Cathal",
        "Grainne",
        "Oisin",
        "Niamh",
        "Padraig",
        "Siobhan",
        "Ruairi",
        "Clodagh",
        "Eoghan",
        "Sorcha",
        "Fiachra",
        "Orla",
        "Donncha",
        "Caoimhe",
        "Tadhg",
        "Eimear",
        "Colm",
        "Roisin",
        "Fionnuala",
    ],
}
_LAST = {
    "en_US": [
        "Okafor",
        "Brannigan",
        "Vasquez-Ortiz",
        "Whitlock",
        "Tran",
        "Pemberton",
        "Kowalczyk",
        "Abernathy",
        "Delacroix",
        "Haskins",
        "Nakamura",
        "Fairweather",
        "Lindgren",
        "Castellano",
        "Beaumont",
        "Mayweather",
        "Holloway",
        "Rutledge",
        "Szymanski",
        "Montague",
    ],
    "en_GB": [
        "Ashcombe",
        "Pryce-Jones",
        "Winterbottom",
        "Featherstone",
        "Okonjo",
        "Hargreaves",
        "Penhaligon",
        "Blackwood",
        "Thistlethwaite",
        "Oduya",
        "Cartwright",
        "Fenwick",
        "Llewellyn",
        "Smethurst",
        "Ramsbottom",
        "Chaudhry",
        "Greenhalgh",
        "Ackroyd",
        "Bellamy",
        "Trevelyan",
    ],
    "en_CA": [
        "Achterberg-Nwosu",
        "Tremblay",
        "Beaulieu",
        "Gagnon",
        "MacIsaac",
        "Bouchard",
        "Wojcik",
        "Fraser",
        "Lapointe",
        "Chowdhury",
        "Desrosiers",
        "McTavish",
        "Kaminski",
        "Pelletier",
        "Arsenault",
        "Nguyen-Lam",
        "Ouellette",
        "Sinclair",
        "Boudreau",
        "Lachance",
    ],
    "en_AU": [
        "Trengrove",
        "Pettigrew",
        "Kowalski",
        "Nguyen",
        "Halloran",
        "Papadopoulos",
        "Wirrpanda",
        "Fitzsimmons",
        "Carmody",
        "Brackenridge",
        "Dimitriou",
        "Castellari",
        "Yunupingu",
        "Westaway",
        "Moretti",
        "Gallagher",
        "Henwood",
        "Tuckwell",
        "Ashworth",
        "Barrington",
    ],
    "en_IE": [
        "O'Sullivan",
        "Ní Bhriain",
        "MacGiolla",
        "Fitzgerald",
        "O'Doherty",
        "Breathnach",
        "Kavanagh",
        "Mac Suibhne",
        "Geraghty",
        "Uí Cheallaigh",
        "Tierney",
        "Brosnan",
        "Cullinane",
        "Flanagan",
        "O'Loughlin",
        "Donnellan",
        "Hennessy",
        "Moriarty",
    ],
}
_STREET_WORDS = {
    "en_US": [
        "Sycamore",
        "Larkspur",
        "Chisholm",
        "Bellweather",
        "Tamarack",
        "Whitford",
        "Quarry",
        "Hollister",
        "Ridgecrest",
        "Magnolia",
        "Saltbox",
        "Carver",
    ],
    "en_GB": [
        "Tenterden",
        "Gorsey",
        "Pondside",
        "Quarrybank",
        "Foxglove",
        "Marlpit",
        "Cinderhill",
        "Hartwell",
        "Kingsmead",
        "Wheelwright",
        "Orchard",
        "Dovecote",
    ],
    "en_CA": [
        "Laurentian",
        "Spruce",
        "Beaverbrook",
        "Maplecroft",
        "Portage",
        "Fundy",
        "Glengarry",
        "Tecumseh",
        "Cartier",
        "Wolfe",
        "Sherbrooke",
        "Brant",
    ],
    "en_AU": [
        "Banksia",
        "Wattle",
        "Kookaburra",
        "Jacaranda",
        "Ironbark",
        "Lyrebird",
        "Bottlebrush",
        "Coolabah",
        "Tallowwood",
        "Brolga",
        "Mulga",
        "Grevillea",
    ],
    "en_IE": [
        "Ballyhale",
        "Cnoc",
        "Rathmore",
        "Slievemore",
        "Clonard",
        "Inchicore",
        "Knockmore",
        "Ardagh",
        "Glenview",
        "Tullamore",
        "Clonmellon",
        "Drumcondra",
    ],
}
_STREET_KINDS = {
    "en_US": ["Street", "Avenue", "Blvd", "Lane", "Drive", "Court", "Pkwy", "Rd"],
    "en_GB": ["Road", "Hill", "Close", "Gardens", "Mews", "Crescent", "Field", "Row"],
    "en_CA": ["Street", "Avenue", "Crescent", "Boulevard", "Road", "Way", "Drive"],
    "en_AU": ["Street", "St", "Parade", "Esplanade", "Avenue", "Crescent", "Terrace"],
    "en_IE": ["Road", "Terrace", "Park", "Avenue", "Lawn", "Grove", "Heights"],
}
# (town, region) and the region's postcode seed.
_TOWNS = {
    "en_US": [
        ("Port Aldridge", "VA", "23"),
        ("Millbrook Falls", "OH", "45"),
        ("Dayton", "OH", "45"),
        ("Keene", "NH", "03"),
        ("Lakewood Heights", "CO", "80"),
        ("Bozeman", "MT", "59"),
        ("West Aurelia", "TX", "77"),
        ("Fresno", "CA", "93"),
        ("Oak Hollow", "GA", "30"),
    ],
    "en_GB": [
        ("Hexley Cross", "", "M"),
        ("Harrogate", "", "HG"),
        ("Kettering", "", "NN"),
        ("Norwich", "", "NR"),
        ("Lower Ashby", "", "LE"),
        ("Truro", "", "TR"),
        ("Brackley Green", "", "OX"),
        ("Sheffield", "", "S"),
        ("Carlisle", "", "CA"),
    ],
    "en_CA": [
        ("Kingston", "ON", "K"),
        ("Moncton", "NB", "E"),
        ("Red Deer", "AB", "T"),
        ("Nanaimo", "BC", "V"),
        ("Trois-Rivieres", "QC", "G"),
        ("Brandon", "MB", "R"),
        ("Port Alder", "NS", "B"),
        ("Saskatoon", "SK", "S"),
        ("Guelph", "ON", "N"),
    ],
    "en_AU": [
        ("Ballarat", "VIC", "3"),
        ("Toowoomba", "QLD", "4"),
        ("Wagga Wagga", "NSW", "2"),
        ("Mandurah", "WA", "6"),
        ("Launceston", "TAS", "7"),
        ("Mount Barker", "SA", "5"),
        ("Coolangatta", "QLD", "4"),
        ("Bendigo", "VIC", "3"),
        ("Dubbo", "NSW", "2"),
    ],
    "en_IE": [
        ("Galway", "Co. Galway", "H91"),
        ("Ennis", "Co. Clare", "V95"),
        ("Tralee", "Co. Kerry", "V92"),
        ("Kilkenny", "Co. Kilkenny", "R95"),
        ("Letterkenny", "Co. Donegal", "F92"),
        ("Mullingar", "Co. Westmeath", "N91"),
        ("Dublin", "", "D08"),
        ("Cork", "", "T12"),
        ("Sligo", "Co. Sligo", "F91"),
    ],
}
_HOSP_KIND = [
    "Memorial Hospital",
    "General Hospital",
    "University Hospital",
    "Infirmary",
    "Regional Medical Centre",
    "Community Hospital",
    "Base Hospital",
]
_PRACTICE_KIND = [
    "Medical Practice",
    "Family Health Centre",
    "Surgery",
    "Health Clinic",
    "Medical Group",
    "Primary Care Associates",
]
_EMPLOYER_KIND = [
    "Logistics Ltd",
    "Construction Inc",
    "Timber Co.",
    "Freight Pty Ltd",
    "Dairies",
    "Engineering Ltd",
    "Packaging LLC",
    "Haulage",
]
_DRUGS = [
    "metformin 500 mg twice daily",
    "atorvastatin 40 mg at night",
    "ramipril 5 mg",
    "apixaban 5 mg bd",
    "sertraline 50 mg mane",
    "levothyroxine 75 mcg",
    "salbutamol inhaler PRN",
    "paracetamol 1 g qds",
    "bisoprolol 2.5 mg",
    "omeprazole 20 mg",
    "furosemide 40 mg",
    "amoxicillin 500 mg tds for 5 days",
]
_FINDINGS = [
    "HbA1c 58 mmol/mol",
    "eGFR 64",
    "BP 142/88",
    "Hb 118 g/L",
    "CRP 12",
    "sodium 136 mmol/L",
    "temperature 37.9 C",
    "SpO2 96% on room air",
    "BMI 31.4",
    "potassium 4.1",
    "troponin negative x2",
    "heart rate 92 bpm",
]
_CONDITIONS = [
    "type 2 diabetes",
    "COPD",
    "atrial fibrillation",
    "hypertension",
    "community-acquired pneumonia",
    "cellulitis of the left leg",
    "a fall at home",
    "chest pain on exertion",
    "worsening heart failure",
    "an acute kidney injury",
]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


class _Gen:
    """Value composition for one locale (this family's own formats)."""

    def __init__(self, rng: random.Random, locale: str) -> None:
        self.rng = rng
        self.loc = locale

    def pick(self, seq):
        return self.rng.choice(seq)

    def first(self) -> str:
        return self.pick(_FIRST[self.loc])

    def last(self) -> str:
        return self.pick(_LAST[self.loc])

    def street(self) -> str:
        r, loc = self.rng, self.loc
        base = f"{self.pick(_STREET_WORDS[loc])} {self.pick(_STREET_KINDS[loc])}"
        n = r.randint(2, 980)
        if loc == "en_GB" and r.random() < 0.5:
            flat = self.pick(["Flat", "Studio", "Apartment"])
            return f"{flat} {r.randint(1, 99)}{self.pick(['', 'a', 'b', 'm'])} {base}"
        if loc == "en_AU" and r.random() < 0.4:
            return f"Unit {r.randint(1, 40)}/{n} {base}"
        if loc == "en_US" and r.random() < 0.3:
            return f"{n} {base}, Apt {r.randint(1, 30)}{self.pick('ABCD')}"
        if loc == "en_CA" and r.random() < 0.3:
            return f"{r.randint(100, 2400)}-{n} {base}"
        return f"{n} {base}"

    def town(self) -> tuple[str, str, str]:
        town, region, seed = self.pick(_TOWNS[self.loc])
        return town, region, self.postcode(seed)

    def postcode(self, seed: str) -> str:
        r = self.rng
        if self.loc == "en_US":
            z = seed + digits(r, 3)
            return z + (f"-{digits(r, 4)}" if r.random() < 0.25 else "")
        if self.loc == "en_GB":
            return (
                f"{seed}{r.randint(1, 29)} {r.randint(0, 9)}{letters(r, 2, 'ABDEFGHJLNPQRSTUWXYZ')}"
            )
        if self.loc == "en_CA":
            return (
                f"{seed}{r.randint(0, 9)}{letters(r, 1, 'ABCEGHJKLMNPRSTVWXYZ')} "
                f"{r.randint(0, 9)}{letters(r, 1, 'ABCEGHJKLMNPRSTVWXYZ')}{r.randint(0, 9)}"
            )
        if self.loc == "en_AU":
            return seed + digits(r, 3)
        return f"{seed} {letters(r, 4, 'ACDEFHKNPRTVWXY0123456789')}"

    def phone(self) -> str:
        r = self.rng
        tail = f"{r.randint(0, 99):02d}"
        if self.loc in ("en_US", "en_CA"):
            area = self.pick(
                ["614", "802", "503", "919"]
                if self.loc == "en_US"
                else ["613", "506", "403", "250"]
            )
            return self.pick(
                [
                    f"({area}) 555-01{tail}",
                    f"{area}-555-01{tail}",
                    f"{area}.555.01{tail}",
                    f"{area}55501{tail}",
                    f"+1 {area} 555 01{tail}",
                ]
            )
        if self.loc == "en_GB":
            return self.pick(
                [
                    f"01632 960{r.randint(0, 999):03d}",
                    f"020 7946 0{r.randint(0, 999):03d}",
                    f"(0131) 496 0{r.randint(0, 999):03d}",
                    f"0114 496 0{r.randint(0, 999):03d}",
                    f"01914980{r.randint(0, 999):03d}",
                    f"07700 900{r.randint(0, 999):03d}",
                ]
            )
        if self.loc == "en_AU":
            return self.pick(
                [
                    f"0491 570 {r.randint(100, 159)}",
                    f"(02) 5550 {digits(r, 4)}",
                    f"(03) 7010 {digits(r, 4)}",
                    f"+61 491 570 {r.randint(100, 159)}",
                    f"04{digits(r, 2)} 5{digits(r, 2)} {digits(r, 3)}",
                ]
            )
        return self.pick(
            [
                f"(091) 55{digits(r, 1)} {digits(r, 4)}",
                f"087 {digits(r, 3)} {digits(r, 4)}",
                f"+353 86 {digits(r, 3)} {digits(r, 4)}",
                f"01 {digits(r, 3)} {digits(r, 4)}",
            ]
        )

    def date(self, year_lo: int = 1930, year_hi: int = 2025) -> str:
        r = self.rng
        y, m, d = r.randint(year_lo, year_hi), r.randint(1, 12), r.randint(1, 28)
        if self.loc == "en_US":
            return self.pick([f"{m:02d}/{d:02d}/{y}", f"{_MONTHS[m - 1]} {d}, {y}", f"{m}/{d}/{y}"])
        if self.loc == "en_CA":
            return self.pick([f"{y}-{m:02d}-{d:02d}", f"{_MONTHS[m - 1]} {d}, {y}"])
        return self.pick(
            [
                f"{d:02d}/{m:02d}/{y}",
                f"{d} {_MONTHS[m - 1]} {y}",
                f"{d}-{_MONTHS[m - 1][:3]}-{y}",
                f"{d}.{m}.{y}",
            ]
        )

    def record_no(self) -> str:
        r = self.rng
        if self.loc == "en_GB":
            return self.pick([f"{letters(r, 1)}{digits(r, 6)}", f"RX{digits(r, 5)}"])
        if self.loc == "en_IE":
            return f"{digits(r, 6)}"
        return self.pick(
            [digits(r, 8, True), f"{digits(r, 3, True)}-{digits(r, 2)}-{digits(r, 3)}"]
        )

    def health_no(self) -> str:
        r = self.rng
        if self.loc == "en_GB":
            while (nhs := nhs_check(digits(r, 9, True))) is None:
                pass
            return f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
        if self.loc == "en_AU":
            return f"{r.randint(2, 6)}{digits(r, 3)} {digits(r, 5)} {r.randint(1, 9)}"
        if self.loc == "en_CA":
            return f"{digits(r, 4, True)}-{digits(r, 3)}-{digits(r, 3)}-{letters(r, 2)}"
        if self.loc == "en_IE":
            return f"{digits(r, 8, True)}{letters(r, 1)}"
        return (
            f"{r.randint(1, 9)}{letters(r, 1, 'ACDEFGHJKMNPQRTUVWXY')}{r.randint(1, 9)}"
            f"{digits(r, 1)}-"
            f"{letters(r, 2, 'ACDEFGHJKMNPQRTUVWXY')}{r.randint(0, 9)}-"
            f"{letters(r, 2, 'ACDEFGHJKMNPQRTUVWXY')}{digits(r, 2)}"
        )

    def national_id(self) -> str:
        r = self.rng
        if self.loc == "en_US":
            return f"{r.randint(101, 665)}-{r.randint(10, 99)}-{digits(r, 4, True)}"
        if self.loc == "en_GB":
            return (
                f"{self.pick(['QQ', 'JT', 'NP', 'WK'])} {digits(r, 2)} {digits(r, 2)} "
                f"{digits(r, 2)} {self.pick('ABCD')}"
            )
        if self.loc == "en_CA":
            sin = luhn_complete(str(r.randint(1, 7)) + digits(r, 7))
            return f"{sin[:3]} {sin[3:6]} {sin[6:]}"
        if self.loc == "en_AU":
            while (tfn := tfn_check(digits(r, 8, True))) is None:
                pass
            return f"{tfn[:3]} {tfn[3:6]} {tfn[6:]}"
        return ppsn_check(digits(r, 7)) + self.pick(["", "A", "W"])

    def org(self, kind: list[str]) -> str:
        stem = self.pick(
            [self.last(), self.pick(_TOWNS[self.loc])[0], self.pick(_STREET_WORDS[self.loc])]
        )
        return f"{stem} {self.pick(kind)}"


def _name(g: _Gen, style: str, first: str, last: str) -> list[str | L]:
    """A person name in one of this family's renderings; titles and post-nominals unlabelled."""
    if style == "title":
        return [
            g.pick(["Mr. ", "Mrs ", "Ms. ", "Miss ", "Mx ", "Mr "]),
            L("PERSON", f"{first} {last}"),
        ]
    if style == "comma":
        return [L("PERSON", f"{last}, {first}")]
    if style == "upper":
        return [L("PERSON", f"{last.upper()}, {first.upper()}")]
    if style == "lower":
        return [L("PERSON", f"{first.lower()} {last.lower()}")]
    if style == "suffix":
        return [L("PERSON", f"{first} {last}"), g.pick([" Jr.", " III", " Sr", " II"])]
    if style == "initial":
        return [L("PERSON", f"{first} {g.pick('ABCDEFGHJKLMNPRSTW')}. {last}")]
    return [L("PERSON", f"{first} {last}")]


def _doctor(g: _Gen) -> list[str | L]:
    first, last = g.first(), g.last()
    return g.pick(
        [
            ["Dr. ", L("PERSON", f"{first} {last}")],
            ["Dr ", L("PERSON", f"{first[0]}. {last}")],
            [L("PERSON", f"{first} {last}"), g.pick([" MD", ", MD", " FRCP", " MRCGP", " FRACP"])],
            ["Professor ", L("PERSON", f"{first} {last}")],
            [L("PERSON", f"{first} {last}"), ", nurse practitioner"],
        ]
    )


def _age_phrase(g: _Gen) -> list[str | L]:
    if g.rng.random() < 0.35:
        return [L("AGE", str(g.rng.randint(90, 104))), "-year-old"]
    return [str(g.rng.randint(19, 88)), "-year-old"]


def _paragraphs(g: _Gen) -> list[list[str | L]]:
    r = g.rng
    first, last = g.first(), g.last()
    style = g.pick(["plain", "title", "comma", "upper", "lower", "suffix", "initial", "title"])
    who = _name(g, style, first, last)
    town, region, pc = g.town()
    region_txt = f", {region}" if region else ""
    addr = [L("ADDRESS", g.street()), ", ", L("LOCATION", town), region_txt, " ", L("ZIP", pc)]
    hosp = L("ORGANIZATION", g.org(_HOSP_KIND))
    practice = L("ORGANIZATION", g.org(_PRACTICE_KIND))
    employer = L("ORGANIZATION", g.org(_EMPLOYER_KIND))
    cond, drug, finding = g.pick(_CONDITIONS), g.pick(_DRUGS), g.pick(_FINDINGS)
    rec = L("MRN", g.record_no())
    rec_cue = g.pick(["Chart", "Hosp no.", "Unit number", "Case ref", "Record", "Hospital number"])
    paras: list[list[str | L]] = [
        ["Re: ", *who, ", born ", L("DATE", g.date(1925, 2005)), ". ", rec_cue, " ", rec, ".\n\n"],
        [
            L("PERSON", first),
            " is a ",
            *_age_phrase(g),
            " seen today with ",
            cond,
            ". ",
            g.pick(["She", "He", "They"]),
            " lives at ",
            *addr,
            " and works for ",
            employer,
            ".\n\n",
        ],
        [
            "Thank you for asking me to see ",
            *who,
            " on ",
            L("DATE", g.date(2019, 2025)),
            ". I reviewed ",
            g.pick(["her", "his", "their"]),
            " notes from ",
            hosp,
            " where ",
            finding,
            " was recorded at ",
            f"{r.randint(6, 22)}:{r.randint(0, 59):02d}",
            ".\n\n",
        ],
        [
            "On examination ",
            finding,
            ". Current medication: ",
            drug,
            " and ",
            g.pick(_DRUGS),
            ". Plan discussed with ",
            *_doctor(g),
            " who can be reached on ",
            L("PHONE", g.phone()),
            ".\n\n",
        ],
        [
            "Discharged to the care of ",
            practice,
            " (",
            *_doctor(g),
            "). Family contact: ",
            L("PERSON", f"{g.first()} {last}"),
            ", ",
            g.pick(["daughter", "son", "husband", "wife", "partner", "neighbour"]),
            ", mobile ",
            L("PHONE", g.phone()),
            " or ",
            L("PHONE", g.phone()),
            ".\n\n",
        ],
        [
            "Identifiers confirmed at the bedside: ",
            g.pick(["health number", "health card", "national health id"]),
            " ",
            L("MEMBER_ID", g.health_no()),
            "; ",
            g.pick(["tax or insurance number", "national identifier"]),
            " ",
            L("SSN", g.national_id()),
            ".\n\n",
        ],
        [
            "Follow-up arranged at ",
            hosp,
            " outpatients, ",
            f"{r.randint(2, 12)} weeks. ",
            "Letters to ",
            *addr,
            ". Results from specimen ",
            L("ACCESSION", f"{letters(r, 1, 'SHC')}{r.randint(19, 25)}-{digits(r, 6)}"),
            " are pending.\n\n",
        ],
    ]
    if g.loc == "en_US":
        paras.append(
            [
                "Prescriber ",
                *_doctor(g),
                ", NPI ",
                L("NPI", luhn_complete("80840" + "1" + digits(r, 8))[5:]),
                ", DEA ",
                L("DEA", dea_check(g.pick(["A", "B", "F"]) + last[0].upper(), digits(r, 6))),
                ". Insurance member ",
                L("MEMBER_ID", f"{letters(r, 3)}{digits(r, 9)}"),
                "; last four of social ",
                L("SSN", digits(r, 4, True)),
                ".\n\n",
            ]
        )
    else:
        paras.append(
            [
                "The patient's ",
                g.pick(["employer", "line manager"]),
                " at ",
                employer,
                " phoned on ",
                L("PHONE", g.phone()),
                " asking for a fit note; no details were given.\n\n",
            ]
        )
    paras.append(
        [
            g.pick(["Seen with interpreter. ", "", "Capacity assessed. "]),
            L("PERSON", first.lower()),
            " says the pain is ",
            str(r.randint(3, 8)),
            "/10 and improving on ",
            drug,
            ".\n\n",
        ]
    )
    return paras


def _document(g: _Gen) -> Doc:
    paras = _paragraphs(g)
    opening = g.pick(
        [
            ["DISCHARGE SUMMARY\n\n"],
            ["Referral letter\n\n"],
            ["Clinic note\n\n"],
            ["Dear ", *_doctor(g), ",\n\n"],
            ["Ward round entry\n\n"],
        ]
    )
    chosen = [paras[0], *g.rng.sample(paras[1:], k=min(len(paras) - 1, g.rng.randint(5, 7)))]
    doc = Doc().extend(opening)
    for p in chosen:
        doc.extend(p)
    doc.extend(
        g.pick(
            [
                ["Yours sincerely,\n", *_doctor(g), "\n"],
                ["Signed ", *_doctor(g), "\n"],
                ["-- ", *_doctor(g), ", ", L("ORGANIZATION", g.org(_HOSP_KIND)), "\n"],
            ]
        )
    )
    return doc


def generate(seed: int = SEED, n_docs: int = N_DOCS) -> list[dict]:
    """The family's records, deterministic in ``seed``."""
    rng = random.Random(seed)
    out = []
    for i in range(n_docs):
        locale = LOCALES[i % len(LOCALES)]
        doc = _document(_Gen(rng, locale))
        assert doc.spans is not None
        out.append(
            {
                "id": f"narrative-{i:04d}",
                "locale": locale,
                "text": doc.text,
                "spans": [{"start": s, "end": e, "type": t} for s, e, t in doc.spans],
            }
        )
    return out
