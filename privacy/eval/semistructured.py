"""Evaluation family "semistructured": intake forms, KYC records, lab reports, JSON exports.

Field labels and values, tables, multi-line address blocks, JSON objects with identifiers in
string values. Every list and format below belongs to this family only.
"""

from __future__ import annotations

import json
import random

from privacy.eval._render import (
    Doc,
    L,
    aba_check,
    ascii_handle,
    dea_check,
    digits,
    iban_check,
    letters,
    luhn_complete,
    ppsn_check,
)

__all__ = ["N_DOCS", "SEED", "generate"]

SEED = 7300419
N_DOCS = 200
LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE")

_FORENAMES = {
    "en_US": [
        "Harlan",
        "Odessa",
        "Jermaine",
        "Rosalind",
        "Alejandro",
        "Winifred",
        "Tyrone",
        "Felicity",
        "Boris",
        "Coretta",
        "Ambrose",
        "Shaniqua",
        "Emmett",
        "Greta",
    ],
    "en_GB": [
        "Eustace",
        "Peregrine",
        "Aled",
        "Morwenna",
        "Jocelyn",
        "Kieran",
        "Hyacinth",
        "Baljit",
        "Tamsin",
        "Cedric",
        "Ottilie",
        "Dilwyn",
        "Yusuf",
        "Araminta",
    ],
    "en_CA": [
        "Ghislaine",
        "Baptiste",
        "Leocadie",
        "Armand",
        "Cheyenne",
        "Faisal",
        "Oksana",
        "Lorne",
        "Josee",
        "Wendell",
        "Ikaika",
        "Sylvie",
        "Renaud",
    ],
    "en_AU": [
        "Cooper",
        "Millie",
        "Jarrod",
        "Skye",
        "Darcie",
        "Kade",
        "Brianna",
        "Ned",
        "Tarni",
        "Rocco",
        "Evie",
        "Wiremu",
        "Harlow",
        "Zali",
    ],
    "en_IE": [
        "Proinsias",
        "Éabha",
        "Conall",
        "Gobnait",
        "Lorcan",
        "Muireann",
        "Tomás",
        "Brídín",
        "Senan",
        "Laoise",
        "Micheál",
        "Síle",
        "Eamon",
        "Treasa",
    ],
}
_SURNAMES = {
    "en_US": [
        "Blankenship",
        "Oyelowo",
        "Fitzpatrick-Reyes",
        "Lundqvist",
        "Petrakis",
        "Underwood",
        "Hightower",
        "Mbeki",
        "Zielinski",
        "Tolliver",
        "Ashby",
        "Quintero",
    ],
    "en_GB": [
        "Bartholomew-Clarke",
        "Ogunleye",
        "Postlethwaite",
        "Venables",
        "Quarshie",
        "Marchbanks",
        "Heseltine",
        "Nettleship",
        "Dhaliwal",
        "Pickering",
        "Wolstenholme",
        "Haworth",
    ],
    "en_CA": [
        "St-Onge",
        "Villeneuve",
        "MacEachern",
        "Blackbird",
        "Desautels",
        "Kowalchuk",
        "Gauthier",
        "Robichaud",
        "Hofstetter",
        "Mercredi",
        "Fontaine",
        "Labelle",
    ],
    "en_AU": [
        "Vandenberg",
        "Pattinson",
        "Tsolakis",
        "Wunungmurra",
        "Halvorsen",
        "Burgoyne",
        "Kelleher",
        "Stavropoulos",
        "Whitehurst",
        "Coombes",
        "Nankervis",
        "Margetts",
    ],
    "en_IE": [
        "Ó Ceallaigh",
        "Mac an tSaoi",
        "Dunphy",
        "Heffernan",
        "Ní Dhomhnaill",
        "Costigan",
        "Gleeson",
        "Brennan-Ó Dálaigh",
        "Lawless",
        "Whelan",
        "Fahy",
        "Kinsella",
    ],
}
_THOROUGHFARES = {
    "en_US": [
        "Bluebonnet Trl",
        "Old Mill Rd",
        "Harbor View Dr",
        "Linden Ave",
        "Cottonwood Ct",
        "Prairie Wind Blvd",
        "Eastgate Pkwy",
    ],
    "en_GB": [
        "Saltings Hill",
        "Wharfedale Gardens",
        "Tithe Barn Lane",
        "Ropewalk",
        "Gas Street",
        "Beechcroft Avenue",
        "Swan Mews",
    ],
    "en_CA": [
        "Rue Saint-Denis",
        "Bayview Avenue",
        "Portage Road",
        "Whyte Avenue",
        "Gottingen Street",
        "Lakeshore Crescent",
        "Prospect Drive",
    ],
    "en_AU": [
        "Banksia St",
        "Kurrajong Avenue",
        "Mitchell Highway",
        "Acacia Parade",
        "Hibiscus Circuit",
        "Bellbird Rise",
        "Murray Esplanade",
    ],
    "en_IE": [
        "Clontarf Road",
        "Mardyke Walk",
        "Bóthar na Trá",
        "Castle Park",
        "Ashgrove Lawn",
        "St. Enda's Terrace",
        "Meadowbrook Avenue",
    ],
}
_LOCALITIES = {
    "en_US": [
        ("Bridgeport", "CT", "066"),
        ("Tulsa", "OK", "741"),
        ("Port Ellison", "ME", "041"),
        ("Sioux Falls", "SD", "571"),
        ("Greenvale", "WI", "539"),
    ],
    "en_GB": [
        ("Wrenfield", "WF"),
        ("Bath", "BA"),
        ("Stoke-on-Trent", "ST"),
        ("Middlehope", "DL"),
        ("Cardiff", "CF"),
        ("Inverness", "IV"),
    ],
    "en_CA": [
        ("Fredericton", "NB", "E3"),
        ("Gatineau", "QC", "J8"),
        ("Regina", "SK", "S4"),
        ("Thunder Bay", "ON", "P7"),
        ("Whitehorse", "YT", "Y1"),
        ("Halifax", "NS", "B3"),
    ],
    "en_AU": [
        ("Townsville", "QLD", "481"),
        ("Albury", "NSW", "264"),
        ("Warrnambool", "VIC", "328"),
        ("Geraldton", "WA", "653"),
        ("Hobart", "TAS", "700"),
        ("Whyalla", "SA", "560"),
    ],
    "en_IE": [
        ("Tullamore", "R35"),
        ("Dundalk", "A91"),
        ("Killarney", "V93"),
        ("Wexford", "Y35"),
        ("Carlow", "R93"),
        ("Cavan", "H12"),
    ],
}
_LABS = ["Pathology Services", "Diagnostic Laboratories", "Clinical Labs", "Imaging & Pathology"]
_FACILITY = ["Hospital", "Private Hospital", "Health Campus", "Medical Center", "Clinic"]
_EMPLOYER = [
    "Quarry Holdings",
    "Northwind Traders",
    "Tallis & Byrne Solicitors",
    "Greenfield Agricultural Co-op",
    "Ionic Data Services",
    "Sandpiper Hotels",
]
_TESTS = [
    ("Glucose (fasting)", "mmol/L", "3.9-5.5"),
    ("ALT", "U/L", "7-56"),
    ("Creatinine", "umol/L", "60-110"),
    ("TSH", "mIU/L", "0.4-4.0"),
    ("Ferritin", "ug/L", "30-400"),
    ("WBC", "x10^9/L", "4.0-11.0"),
    ("LDL cholesterol", "mmol/L", "<3.0"),
    ("Vitamin D", "nmol/L", "50-125"),
]
_MAIL_DOMAINS = [
    "proton.me",
    "eircom.net",
    "optusnet.com.au",
    "sympatico.ca",
    "aol.com",
    "virginmedia.com",
]
_OCCUPATION = [
    "Electrician",
    "Retired teacher",
    "Pharmacist",
    "Self-employed",
    "Nurse",
    "Software developer",
    "Farmer",
    "Student",
]


class _Make:
    def __init__(self, rng: random.Random, locale: str) -> None:
        self.r = rng
        self.loc = locale

    def c(self, seq):
        return self.r.choice(seq)

    def names(self) -> tuple[str, str]:
        return self.c(_FORENAMES[self.loc]), self.c(_SURNAMES[self.loc])

    def line1(self) -> str:
        r = self.r
        road = self.c(_THOROUGHFARES[self.loc])
        if self.loc == "en_GB" and r.random() < 0.5:
            return (
                f"{self.c(['Flat', 'Studio', 'Maisonette'])} {r.randint(1, 120)}"
                f"{self.c(['', 'a', 'm', 'k'])} {road}"
            )
        if self.loc == "en_AU" and r.random() < 0.5:
            return f"Unit {r.randint(1, 25)}/{r.randint(1, 300)} {road}"
        if self.loc == "en_US" and r.random() < 0.3:
            return f"{r.randint(100, 9999)} {road} Ste {r.randint(100, 450)}"
        return f"{r.randint(1, 999)} {road}"

    def locality(self) -> tuple[str, str, str]:
        r = self.r
        e = self.c(_LOCALITIES[self.loc])
        if self.loc == "en_US":
            return (
                e[0],
                e[1],
                e[2] + digits(r, 2) + (f"-{digits(r, 4)}" if r.random() < 0.4 else ""),
            )
        if self.loc == "en_GB":
            return (
                e[0],
                "",
                (
                    f"{e[1]}{r.randint(1, 15)}{self.c(['', '', 'A'])} {r.randint(0, 9)}"
                    f"{letters(r, 2, 'ABDEFGHJNPQRSTUXYZ')}"
                ),
            )
        if self.loc == "en_CA":
            return (
                e[0],
                e[1],
                (
                    f"{e[2]}{letters(r, 1, 'ABCEGHJKLMNPRSTVWXYZ')} {r.randint(0, 9)}"
                    f"{letters(r, 1, 'ABCEGHJKLMNPRSTVWXYZ')}{r.randint(0, 9)}"
                ),
            )
        if self.loc == "en_AU":
            return e[0], e[1], e[2] + digits(r, 1)
        return (
            e[0],
            "",
            f"{e[1]} {letters(r, 1, 'ACDEFHKNPRTVWXY')}{digits(r, 3)}"
            if r.random() < 0.5
            else (
                f"{e[1]}{letters(r, 1, 'ACDEFHKNPRTVWXY')}{letters(r, 1, 'ACDEFHKNPRTVWXY')}"
                f"{digits(r, 2)}"
            ),
        )

    def tel(self) -> str:
        r = self.r
        n = f"{r.randint(0, 99):02d}"
        if self.loc == "en_US":
            a = self.c(["405", "860", "605", "207"])
            return self.c(
                [f"({a}) 555-01{n}", f"{a}-555-01{n}", f"+1-{a}-555-01{n}", f"{a} 555 01{n}"]
            )
        if self.loc == "en_CA":
            a = self.c(["506", "819", "306", "867"])
            return self.c([f"({a}) 555-01{n}", f"+1 ({a}) 555-01{n}", f"{a}.555.01{n}"])
        if self.loc == "en_GB":
            k = f"{r.randint(0, 999):03d}"
            return self.c(
                [
                    f"0121 496 0{k}",
                    f"01632 960{k}",
                    f"0141 4960{k}",
                    f"020 7946 0{k}",
                    f"+44 (0)161 496 0{k}",
                    f"07700 900 {k}",
                    f"0151-496-0{k}",
                ]
            )
        if self.loc == "en_AU":
            return self.c(
                [
                    f"(07) 5550 {digits(r, 4)}",
                    f"0491 571 {digits(r, 3)}",
                    f"+61 (0)8 7010 {digits(r, 4)}",
                    f"04{digits(r, 2)}-5{digits(r, 2)}-{digits(r, 3)}",
                ]
            )
        return self.c(
            [
                f"(0{r.randint(41, 99)}) {digits(r, 3)} {digits(r, 4)}",
                f"086-{digits(r, 7)}",
                f"+353 (0)89 {digits(r, 3)} {digits(r, 4)}",
            ]
        )

    def day(self, lo: int = 1928, hi: int = 2025) -> str:
        r = self.r
        y, m, d = r.randint(lo, hi), r.randint(1, 12), r.randint(1, 28)
        mon = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"][
            m - 1
        ]
        if self.loc == "en_US":
            return self.c([f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d}-{mon}-{y}"])
        if self.loc == "en_CA":
            return self.c([f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}"])
        return self.c(
            [
                f"{d:02d}/{m:02d}/{y}",
                f"{d:02d}-{mon}-{y}",
                f"{y}-{m:02d}-{d:02d}",
                f"{d:02d} {mon.title()} {y}",
            ]
        )

    def passport(self) -> str:
        r = self.r
        if self.loc == "en_US":
            return digits(r, 9, True)
        if self.loc == "en_GB":
            return digits(r, 9, True)
        if self.loc == "en_CA":
            return f"{letters(r, 2)}{digits(r, 6)}"
        if self.loc == "en_AU":
            return f"{self.c(['PA', 'PB', 'N'])}{digits(r, 7)}"
        return f"{letters(r, 2)}{digits(r, 7)}"

    def licence(self, surname: str) -> str:
        r = self.r
        if self.loc == "en_US":
            return self.c(
                [
                    f"{letters(r, 1)}{digits(r, 7)}",
                    digits(r, 9),
                    f"{letters(r, 1)}{digits(r, 3)}-{digits(r, 3)}-{digits(r, 2)}-{digits(r, 3)}-0",
                ]
            )
        if self.loc == "en_GB":
            stem = "".join(ch for ch in surname.upper() if ch.isalpha())[:5].ljust(5, "9")
            return f"{stem}{digits(r, 6)}{letters(r, 2)}9{letters(r, 2)}"
        if self.loc == "en_CA":
            return f"{surname[0].upper()}{digits(r, 4)}-{digits(r, 5)}-{digits(r, 5)}"
        if self.loc == "en_AU":
            return digits(r, self.c([8, 9, 10]), True)
        return f"{digits(r, 3)}{digits(r, 3)}{digits(r, 3)}"

    def tax_id(self) -> tuple[str, str]:
        r = self.r
        if self.loc == "en_US":
            if r.random() < 0.3:
                return "ITIN", f"9{digits(r, 2)}-{self.c(['70', '78', '88', '94'])}-{digits(r, 4)}"
            return "SSN", f"{r.randint(101, 665)}-{r.randint(10, 99)}-{digits(r, 4, True)}"
        if self.loc == "en_GB":
            return "SSN", f"{self.c(['AB', 'CE', 'HT', 'PX'])}{digits(r, 6)}{self.c('ABCD')}"
        if self.loc == "en_CA":
            return "SSN", luhn_complete(str(r.randint(1, 7)) + digits(r, 7))
        if self.loc == "en_AU":
            return "SSN", f"{digits(r, 3, True)}-{digits(r, 3)}-{digits(r, 3)}"
        p = ppsn_check(digits(r, 7))
        return "SSN", p.lower() if r.random() < 0.2 else p

    def iban_or_account(self) -> tuple[str, str]:
        r = self.r
        if self.loc in ("en_GB", "en_IE"):
            iban = iban_check(
                "GB" if self.loc == "en_GB" else "IE",
                self.c(["LOYD", "HBUK", "ULSB", "PTSB"]) + digits(r, 14),
            )
            spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
            return "IBAN", self.c([iban, spaced, spaced.lower()])
        return "ACCOUNT", digits(r, self.c([8, 10, 11]), True)


def _field(doc: Doc, label: str, value: str | L | list[str | L], sep: str) -> None:
    doc.add(f"{label}{sep}")
    if isinstance(value, list):
        doc.extend(value)
    else:
        doc.add(value)
    doc.add("\n")


def _kyc(m: _Make) -> Doc:
    r = m.r
    first, last = m.names()
    town, region, pc = m.locality()
    doc = Doc()
    sep = m.c([": ", " | ", " = ", "\t"])
    doc.add(m.c(["CUSTOMER ONBOARDING RECORD\n", "KYC review - retail\n", "Applicant details\n"]))
    style = r.random()
    name: str | L = (
        L("PERSON", f"{last.upper()}, {first}")
        if style < 0.3
        else (
            L("PERSON", f"{first.upper()} {last.upper()}")
            if style < 0.5
            else L("PERSON", f"{first} {last}")
        )
    )
    _field(doc, "Full name", name, sep)
    _field(doc, "Date of birth", L("DATE", m.day(1930, 2004)), sep)
    _field(doc, "Occupation", m.c(_OCCUPATION), sep)
    _field(doc, "Employer", L("ORGANIZATION", m.c(_EMPLOYER)), sep)
    doc.add(f"Residential address{sep}\n  ")
    doc.extend([L("ADDRESS", m.line1()), "\n  ", L("LOCATION", town)])
    doc.extend([f" {region}  " if region else "\n  ", L("ZIP", pc), "\n"])
    kind, value = m.tax_id()
    _field(doc, m.c(["Tax ID", "National ID", "Gov. ID no."]), L(kind, value), sep)
    _field(doc, "Passport", L("PASSPORT", m.passport()), sep)
    _field(
        doc,
        m.c(["Driving licence", "DL #", "Licence no."]),
        L("DRIVER_LICENSE", m.licence(last)),
        sep,
    )
    _field(doc, "Mobile", L("PHONE", m.tel()), sep)
    _field(doc, "Alt. phone", [L("PHONE", m.tel()), " / ", L("PHONE", m.tel())], sep)
    _field(
        doc,
        "E-mail",
        L(
            "EMAIL",
            (f"{ascii_handle(first)[:1]}{ascii_handle(last)}@{m.c(_MAIL_DOMAINS)}"),
        ),
        sep,
    )
    akind, avalue = m.iban_or_account()
    _field(doc, "Funding account", L(akind, avalue), sep)
    if m.loc == "en_US":
        _field(
            doc, "ABA", L("ROUTING", aba_check(m.c(["0210", "0910", "2560"]) + digits(r, 4))), sep
        )
    _field(
        doc,
        "Session IP",
        L(
            "IP",
            m.c(
                [
                    f"198.51.100.{r.randint(1, 254)}",
                    f"2001:db8:{r.randint(1, 9999):x}::{r.randint(1, 255):x}",
                ]
            ),
        ),
        sep,
    )
    _field(doc, "Risk score", f"{r.randint(1, 99)} (low)" if r.random() < 0.7 else "medium", sep)
    _field(doc, "Reviewed", f"{r.randint(1, 12)} day(s) ago by team {m.c(['A', 'B', 'C'])}", sep)
    return doc


def _lab(m: _Make) -> Doc:
    r = m.r
    first, last = m.names()
    dr_first, dr_last = m.names()
    doc = Doc()
    org = L("ORGANIZATION", f"{m.c(_LOCALITIES[m.loc])[0]} {m.c(_LABS)}")
    doc.extend(["LABORATORY REPORT  ", org, "\n"])
    doc.extend(
        [
            "Patient: ",
            L(
                "PERSON",
                m.c([f"{last}, {first}", f"{last.upper()}, {first.upper()}", f"{first} {last}"]),
            ),
            "    Sex: ",
            m.c(["F", "M", "X"]),
            "    DOB: ",
            L("DATE", m.day(1922, 2020)),
            "\n",
        ]
    )
    age = r.randint(90, 103) if r.random() < 0.25 else r.randint(18, 89)
    doc.extend(["Age: ", L("AGE", str(age)) if age >= 90 else str(age), " y\n"])
    doc.extend(
        [
            m.c(["Lab No: ", "Specimen: ", "Accession #"]),
            L("ACCESSION", f"{m.c(['CH', 'HM', 'MB'])}{r.randint(22, 25)}{digits(r, 7)}"),
            "   ",
            m.c(["Patient ID: ", "Chart: ", "Hosp ref "]),
            L("MRN", m.c([digits(r, 7, True), f"{letters(r, 2)}{digits(r, 6)}"])),
            "\n",
        ]
    )
    doc.extend(
        [
            "Collected: ",
            L("DATE", m.day(2023, 2025)),
            f" {r.randint(6, 20):02d}:{r.randint(0, 59):02d}",
            "   Received: ",
            f"{r.randint(6, 20):02d}:{r.randint(0, 59):02d}",
            "\n",
        ]
    )
    doc.extend(
        [
            "Requested by: Dr ",
            L("PERSON", f"{dr_first[0]}. {dr_last}"),
            ", ",
            L("ORGANIZATION", f"{dr_last} {m.c(['Family Practice', 'Medical Centre', 'Surgery'])}"),
        ]
    )
    if m.loc == "en_US":
        doc.extend(
            [
                "  NPI ",
                L("NPI", luhn_complete("80840" + "1" + digits(r, 8))[5:]),
                "  DEA ",
                L("DEA", dea_check(m.c(["M", "B", "A"]) + dr_last[0].upper(), digits(r, 6))),
            ]
        )
    doc.add("\n\nTest                 Result   Units      Ref range\n")
    for test, unit, ref in r.sample(_TESTS, 4):
        doc.add(f"{test:<21}{r.uniform(0.5, 99):<9.1f}{unit:<11}{ref}\n")
    doc.extend(
        [
            "\nComment: results phoned to ",
            L("PERSON", m.c([dr_last, f"{dr_first} {dr_last}"])),
            " on ",
            L("PHONE", m.tel()),
            " at ",
            f"{r.randint(8, 18)}:{r.randint(0, 59):02d}",
            ".\n",
        ]
    )
    return doc


def _json_export(m: _Make) -> Doc:
    r = m.r
    first, last = m.names()
    town, region, pc = m.locality()

    def s(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    doc = Doc()
    doc.add('{"record": {"patient": {"name": ')
    doc.extend(
        [
            '"',
            L("PERSON", m.c([f"{first} {last}", f"{first.lower()} {last.lower()}"])),
            '", "dob": "',
            L("DATE", m.day(1931, 2018)),
            '"}, "address": {"line1": "',
            L("ADDRESS", m.line1()),
            '", "city": "',
            L("LOCATION", town),
            '", "region": ',
            s(region or "n/a"),
            ', "postcode": "',
            L("ZIP", pc),
            '"}, "contacts": ["',
            L("PHONE", m.tel()),
            '", "',
            L("PHONE", m.tel()),
            '"], "next_of_kin": "',
            L("PERSON", f"{m.names()[0]} {last}"),
            '", "facility": "',
            L("ORGANIZATION", f"{m.c(_SURNAMES[m.loc])} {m.c(_FACILITY)}"),
            '", "mrn": "',
            L("MRN", digits(r, 8, True)),
            '", "allergies": ',
            s(m.c(["penicillin", "none known", "latex, shellfish"])),
            ', "weight_kg": ',
            f"{r.uniform(45, 120):.1f}",
            ', "notes": "',
            m.c(["called ", "message left for "]),
            L("PERSON", first),
            ' re appointment"}}\n',
        ]
    )
    return doc


def _intake(m: _Make) -> Doc:
    r = m.r
    first, last = m.names()
    town, region, pc = m.locality()
    doc = Doc()
    doc.add(m.c(["NEW PATIENT REGISTRATION\n", "Intake form (scanned, OCR)\n"]))
    doc.extend(
        ["Surname: ", L("PERSON", last.upper()), "   Forename(s): ", L("PERSON", first), "\n"]
    )
    doc.extend(
        [
            "Title: ",
            m.c(["Mr", "Mrs", "Ms", "Dr", "Rev"]),
            "   Born: ",
            L("DATE", m.day(1925, 2010)),
            "\n",
        ]
    )
    doc.extend(
        [
            "Address: ",
            L("ADDRESS", m.line1()),
            ", ",
            L("LOCATION", town),
            f", {region}, " if region else ", ",
            L("ZIP", pc),
            {
                "en_US": ", USA",
                "en_GB": ", United Kingdom",
                "en_CA": ", Canada",
                "en_AU": ", Australia",
                "en_IE": ", Ireland",
            }[m.loc],
            "\n",
        ]
    )
    doc.extend(["Home tel: ", L("PHONE", m.tel()), "   Work: ", L("PHONE", m.tel()), "\n"])
    doc.extend(
        [
            "Previous GP / clinic: ",
            L(
                "ORGANIZATION",
                (
                    f"{m.c(_LOCALITIES[m.loc])[0]} "
                    f"{m.c(['Medical Practice', 'Health Centre', 'Clinic'])}"
                ),
            ),
            "\n",
        ]
    )
    doc.extend(
        [
            "Emergency contact: ",
            L("PERSON", f"{m.names()[0]} {m.names()[1]}"),
            " (",
            m.c(["spouse", "sister", "friend", "carer"]),
            ") ",
            L("PHONE", m.tel()),
            "\n",
        ]
    )
    if m.loc == "en_US":
        doc.extend(
            [
                "Insurance: member ",
                L("MEMBER_ID", f"{letters(r, 3)}{digits(r, 8)}"),
                " group ",
                digits(r, 5),
                "; SSN (last 4): ",
                L("SSN", digits(r, 4, True)),
                "\n",
            ]
        )
    elif m.loc == "en_AU":
        doc.extend(
            [
                "Medicare no.: ",
                L("MEMBER_ID", f"{r.randint(2, 6)}{digits(r, 3)} {digits(r, 5)} {r.randint(1, 9)}"),
                "  IRN ",
                str(r.randint(1, 5)),
                "\n",
            ]
        )
    elif m.loc == "en_CA":
        doc.extend(
            [
                "Health card: ",
                L("MEMBER_ID", f"{digits(r, 4, True)} {digits(r, 3)} {digits(r, 3)}"),
                " version ",
                letters(r, 2),
                "\n",
            ]
        )
    else:
        doc.extend(
            ["Health no.: ", L("MEMBER_ID", f"{digits(r, 3)} {digits(r, 3)} {digits(r, 4)}"), "\n"]
        )
    doc.extend(
        [
            "Personal website / blog: ",
            L(
                "URL",
                (
                    f"www.{ascii_handle(first)}{ascii_handle(last)}."
                    f"{m.c(['com', 'net', 'ie', 'com.au', 'ca'])}"
                ),
            ),
            "\n",
        ]
        if r.random() < 0.3
        else ["Smoker: ", m.c(["no", "ex", "yes, 10/day"]), "\n"]
    )
    doc.extend(
        [
            "Current medicines: ",
            m.c(
                [
                    "warfarin 3 mg",
                    "tamsulosin 400 mcg",
                    "none",
                    "citalopram 20 mg",
                    "losartan 50 mg",
                ]
            ),
            "\n",
        ]
    )
    return doc


def _document(m: _Make) -> Doc:
    return m.c([_kyc, _lab, _json_export, _intake, _kyc, _lab])(m)


def generate(seed: int = SEED, n_docs: int = N_DOCS) -> list[dict]:
    """The family's records, deterministic in ``seed``."""
    rng = random.Random(seed)
    out = []
    for i in range(n_docs):
        locale = LOCALES[i % len(LOCALES)]
        doc = _document(_Make(rng, locale))
        assert doc.spans is not None
        out.append(
            {
                "id": f"semistructured-{i:04d}",
                "locale": locale,
                "text": doc.text,
                "spans": [{"start": s, "end": e, "type": t} for s, e, t in doc.spans],
            }
        )
    return out
