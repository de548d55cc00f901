"""Evaluation family "dialogue": chat and call transcripts with a bank or a hospital.

Short turns, casual typing (lower case, missing punctuation), numbers read out in words, the
agent confirming details back. Every list and format below belongs to this family only.
"""

from __future__ import annotations

import random

from privacy.eval._render import (
    Doc,
    L,
    aba_check,
    ascii_handle,
    digits,
    iban_check,
    letters,
    luhn_complete,
    nhs_check,
    vin_check,
)

__all__ = ["N_DOCS", "SEED", "generate"]

SEED = 5551212
N_DOCS = 160
LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE")

_GIVEN = {
    "en_US": [
        "Marcus",
        "Tanisha",
        "Brody",
        "Esperanza",
        "Quentin",
        "Jolene",
        "Darnell",
        "Mackenzie",
        "Reginald",
        "Soo-jin",
        "Travis",
        "Lupita",
        "Gideon",
        "Ashlyn",
    ],
    "en_GB": [
        "Callum",
        "Poppy",
        "Jasvinder",
        "Eleri",
        "Fergus",
        "Tilly",
        "Kwabena",
        "Maisie",
        "Alfie",
        "Georgina",
        "Hamza",
        "Bethan",
        "Ollie",
        "Ffion",
    ],
    "en_CA": [
        "Jean-Luc",
        "Maddison",
        "Rajdeep",
        "Heloise",
        "Tyrell",
        "Brielle",
        "Anik",
        "Colette",
        "Dawson",
        "Inuk",
        "Roxanne",
        "Thierry",
        "Kenji",
        "Paloma",
    ],
    "en_AU": [
        "Bodhi",
        "Kayla",
        "Lochlan",
        "Tahlia",
        "Jayden",
        "Mikaela",
        "Koa",
        "Shannon",
        "Brodie",
        "Ngaire",
        "Rhys",
        "Jacinta",
        "Tully",
        "Leilani",
    ],
    "en_IE": [
        "Sadhbh",
        "Diarmuid",
        "Ailbhe",
        "Cillian",
        "Meabh",
        "Ronan",
        "Deirbhile",
        "Oisín",
        "Aisling",
        "Feargal",
        "Nuala",
        "Seosamh",
        "Blathnaid",
        "Darragh",
    ],
}
_FAMILY = {
    "en_US": [
        "Cavanaugh",
        "Obi",
        "Rodriguez-Pena",
        "Winslow",
        "Kuznetsov",
        "Prater",
        "Ellsworth",
        "Baptiste",
        "Huang",
        "Stovall",
        "McCreary",
        "Oyelaran",
    ],
    "en_GB": [
        "Bramwell",
        "Appiah",
        "Scrivener",
        "Dewhurst",
        "Moorcroft",
        "Nwachukwu",
        "Ledbetter",
        "Stringfellow",
        "Quayle",
        "Raeburn",
        "Sandhu",
        "Tolputt",
    ],
    "en_CA": [
        "Thibodeau",
        "Kaur-Gill",
        "Lemieux",
        "Strachan",
        "Poitras",
        "Okimaw",
        "Vanderhoek",
        "Duchesne",
        "Mackinnon",
        "Cardinal",
        "Bergeron",
        "Yee",
    ],
    "en_AU": [
        "Goodwin-Tait",
        "Kyriakou",
        "Mulholland",
        "Tjapaltjarri",
        "Pham",
        "Lockyer",
        "Ravenscroft",
        "Zappia",
        "Elphick",
        "Cheeseman",
        "Bancroft",
        "Tipene",
    ],
    "en_IE": [
        "Mac Giolla Phádraig",
        "Ó Briain",
        "Cusack",
        "Lenihan",
        "Naughton",
        "Ó Sé",
        "Fennelly",
        "Gilsenan",
        "Mulcahy",
        "Rafferty",
        "Tormey",
        "Ní Mhurchú",
    ],
}
_ROADS = {
    "en_US": (
        ["Pinecone", "Alder Creek", "Wexford", "Stonegate", "Redbud", "Ferris"],
        ["St", "Ave", "Way", "Circle", "Trail", "Place"],
    ),
    "en_GB": (
        ["Fenwick", "Coldharbour", "Priory", "Millstream", "Tanners", "Bell"],
        ["Close", "Lane", "Walk", "Street", "Rise", "Yard"],
    ),
    "en_CA": (
        ["Cabot", "Riel", "Dufferin", "Algonquin", "Champlain", "Selkirk"],
        ["Street", "Avenue", "Trail", "Crescent", "Lane", "Road"],
    ),
    "en_AU": (
        ["Waratah", "Boronia", "Currawong", "Eucalypt", "Billabong", "Stringybark"],
        ["Street", "Road", "Close", "Way", "Drive", "Court"],
    ),
    "en_IE": (
        ["Ballinteer", "Shanagarry", "Kilbrack", "Annaghmore", "Lisnagry", "Carrowkeel"],
        ["Road", "Drive", "Close", "Crescent", "Way", "Court"],
    ),
}
_PLACES = {
    "en_US": [
        ("Springdale", "AR", "727"),
        ("Cedar Bluff", "AL", "359"),
        ("Ames", "IA", "500"),
        ("North Harlan", "KS", "676"),
        ("Eugene", "OR", "974"),
        ("Wichita", "KS", "672"),
    ],
    "en_GB": [
        ("Kettering", "NN"),
        ("Upper Stowbridge", "GL"),
        ("Leeds", "LS"),
        ("Aberystwyth", "SY"),
        ("Great Hollins", "BB"),
        ("Ipswich", "IP"),
    ],
    "en_CA": [
        ("Lethbridge", "AB", "T1"),
        ("Sherbrooke", "QC", "J1"),
        ("Sudbury", "ON", "P3"),
        ("Kamloops", "BC", "V2"),
        ("Charlottetown", "PE", "C1"),
        ("Fort Ellis", "NS", "B2"),
    ],
    "en_AU": [
        ("Geelong", "VIC", "32"),
        ("Cairns", "QLD", "48"),
        ("Orange", "NSW", "28"),
        ("Bunbury", "WA", "62"),
        ("Kurrajong Flat", "NSW", "27"),
        ("Devonport", "TAS", "73"),
    ],
    "en_IE": [
        ("Athlone", "N37"),
        ("Drogheda", "A92"),
        ("Waterford", "X91"),
        ("Naas", "W91"),
        ("Castlebar", "F23"),
        ("Limerick", "V94"),
    ],
}
_AGENTS = ["Kelly", "Raj", "Simone", "Tomasz", "Bea", "Grant", "Lina", "Oscar"]
_PRODUCTS = [
    "Platinum Rewards card",
    "Everyday Saver account",
    "Flexi Home Loan",
    "Premier Current Account",
    "Smart Access account",
    "Cashback Visa",
]
_MEDS = [
    "lisinopril 10 mg",
    "insulin glargine 20 units",
    "codeine 30 mg",
    "naproxen 250 mg",
    "prednisolone 5 mg",
    "methotrexate 15 mg weekly",
]
_ORG_TAIL = [
    "Children's Hospital",
    "Medical Clinic",
    "Family Practice",
    "Health Centre",
    "Physiotherapy Clinic",
    "Dental Surgery",
    "Pharmacy",
]
_EMPLOYERS = [
    "Pinnacle Freight",
    "Larkfield Builders",
    "Copperleaf Software",
    "Harbourside Catering",
    "Greystone Accounting",
    "Bluewater Fisheries",
]
_EMPLOYER_TAIL = ["Inc", "Ltd", "Pty Ltd", "Group", "LLC", "& Sons"]
_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_MAIL_HOSTS = [
    "fastmail.com",
    "outlook.ie",
    "bigpond.com",
    "shaw.ca",
    "btinternet.com",
    "gmail.com",
    "yahoo.co.uk",
    "icloud.com",
]


def _spoken(number: str, rng: random.Random) -> str:
    """Digits read aloud: "oh" or "zero", sometimes "double"."""
    out = []
    i = 0
    ds = [c for c in number if c.isdigit()]
    while i < len(ds):
        word = "oh" if ds[i] == "0" and rng.random() < 0.6 else _WORDS[int(ds[i])]
        if i + 1 < len(ds) and ds[i + 1] == ds[i] and rng.random() < 0.5:
            out.append(f"double {word}")
            i += 2
        else:
            out.append(word)
            i += 1
    return " ".join(out)


class _Values:
    def __init__(self, rng: random.Random, locale: str) -> None:
        self.r = rng
        self.loc = locale

    def one(self, seq):
        return self.r.choice(seq)

    def person(self) -> tuple[str, str]:
        return self.one(_GIVEN[self.loc]), self.one(_FAMILY[self.loc])

    def road(self) -> str:
        names, kinds = _ROADS[self.loc]
        n = self.r.randint(1, 240)
        if self.loc == "en_GB" and self.r.random() < 0.4:
            return (
                f"Flat {self.r.randint(1, 60)}{self.one(['', 'c', 'f'])} {self.one(names)} "
                f"{self.one(kinds)}"
            )
        if self.loc == "en_AU" and self.r.random() < 0.4:
            return f"{self.r.randint(1, 18)}/{n} {self.one(names)} {self.one(kinds)}"
        if self.loc == "en_IE" and self.r.random() < 0.3:
            return f"Apartment {self.r.randint(1, 90)}, {self.one(names)} {self.one(kinds)}"
        return f"{n} {self.one(names)} {self.one(kinds)}"

    def place(self) -> tuple[str, str, str]:
        """(town, region text, postcode)."""
        r = self.r
        entry = self.one(_PLACES[self.loc])
        if self.loc == "en_US":
            return entry[0], entry[1], entry[2] + digits(r, 2)
        if self.loc == "en_GB":
            pc = f"{entry[1]}{r.randint(1, 40)} {r.randint(1, 9)}{letters(r, 2, 'ABDEHJLNPRSTUWY')}"
            return entry[0], "", pc
        if self.loc == "en_CA":
            return (
                entry[0],
                entry[1],
                (
                    f"{entry[2]}{letters(r, 1, 'ABCEGHKLMNPRSTVX')} {r.randint(1, 9)}"
                    f"{letters(r, 1, 'ABCEGHKLMNPRSTVX')}{r.randint(0, 9)}"
                ),
            )
        if self.loc == "en_AU":
            return entry[0], entry[1], entry[2] + digits(r, 2)
        return (
            entry[0],
            "",
            (
                f"{entry[1]} {letters(r, 1, 'ACDEFHKNPRTVWXY')}{digits(r, 1)}"
                f"{letters(r, 1, 'ACDEFHKNPRTVWXY')}{digits(r, 1)}"
            ),
        )

    def phone(self) -> str:
        r = self.r
        xx = f"{r.randint(0, 99):02d}"
        if self.loc == "en_US":
            a = self.one(["617", "312", "213", "702"])
            return self.one(
                [
                    f"{a}.555.01{xx}",
                    f"+1 {a} 555 01{xx}",
                    f"{a}55501{xx}",
                    f"1-{a}-555-01{xx}",
                    f"({a})555-01{xx}",
                ]
            )
        if self.loc == "en_CA":
            a = self.one(["416", "604", "902", "819"])
            return self.one([f"{a}-555-01{xx}", f"({a}) 555 01{xx}", f"{a}55501{xx}"])
        if self.loc == "en_GB":
            z = f"{r.randint(0, 999):03d}"
            return self.one(
                [
                    f"07700 900{z}",
                    f"07700900{z}",
                    f"0113 496 0{z}",
                    f"029 2018 0{z}",
                    f"+44 20 7946 0{z}",
                    f"0117 496 0{z}",
                    f"028 9649 6{z}",
                ]
            )
        if self.loc == "en_AU":
            return self.one(
                [
                    f"0491 570 {r.randint(156, 159)}",
                    f"04{digits(r, 2)} 5{digits(r, 2)} {digits(r, 3)}",
                    f"0455{digits(r, 6)}",
                    f"(08) 7010 {digits(r, 4)}",
                    f"+61 2 5550 {digits(r, 4)}",
                ]
            )
        return self.one(
            [
                f"085 {digits(r, 3)} {digits(r, 4)}",
                f"083{digits(r, 7)}",
                f"(021) 4{digits(r, 2)} {digits(r, 4)}",
                f"+353 1 {digits(r, 3)} {digits(r, 4)}",
            ]
        )

    def dob(self) -> str:
        r = self.r
        y, m, d = r.randint(1931, 2004), r.randint(1, 12), r.randint(1, 28)
        mon = [
            "jan",
            "feb",
            "march",
            "april",
            "may",
            "june",
            "july",
            "aug",
            "sept",
            "oct",
            "nov",
            "dec",
        ][m - 1]
        if self.loc == "en_US":
            return self.one([f"{m}/{d}/{y}", f"{mon} {d} {y}", f"{m:02d}-{d:02d}-{y}"])
        if self.loc == "en_CA":
            return self.one([f"{y}/{m:02d}/{d:02d}", f"{mon} {d}, {y}", f"{d} {mon} {y}"])
        suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(d, "th")
        return self.one(
            [
                f"{d}/{m}/{y}",
                f"{d}{suffix} of {mon} {str(y)[2:]}",
                f"{d:02d}.{m:02d}.{y}",
                f"{d} {mon} {y}",
            ]
        )

    def card(self) -> str:
        prefix = self.one(["4", "51", "52", "55", "6011"])
        pan = luhn_complete(prefix + digits(self.r, 15 - len(prefix)))
        return self.one(
            [
                " ".join(pan[i : i + 4] for i in range(0, 16, 4)),
                pan,
                "-".join(pan[i : i + 4] for i in range(0, 16, 4)),
            ]
        )

    def email(self, given: str, family: str) -> tuple[str, bool]:
        user = self.one(
            [f"{given}.{family}", f"{given[0]}{family}", f"{given}{self.r.randint(1, 99)}"]
        )
        user = ascii_handle(user, keep=".")
        host = self.one(_MAIL_HOSTS)
        if self.r.random() < 0.3:
            spoken_host = host.replace(".", " dot ")
            return f"{user} at {spoken_host}", True
        return f"{user}@{host}", False

    def bank_ids(self) -> list[str | L]:
        r = self.r
        if self.loc == "en_US":
            return [
                "routing ",
                L("ROUTING", aba_check(self.one(["0110", "0260", "1210", "3222"]) + digits(r, 4))),
                " and account ",
                L("ACCOUNT", digits(r, self.one([9, 10, 12]), True)),
            ]
        if self.loc == "en_GB":
            iban = iban_check("GB", self.one(["NWBK", "MIDL", "BARC"]) + digits(r, 14))
            return [
                "sort code ",
                L("ROUTING", f"{digits(r, 2)}-{digits(r, 2)}-{digits(r, 2)}"),
                ", account number ",
                L("ACCOUNT", digits(r, 8)),
                ", or the iban ",
                L("IBAN", iban.lower() if r.random() < 0.5 else iban),
            ]
        if self.loc == "en_CA":
            return [
                "transit ",
                L("ROUTING", digits(r, 5)),
                ", institution 00",
                str(r.randint(1, 9)),
                ", account ",
                L("ACCOUNT", digits(r, 7)),
            ]
        if self.loc == "en_AU":
            return [
                "BSB ",
                L("ROUTING", f"{digits(r, 3)}-{digits(r, 3)}"),
                " account ",
                L("ACCOUNT", f"{digits(r, 4)} {digits(r, 5)}"),
            ]
        iban = iban_check("IE", self.one(["AIBK", "BOFI", "IPBS"]) + digits(r, 14))
        spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return ["IBAN ", L("IBAN", self.one([iban, spaced, spaced.lower(), iban.lower()]))]


def _bank_call(v: _Values, doc: Doc) -> None:
    r = v.r
    given, family = v.person()
    agent = v.one(_AGENTS)
    town, region, pc = v.place()
    c, a = v.one([("Customer", "Agent"), ("CALLER", "ADVISOR"), ("Member", "Rep")])
    lower = r.random() < 0.4
    gname = given.lower() if lower else given
    full = f"{given} {family}".lower() if lower else f"{given} {family}"
    mail, _ = v.email(given, family)
    doc.extend(
        [f"{a}: thanks for holding, my name's ", L("PERSON", agent), ", who am I speaking with?\n"]
    )
    doc.extend(
        [
            f"{c}: ",
            v.one(["hi its ", "yeah hi this is ", "hello, ", "morning, "]),
            L("PERSON", full),
            "\n",
        ]
    )
    doc.extend(
        [
            f"{a}: thanks ",
            L("PERSON", gname),
            ". For security can I take your date of birth and the first line of your address?\n",
        ]
    )
    doc.extend(
        [
            f"{c}: ",
            L("DATE", v.dob()),
            ", and it's ",
            L("ADDRESS", v.road().lower() if lower else v.road()),
            ", ",
            L("LOCATION", town),
            f" {region} " if region else " ",
            L("ZIP", pc.lower() if lower else pc),
            "\n",
        ]
    )
    for turn in sorted(r.sample(range(6), 2)):
        if turn == 0:
            doc.extend(
                [
                    f"{a}: and the last four of your social?\n",
                    f"{c}: ",
                    L("SSN", digits(r, 4, True)),
                    "\n",
                ]
                if v.loc == "en_US"
                else [
                    f"{a}: can you read me the card number on the front?\n",
                    f"{c}: ",
                    L("CARD", v.card()),
                    "\n",
                ]
            )
        elif turn == 1:
            ssn = f"{r.randint(101, 665)}{r.randint(10, 99)}{digits(r, 4)}"
            doc.extend(
                [
                    f"{a}: I'll need the full number this time, sorry.\n",
                    f"{c}: ok its ",
                    L("SSN", _spoken(ssn, r)),
                    "\n",
                ]
                if v.loc == "en_US"
                else [
                    f"{a}: which card is it about?\n",
                    f"{c}: the ",
                    v.one(_PRODUCTS),
                    ", card ending ",
                    L("CARD", digits(r, 4)),
                    "\n",
                ]
            )
        elif turn == 2:
            doc.extend(
                [
                    f"{a}: I can see two cards, one ending in ",
                    L("CARD", digits(r, 4)),
                    " and the ",
                    v.one(_PRODUCTS),
                    " ending ",
                    L("CARD", digits(r, 4)),
                    ".\n",
                    f"{c}: the second one. there's a charge of ",
                    {"en_GB": "£", "en_IE": "€"}.get(v.loc, "$"),
                    f"{r.randint(10, 999)}.{r.randint(0, 99):02d}",
                    " I don't recognise\n",
                ]
            )
        elif turn == 3:
            doc.extend(
                [
                    f"{c}: I want the refund paid to ",
                    *v.bank_ids(),
                    "\n",
                    f"{a}: noted, that'll take ",
                    str(r.randint(2, 5)),
                    " working days.\n",
                ]
            )
        elif turn == 4:
            doc.extend(
                [
                    f"{a}: the account ending in ",
                    L("ACCOUNT", digits(r, 4)),
                    " shows a login from ",
                    L("IP", f"203.0.113.{r.randint(1, 254)}"),
                    " at ",
                    f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
                    ". was that you?\n",
                    f"{c}: no!! I was asleep\n",
                ]
            )
        else:
            vin = vin_check(
                v.one(["1HG", "2T1", "JTD", "WVW", "3FA"])
                + letters(r, 2, "ABCDEFGHJKLMNPRSTUVWXYZ")
                + digits(r, 3)
                + "0"
                + v.one(["L", "M", "N", "P"])
                + letters(r, 1, "ABCDEFGHJKLMNPRSTUVWXYZ")
                + digits(r, 6)
            )
            doc.extend(
                [
                    f"{c}: it's about the car loan, the VIN is ",
                    L("VIN", vin),
                    "\n",
                    f"{a}: got it, balance is ",
                    f"{r.randint(2, 30)},{r.randint(100, 999)}.00",
                    "\n",
                ]
            )
    phones = [v.phone() for _ in range(3)]
    if r.random() < 0.2:
        doc.extend(
            [
                f"{a}: what's a good number for you?\n",
                f"{c}: it's ",
                L("PHONE", _spoken(phones[0], r)),
                "\n",
            ]
        )
    elif r.random() < 0.5:
        doc.extend(
            [
                f"{a}: best number to reach you?\n",
                f"{c}: ",
                L("PHONE", phones[0]),
                " or ",
                L("PHONE", phones[1]),
                " or my work one ",
                L("PHONE", phones[2]),
                "\n",
            ]
        )
    else:
        doc.extend(
            [
                f"{a}: and an email for the confirmation?\n",
                f"{c}: ",
                L("EMAIL", mail),
                "\n",
                f"{a}: lovely. also is ",
                L("PHONE", phones[0]),
                " still current?\n",
                f"{c}: yes\n",
            ]
        )
    if r.random() < 0.5:
        doc.extend(
            [
                f"{c}: oh and I changed jobs, I'm at ",
                L("ORGANIZATION", f"{v.one(_EMPLOYERS)} {v.one(_EMPLOYER_TAIL)}"),
                " now\n",
            ]
        )
    doc.extend(
        [
            f"{a}: all sorted ",
            L("PERSON", gname),
            ", anything else today?\n",
            f"{c}: no thats all thanks {v.one(['', 'x', ':)'])}\n".replace(" \n", "\n"),
        ]
    )


def _clinic_chat(v: _Values, doc: Doc) -> None:
    r = v.r
    given, family = v.person()
    nurse_g, nurse_f = v.person()
    t = [r.randint(8, 17), r.randint(0, 59)]
    ts = lambda: f"[{t[0]:02d}:{t[1]:02d}] "  # noqa: E731
    hosp = L("ORGANIZATION", f"{v.one(_FAMILY[v.loc])} {v.one(_ORG_TAIL)}")
    doc.extend(
        [
            ts(),
            "Nurse ",
            L("PERSON", nurse_g),
            ": Hello, you're through to the patient line at ",
            hosp,
            ". Can I take the patient's full name?\n",
        ]
    )
    t[1] = (t[1] + 1) % 60
    name = v.one(
        [
            f"{family}, {given}",
            f"{given} {family}",
            f"{family.upper()} {given.upper()}",
            f"{given.lower()} {family.lower()}",
        ]
    )
    doc.extend([ts(), "Patient: ", L("PERSON", name), ", born ", L("DATE", v.dob()), "\n"])
    if v.loc == "en_GB":
        while (nhs := nhs_check(digits(r, 9, True))) is None:
            pass
        ident = [
            "my NHS number is ",
            L("MEMBER_ID", v.one([nhs, f"{nhs[:3]}-{nhs[3:6]}-{nhs[6:]}"])),
        ]
    elif v.loc == "en_AU":
        ident = [
            "medicare card ",
            L("MEMBER_ID", f"{r.randint(2, 6)}{digits(r, 9)}"),
            " number ",
            str(r.randint(1, 5)),
            " on the card",
        ]
    elif v.loc == "en_US":
        ident = ["my insurance ID is ", L("MEMBER_ID", f"{letters(r, 1)}{digits(r, 8)}")]
    elif v.loc == "en_CA":
        ident = ["health card ", L("MEMBER_ID", f"{digits(r, 10, True)}{letters(r, 2)}")]
    else:
        ident = ["my medical card is ", L("MEMBER_ID", f"{digits(r, 7)}{letters(r, 1)}")]
    doc.extend([ts(), "Patient: ", *ident, "\n"])
    doc.extend(
        [
            ts(),
            "Nurse ",
            L("PERSON", nurse_g),
            ": thanks. I can see your file, number ",
            L("MRN", f"{digits(r, 2)}{letters(r, 1)}{digits(r, 5)}"),
            ". What can I help with?\n",
        ]
    )
    med = v.one(_MEDS)
    doc.extend(
        [
            ts(),
            "Patient: ",
            v.one(["my mum ", "my husband ", "my dad "]),
            L("PERSON", v.one([f"{v.person()[0]} {family}", f"{v.person()[0].lower()}"])),
            " was told by dr ",
            L("PERSON", v.one([nurse_f.lower(), nurse_f])),
            f" to stop the {med} before the op on ",
            L("DATE", f"{r.randint(1, 28)}/{r.randint(1, 12)}/{r.randint(2024, 2026)}"),
            ", is that right\n",
        ]
    )
    doc.extend(
        [
            ts(),
            "Nurse: yes, 48 hours before. I'll text ",
            L("PHONE", v.phone()),
            " and email ",
            L("EMAIL", v.email(given, family)[0]),
            " with the leaflet.\n",
        ]
    )
    if r.random() < 0.5:
        doc.extend(
            [
                ts(),
                "Patient: she's ",
                L("AGE", str(r.randint(90, 101))),
                " now so we worry. can the letter go to ",
                L("ADDRESS", v.road()),
                "?\n",
            ]
        )
    else:
        doc.extend(
            [
                ts(),
                "Patient: also the portal link ",
                L(
                    "URL",
                    (
                        f"https://portal.{v.one(['carenet', 'myhealth', 'patientview'])}.org/u/"
                        f"{ascii_handle(given)}{r.randint(10, 99)}"
                    ),
                ),
                " gives me an error\n",
            ]
        )
    doc.extend(
        [
            ts(),
            "Nurse: I'll pass that to Dr ",
            L("PERSON", nurse_f),
            ". Take care ",
            L("PERSON", given),
            "!\n",
        ]
    )


def _document(v: _Values) -> Doc:
    doc = Doc()
    kind = v.r.random()
    header = v.one(["Call transcript\n", "Chat log\n", "", "Transcript (auto)\n"])
    doc.add(header)
    if kind < 0.55:
        _bank_call(v, doc)
    else:
        _clinic_chat(v, doc)
    return doc


def generate(seed: int = SEED, n_docs: int = N_DOCS) -> list[dict]:
    """The family's records, deterministic in ``seed``."""
    rng = random.Random(seed)
    out = []
    for i in range(n_docs):
        locale = LOCALES[i % len(LOCALES)]
        doc = _document(_Values(rng, locale))
        assert doc.spans is not None
        out.append(
            {
                "id": f"dialogue-{i:04d}",
                "locale": locale,
                "text": doc.text,
                "spans": [{"start": s, "end": e, "type": t} for s, e, t in doc.spans],
            }
        )
    return out
