"""Evaluation family "email": messages between patients, customers, clinicians and staff.

Headers, greetings, quoted replies and signature blocks; identifiers in display names,
signatures and the body. Every list and format below belongs to this family only.
"""

from __future__ import annotations

import random

from privacy.eval._render import (
    Doc,
    L,
    ascii_handle,
    digits,
    iban_check,
    letters,
    luhn_complete,
)

__all__ = ["N_DOCS", "SEED", "generate"]

SEED = 1202
N_DOCS = 170
LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE")

_GIVEN = {
    "en_US": [
        "Whitney",
        "Darius",
        "Annalise",
        "Cletus",
        "Maribel",
        "Deshawn",
        "Rosemary",
        "Ignatius",
        "Kendra",
        "Lamar",
        "Penelope",
        "Rufus",
    ],
    "en_GB": [
        "Hugo",
        "Cressida",
        "Tariq",
        "Lowri",
        "Dominic",
        "Elspeth",
        "Kofi",
        "Verity",
        "Jago",
        "Harpreet",
        "Marcus",
        "Wilhelmina",
    ],
    "en_CA": [
        "Sébastien",
        "Kaitlyn",
        "Harjit",
        "Océane",
        "Bryce",
        "Nakoda",
        "Mathieu",
        "Leah-Marie",
        "Ezekiel",
        "Rosalie",
        "Ahanu",
        "Quinn",
    ],
    "en_AU": [
        "Kane",
        "Tayla",
        "Blake",
        "Chloe",
        "Jed",
        "Sienna",
        "Mitchell",
        "Bindi",
        "Lachlan",
        "Marnie",
        "Taj",
        "Arkie",
    ],
    "en_IE": [
        "Pádraic",
        "Aoibheann",
        "Cian",
        "Emer",
        "Ciarán",
        "Órla",
        "Dónal",
        "Gráinne",
        "Naoise",
        "Éanna",
        "Muirne",
        "Lughaidh",
    ],
}
_SURN = {
    "en_US": [
        "Gallagher-Ruiz",
        "Pennington",
        "Adeyemi",
        "Struthers",
        "Valdez",
        "Whitcombe",
        "Dunleavy",
        "Kapoor",
        "Heffley",
        "Marchetti",
    ],
    "en_GB": [
        "Fotheringham",
        "Oyinlola",
        "Bagshaw",
        "Crabtree",
        "Entwistle",
        "Mistry",
        "Gosling",
        "Lisle",
        "Ruddock",
        "Birtwistle",
    ],
    "en_CA": [
        "Cote-Maillard",
        "Sauvé",
        "McLellan",
        "Ironstar",
        "Dubois-Hart",
        "Grewal",
        "Paquette",
        "Whiteduck",
        "Lindstrom",
        "Marchand",
    ],
    "en_AU": [
        "Gurruwiwi",
        "Kostopoulos",
        "Pendlebury",
        "Hatzis",
        "O'Halloran",
        "Truscott",
        "Nankivell",
        "Leota",
        "Sheargold",
        "Vukovic",
    ],
    "en_IE": [
        "Ó Conchúir",
        "Mac Cárthaigh",
        "Furlong",
        "Hegarty",
        "Ní Shúilleabháin",
        "Quirke",
        "Dempsey",
        "Ó Floinn",
        "Kiely",
        "Phelan",
    ],
}
_LANES = {
    "en_US": ["Willow Bend Rd", "Carriage House Ln", "Mesa Verde Dr", "Chestnut St", "Bayou Ave"],
    "en_GB": ["Tollgate Hill", "Bramble Way", "Chapel Row", "Lock Keepers Court", "Old Forge Road"],
    "en_CA": [
        "Rideau Street",
        "Bloor Street West",
        "Côte-des-Neiges Road",
        "Kings Road",
        "Spadina Crescent",
    ],
    "en_AU": [
        "Gumtree Close",
        "Marine Parade",
        "Wombat Way",
        "Paperbark Place",
        "Coronation Drive",
    ],
    "en_IE": [
        "Sandymount Avenue",
        "Bóthar an Chnoic",
        "Harbour View",
        "Abbey Lane",
        "Ballyvolane Road",
    ],
}
_SETTLEMENTS = {
    "en_US": [
        ("Hartfield", "MA", "017"),
        ("Boise", "ID", "837"),
        ("Pine Hollow", "NC", "286"),
        ("Tucson", "AZ", "857"),
        ("Salem", "OR", "973"),
    ],
    "en_GB": [
        ("Ebberley", "M"),
        ("Exeter", "EX"),
        ("Llandrindod Wells", "LD"),
        ("Little Harrowden", "NN"),
        ("Durham", "DH"),
    ],
    "en_CA": [
        ("Victoria", "BC", "V8"),
        ("Kelowna", "BC", "V1"),
        ("Laval", "QC", "H7"),
        ("St. John's", "NL", "A1"),
        ("Oshawa", "ON", "L1"),
    ],
    "en_AU": [
        ("Mackay", "QLD", "474"),
        ("Shepparton", "VIC", "363"),
        ("Kalgoorlie", "WA", "643"),
        ("Gosford", "NSW", "225"),
        ("Port Lincoln", "SA", "560"),
    ],
    "en_IE": [
        ("Clonmel", "E91"),
        ("Portlaoise", "R32"),
        ("Navan", "C15"),
        ("Ballina", "F26"),
        ("Bray", "A98"),
    ],
}
_DOMAINS = {
    "en_US": ["rivermail.com", "hotmail.com", "comcast.net", "stlukesclinic.org"],
    "en_GB": ["talktalk.net", "ntlworld.com", "nhs.net", "btopenworld.com"],
    "en_CA": ["rogers.com", "telus.net", "videotron.ca", "hotmail.ca"],
    "en_AU": ["tpg.com.au", "iinet.net.au", "westnet.com.au", "health.qld.gov.au"],
    "en_IE": ["eircom.net", "hse.ie", "indigo.ie", "live.ie"],
}
_CARE_ORGS = [
    "Wellspring Fertility Clinic",
    "Greenlane Physiotherapy",
    "Orchard House Surgery",
    "Lakeside Dermatology",
    "Mercy Heights Hospital",
    "Southgate Dental Practice",
    "Bayside Sleep Centre",
    "Kingsway Eye Hospital",
]
_FIRMS = [
    "Arden Payroll Ltd",
    "Crestline Insurance",
    "Tidewater Shipping Co.",
    "Fernhill Architects",
    "Blue Gum Mining Pty Ltd",
    "Oakridge Credit Union",
]
_SMALLTALK = [
    "Hope you had a good weekend.",
    "Sorry for the slow reply, it's been a week.",
    "Quick one before I forget.",
    "Following up on our call this morning.",
    "As promised, details below.",
    "Apologies if this has gone to the wrong team.",
]
_NOISE = [
    "The dose went from 5 mg to 7.5 mg on the Tuesday.",
    "Invoice total was $84.50 incl. tax.",
    "The Fitbit Charge 6 readings are attached as a CSV.",
    "Ref range for potassium is 3.5-5.1.",
    "We moved the meeting to 3:30pm.",
    "Annual fee is 120 per year after the first 12 months.",
    "Ibuprofen 400 mg with food helped a bit.",
    "The Brother HL-L2350 printer is jammed again.",
]


class _Pick:
    def __init__(self, rng: random.Random, locale: str) -> None:
        self.r = rng
        self.loc = locale

    def any(self, seq):
        return self.r.choice(seq)

    def who(self) -> tuple[str, str]:
        return self.any(_GIVEN[self.loc]), self.any(_SURN[self.loc])

    def mailbox(self, given: str, surname: str) -> str:
        clean = ascii_handle
        user = self.any(
            [
                f"{clean(given)}.{clean(surname)}",
                f"{clean(given)[0]}{clean(surname)}",
                f"{clean(surname)}{self.r.randint(70, 99)}",
                f"{clean(given)}_{clean(surname)[:3]}",
            ]
        )
        return f"{user}@{self.any(_DOMAINS[self.loc])}"

    def number(self) -> str:
        r = self.r
        two = f"{r.randint(0, 99):02d}"
        if self.loc == "en_US":
            a = self.any(["208", "520", "978", "828"])
            return self.any(
                [
                    f"({a}) 555-01{two}",
                    f"{a}-555-01{two}",
                    f"{a}.555.01{two}",
                    f"+1 {a}-555-01{two}",
                    f"{a} 555 01{two}",
                ]
            )
        if self.loc == "en_CA":
            a = self.any(["250", "709", "905", "450"])
            return self.any([f"{a}-555-01{two}", f"1 ({a}) 555-01{two}", f"{a}55501{two}"])
        if self.loc == "en_GB":
            t = f"{r.randint(0, 999):03d}"
            return self.any(
                [
                    f"+44 (0)20 7946 0{t}",
                    f"01632 960 {t}",
                    f"0118 496 0{t}",
                    f"07700 900 {t}",
                    f"(0116) 496 0{t}",
                    f"029 2018 0{t}",
                    f"020 79460{t}",
                ]
            )
        if self.loc == "en_AU":
            return self.any(
                [
                    f"+61 491 570 {r.randint(110, 159)}",
                    f"(03) 7010 {digits(r, 4)}",
                    f"04{digits(r, 2)} 5{digits(r, 2)} {digits(r, 3)}",
                    f"02 5550 {digits(r, 4)}",
                ]
            )
        return self.any(
            [
                f"+353 (0)1 {digits(r, 3)} {digits(r, 4)}",
                f"087-{digits(r, 3)}-{digits(r, 4)}",
                f"(0{r.randint(41, 69)}) {digits(r, 3)} {digits(r, 4)}",
                f"089 {digits(r, 7)}",
            ]
        )

    def when(self, y0: int = 2022, y1: int = 2025) -> str:
        r = self.r
        y, m, d = r.randint(y0, y1), r.randint(1, 12), r.randint(1, 28)
        full = [
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
        ][m - 1]
        if self.loc == "en_US":
            return self.any([f"{full} {d}, {y}", f"{m}/{d}/{y}", f"{full[:3]} {d}"])
        if self.loc == "en_CA":
            return self.any([f"{full} {d}, {y}", f"{y}-{m:02d}-{d:02d}"])
        return self.any([f"{d} {full} {y}", f"{d}/{m}/{y}", f"{d} {full[:3]}"])

    def home(self) -> list[str | L]:
        r = self.r
        lane = self.any(_LANES[self.loc])
        town, *rest = self.any(_SETTLEMENTS[self.loc])
        if self.loc == "en_US":
            line = f"{r.randint(10, 8999)} {lane}" + (
                f" #{r.randint(2, 40)}" if r.random() < 0.3 else ""
            )
            return [
                L("ADDRESS", line),
                ", ",
                L("LOCATION", town),
                f", {rest[0]} ",
                L("ZIP", rest[1] + digits(r, 2)),
            ]
        if self.loc == "en_GB":
            line = self.any(
                [
                    f"{r.randint(1, 150)} {lane}",
                    f"Flat {r.randint(1, 90)}{self.any(['', 'b', 'm'])} {lane}",
                ]
            )
            pc = (
                f"{rest[0]}{r.randint(1, 35)} {r.randint(1, 9)}{letters(r, 2, 'ABDEFHJLNPRSTUWXY')}"
            )
            return [L("ADDRESS", line), "\n", L("LOCATION", town), "\n", L("ZIP", pc)]
        if self.loc == "en_CA":
            pc = (
                f"{rest[1]}{letters(r, 1, 'ABCEGHJKLMNPRSTV')} {r.randint(1, 9)}"
                f"{letters(r, 1, 'ABCEGHJKLMNPRSTV')}{r.randint(1, 9)}"
            )
            return [
                L("ADDRESS", f"{r.randint(2, 999)} {lane}"),
                ", ",
                L("LOCATION", town),
                f" {rest[0]}  ",
                L("ZIP", pc),
            ]
        if self.loc == "en_AU":
            line = self.any(
                [
                    f"{r.randint(1, 99)} {lane}",
                    f"Unit {r.randint(1, 12)}, {r.randint(1, 99)} {lane}",
                ]
            )
            return [
                L("ADDRESS", line),
                ", ",
                L("LOCATION", town),
                f" {rest[0]} ",
                L("ZIP", rest[1] + digits(r, 1)),
            ]
        code = (
            f"{rest[0]} {letters(r, 1, 'ACDEFHKNPRTVWXY')}{digits(r, 1)}"
            f"{letters(r, 1, 'ACDEFHKNPRTVWXY')}{digits(r, 1)}"
        )
        return [
            L("ADDRESS", f"{r.randint(1, 80)} {lane}"),
            ",\n",
            L("LOCATION", town),
            ",\n",
            L("ZIP", code),
        ]


def _signature(p: _Pick, given: str, surname: str, org: str | None) -> list[str | L]:
    out: list[str | L] = ["\n-- \n", L("PERSON", f"{given} {surname}")]
    out.append(p.any(["", " MSc", " BSc (Hons)", ", CPA", " RN"]) + "\n")
    if org:
        out.extend(
            [
                p.any(["Practice Manager", "Claims Officer", "Consultant", "HR Advisor"]),
                ", ",
                L("ORGANIZATION", org),
                "\n",
            ]
        )
    out.extend(
        [
            p.any(["T: ", "Tel ", "Direct: ", "Ph "]),
            L("PHONE", p.number()),
            "  ",
            p.any(["M: ", "Mob ", "Cell: "]),
            L("PHONE", p.number()),
            "\n",
        ]
    )
    if p.r.random() < 0.4:
        out.extend(
            [
                L(
                    "URL",
                    (
                        f"https://www."
                        f"{ascii_handle(org or surname)[:18]}."
                        f"{p.any(['com', 'org', 'co.uk', 'com.au', 'ie', 'ca'])}/"
                        f"{p.any(['contact', 'team/' + ascii_handle(given)[:6]])}"
                    ),
                ),
                "\n",
            ]
        )
    return out


def _patient_to_practice(p: _Pick) -> Doc:
    r = p.r
    g, s = p.who()
    _, ds = p.who()
    practice = p.any(_CARE_ORGS)
    doc = Doc()
    doc.extend(["From: ", L("PERSON", f"{g} {s}"), " <", L("EMAIL", p.mailbox(g, s)), ">\n"])
    doc.extend(
        [
            "To: reception <",
            L(
                "EMAIL",
                (f"reception@{ascii_handle(practice)[:14]}.{p.any(['org', 'com', 'ie', 'co.uk'])}"),
            ),
            ">\n",
        ]
    )
    doc.extend(["Sent: ", L("DATE", p.when()), f" {r.randint(7, 22)}:{r.randint(0, 59):02d}\n"])
    doc.add(
        f"Subject: "
        f"{p.any(['repeat prescription', 'appointment', 'test results?', 'sick note'])}\n\n"
    )
    doc.extend(
        [
            p.any(["Dear ", "Hi ", "Hello "]),
            p.any(["Dr. ", "Dr ", "Nurse "]),
            L("PERSON", ds),
            ",\n\n",
            p.any(_SMALLTALK),
            " ",
        ]
    )
    doc.extend(
        [
            L("PERSON", p.any([g, g.lower()])),
            " here",
            p.any([" (", ", "]),
            "date of birth ",
            L("DATE", p.when(1934, 2006)),
            p.any([")", ""]),
            ". ",
        ]
    )
    doc.extend(
        [
            "I was seen at ",
            L("ORGANIZATION", practice),
            " on ",
            L("DATE", p.when()),
            " and ",
            p.any(_NOISE),
            "\n\n",
        ]
    )
    if r.random() < 0.5:
        doc.extend(
            [
                "My mother ",
                L("PERSON", f"{p.who()[0]} {s}"),
                " (",
                L("AGE", str(r.randint(90, 99))),
                ") also needs her review. You can reach me on ",
                L("PHONE", p.number()),
                " or ",
                L("PHONE", p.number()),
                ", or write to ",
                *p.home(),
                ".\n\n",
            ]
        )
    else:
        alt = p.mailbox(g, s).replace("@", " at ").replace(".", " dot ")
        doc.extend(
            [
                "My employer (",
                L("ORGANIZATION", p.any(_FIRMS)),
                ") needs a fit note. ",
                "Please use my other address ",
                L("EMAIL", alt),
                " as work blocks attachments.\n\n",
            ]
        )
    doc.extend(
        [
            p.any(["Thanks,\n", "Kind regards\n", "cheers\n"]),
            L("PERSON", p.any([g, f"{g[0]}. {s}", g.lower()])),
            "\n",
        ]
    )
    return doc


def _bank_complaint(p: _Pick) -> Doc:
    r = p.r
    g, s = p.who()
    sg, ss = p.who()
    doc = Doc()
    doc.extend(['From: "', L("PERSON", f"{s}, {g}"), '" <', L("EMAIL", p.mailbox(g, s)), ">\n"])
    doc.extend(["Date: ", L("DATE", p.when()), "\nSubject: disputed transaction\n\n"])
    doc.add(p.any(["To whom it may concern,\n\n", "Hello,\n\n", "Dear Sir/Madam,\n\n"]))
    card_tail = digits(r, 4)
    doc.extend(
        [
            "I'm writing about my ",
            p.any(["credit card", "debit card", "Visa"]),
            " ",
            p.any(["ending in ", "ending ", "with the last four digits "]),
            L("CARD", card_tail),
            ". A payment of ",
            f"{r.randint(20, 900)}.{r.randint(0, 99):02d}",
            " on ",
            L("DATE", p.when()),
            " was not made by me. ",
        ]
    )
    if p.loc == "en_US":
        doc.extend(
            [
                "For verification the last 4 of my SSN are ",
                L("SSN", digits(r, 4, True)),
                " and my routing/account is on file (acct. ending ",
                L("ACCOUNT", digits(r, 4)),
                "). ",
            ]
        )
    elif p.loc in ("en_GB", "en_IE"):
        iban = iban_check(
            "GB" if p.loc == "en_GB" else "IE", p.any(["ABBY", "AIBK", "NWBK"]) + digits(r, 14)
        )
        spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        doc.extend(["Please refund to ", L("IBAN", p.any([iban.lower(), spaced, iban])), ". "])
    else:
        doc.extend(
            [
                "The full card number is ",
                L("CARD", luhn_complete("4" + digits(r, 14))),
                ", expiry ",
                f"{r.randint(1, 12):02d}/{r.randint(26, 30)}",
                ". ",
            ]
        )
    doc.extend(
        [
            "I first reported it by phone to ",
            L("PERSON", p.any([sg, f"{sg} {ss}"])),
            " who gave reference ",
            f"CMP-{digits(r, 6)}",
            ".\n\n",
        ]
    )
    doc.extend(["Address for correspondence:\n", *p.home(), "\n\n"])
    doc.extend(
        [
            "Regards,\n",
            L("PERSON", f"{g.upper()} {s.upper()}" if r.random() < 0.3 else f"{g} {s}"),
            "\n",
        ]
    )
    doc.extend(
        [
            "\n> On ",
            L("DATE", p.when()),
            ", ",
            L("PERSON", f"{sg} {ss}"),
            " wrote:\n> Thank you for contacting ",
            L("ORGANIZATION", p.any([*_FIRMS[-2:], "Harbour & Hill Building Society"])),
            ". Your case is logged.\n",
        ]
    )
    return doc


def _referral(p: _Pick) -> Doc:
    r = p.r
    g, s = p.who()
    a_g, a_s = p.who()
    b_g, b_s = p.who()
    org = p.any(_CARE_ORGS)
    doc = Doc()
    doc.extend(
        [
            "To: ",
            L("EMAIL", p.mailbox(b_g, b_s)),
            "\nCc: ",
            L("EMAIL", p.mailbox(p.who()[0], p.who()[1])),
            "\nSubject: referral - ",
            L("PERSON", f"{s.upper()} {g}"),
            "\n\n",
        ]
    )
    doc.extend(
        [
            "Hi ",
            L("PERSON", b_g),
            ",\n\nCould you see ",
            p.any(["Mr ", "Ms ", "Mrs. ", "Master ", ""]),
            L("PERSON", f"{g} {s}"),
            p.any([" Jr", "", " III", ""]),
            " (",
            p.any(["hospital no. ", "ID ", "our ref "]),
            L(
                "MRN",
                p.any(
                    [
                        f"{letters(r, 1)}{digits(r, 7)}",
                        digits(r, 9),
                        f"{digits(r, 4)}-{digits(r, 4)}",
                    ]
                ),
            ),
            ", DOB ",
            L("DATE", p.when(1930, 2010)),
            ")? ",
        ]
    )
    doc.extend(
        [
            L("PERSON", g),
            " has had ",
            p.any(
                [
                    "recurrent syncope",
                    "a persistent cough",
                    "knee pain after a fall",
                    "low mood and insomnia",
                ]
            ),
            " since ",
            p.any(["spring", "the summer", "last year"]),
            ". ",
            p.any(_NOISE),
            " ",
        ]
    )
    doc.extend(
        [
            "Imaging is under accession ",
            L("ACCESSION", f"RAD-{r.randint(2022, 2025)}-{digits(r, 6)}"),
            " and the report link is ",
            L(
                "URL",
                (
                    f"https://pacs.{p.any(['northcare', 'mercyweb', 'imaginghub'])}.net/study/"
                    f"{digits(r, 8)}"
                ),
            ),
            ".\n\n",
        ]
    )
    doc.extend(
        ["Works at ", L("ORGANIZATION", p.any(_FIRMS)), " and lives alone at ", *p.home(), ".\n"]
    )
    doc.extend(
        ["Best number is ", L("PHONE", p.number()), "; landline ", L("PHONE", p.number()), ".\n"]
    )
    doc.extend(_signature(p, a_g, a_s, org))
    return doc


def _hr_note(p: _Pick) -> Doc:
    r = p.r
    g, s = p.who()
    m_g, _ = p.who()
    firm = p.any(_FIRMS)
    doc = Doc()
    doc.extend(["Subject: absence - ", L("PERSON", g.lower() + " " + s.lower()), "\n\n"])
    doc.extend(
        [
            L("PERSON", m_g),
            ",\n\n",
            L("PERSON", g),
            " rang in sick again today (third time since ",
            L("DATE", p.when()),
            "). ",
            p.any(["She", "He"]),
            " said the GP at ",
            L("ORGANIZATION", p.any(_CARE_ORGS)),
            " has signed ",
            p.any(["her", "him"]),
            " off for ",
            str(r.randint(1, 4)),
            " weeks.\n",
        ]
    )
    doc.extend(
        [
            "Emergency contact on file is ",
            L("PERSON", f"{p.who()[0]} {p.who()[1]}"),
            ", ",
            L("PHONE", p.number()),
            ". Payroll has IP logs showing a login from ",
            L("IP", f"192.0.2.{r.randint(1, 254)}"),
            " so ",
            p.any(["maybe worth a chat.", "fine."]),
            "\n",
        ]
    )
    sender_g, sender_s = p.who()
    doc.extend(_signature(p, sender_g, sender_s, firm))
    return doc


def _document(p: _Pick) -> Doc:
    return p.any([_patient_to_practice, _bank_complaint, _referral, _hr_note, _referral])(p)


def generate(seed: int = SEED, n_docs: int = N_DOCS) -> list[dict]:
    """The family's records, deterministic in ``seed``."""
    rng = random.Random(seed)
    out = []
    for i in range(n_docs):
        locale = LOCALES[i % len(LOCALES)]
        doc = _document(_Pick(rng, locale))
        assert doc.spans is not None
        out.append(
            {
                "id": f"email-{i:04d}",
                "locale": locale,
                "text": doc.text,
                "spans": [{"start": s, "end": e, "type": t} for s, e, t in doc.spans],
            }
        )
    return out
