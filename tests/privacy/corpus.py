"""A labelled corpus generated with Faker: clinical notes, referral letters, bank chats, KYC forms.

Every identifier is inserted through ``Doc.ent`` which records its exact span as it is
written, so the labels cannot drift from the text. Free text between identifiers contains no
identifiers of its own (it is written for that), so an unlabelled detection is a false positive.
Ages under 90 and plain years are written unlabelled on purpose: Safe Harbor keeps them.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from faker import Faker

__all__ = ["GENRES", "Doc", "Gold", "generate"]


@dataclass(frozen=True)
class Gold:
    entity_type: str
    start: int
    end: int


@dataclass
class Doc:
    genre: str
    parts: list[str] = field(default_factory=list)
    gold: list[Gold] = field(default_factory=list)
    _len: int = 0

    def lit(self, text: str) -> Doc:
        self.parts.append(text)
        self._len += len(text)
        return self

    def ent(self, entity_type: str, value: str) -> Doc:
        self.gold.append(Gold(entity_type, self._len, self._len + len(value)))
        return self.lit(value)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


class _Values:
    """Realistic identifier values."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.us = Faker("en_US")
        self.us.seed_instance(seed)
        self.eu = Faker(["en_GB", "de_DE", "fr_FR", "nl_NL"])
        self.eu.seed_instance(seed + 1)

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def first(self) -> str:
        return self.us.first_name()

    def last(self) -> str:
        return self.us.last_name()

    def date(self) -> str:
        d = self.us.date_between(start_date="-90y", end_date="today")
        fmt = self.pick("%m/%d/%Y", "%B %d, %Y", "%Y-%m-%d", "%d %b %Y", "%b %d, %Y", "%-m/%-d/%Y")
        return d.strftime(fmt)

    def phone(self) -> str:
        a, b, c = self.rng.randint(201, 989), self.rng.randint(200, 999), self.rng.randint(0, 9999)
        return self.pick(
            f"({a}) {b}-{c:04d}",
            f"{a}-{b}-{c:04d}",
            f"{a}.{b}.{c:04d}",
            f"+1 {a}-{b}-{c:04d}",
            f"+1-{a}-{b}-{c:04d}",
            f"({a}){b}-{c:04d}",
            f"{a}-{b}-{c:04d} x{self.rng.randint(10, 9999)}",
        )

    def mrn(self) -> str:
        n = self.rng.randint(10**5, 10**9)
        return self.pick(
            str(n), f"{n:08d}", f"A{n:07d}"[:9], f"MR{n:07d}"[:9], f"{n // 1000}-{n % 1000:03d}"
        )

    def accession(self) -> str:
        yy, n = self.rng.randint(10, 26), self.rng.randint(1, 99999)
        return self.pick(f"S{yy}-{n:05d}", f"ACC{yy}{n:06d}", f"{yy}-LAB-{n:05d}", f"CT{yy}{n:07d}")

    def npi(self) -> str:
        body = str(self.rng.choice((1, 2))) + "".join(self.rng.choices(string.digits, k=8))
        return body + _luhn_digit("80840" + body)

    def dea(self) -> str:
        d = [self.rng.randint(0, 9) for _ in range(6)]
        check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
        return (
            self.rng.choice("ABFGM")
            + self.rng.choice(string.ascii_uppercase)
            + "".join(map(str, d))
            + str(check)
        )

    def member_id(self) -> str:
        letters = "".join(self.rng.choices(string.ascii_uppercase, k=3))
        n = self.rng.randint(10**8, 10**9 - 1)
        return self.pick(f"{letters}{n}", f"W{n}", f"{letters}-{n}")

    def mbi(self) -> str:
        c = "ACDEFGHJKMNPQRTUVWXY"
        r = self.rng
        return (
            str(r.randint(1, 9))
            + r.choice(c)
            + r.choice(c + string.digits)
            + str(r.randint(0, 9))
            + r.choice(c)
            + r.choice(c + string.digits)
            + str(r.randint(0, 9))
            + r.choice(c)
            + r.choice(c)
            + f"{r.randint(0, 99):02d}"
        )

    def account(self) -> str:
        return "".join(self.rng.choices(string.digits, k=self.rng.randint(8, 12)))

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

    def age_over_89(self) -> str:
        return str(self.rng.randint(90, 104))

    def age_under_90(self) -> str:
        return str(self.rng.randint(19, 88))


_CONDITIONS = (
    "chest pain radiating to the left arm",
    "shortness of breath on exertion",
    "poorly controlled type 2 diabetes",
    "a fall at home with left hip pain",
    "worsening lower back pain",
    "fever and productive cough for three days",
    "new onset atrial fibrillation",
    "follow-up of chronic kidney disease stage 3",
)
_MEDS = (
    "metformin 500 mg twice daily",
    "lisinopril 10 mg daily",
    "atorvastatin 40 mg nightly",
    "apixaban 5 mg twice daily",
    "albuterol inhaler as needed",
    "levothyroxine 75 mcg daily",
)
_BANK_ISSUES = (
    "a card payment that was declined",
    "a duplicate charge on my statement",
    "a wire transfer that has not arrived",
    "locking my online banking access",
)


def _clinical_note(v: _Values) -> Doc:
    d = Doc("clinical_note")
    first, last = v.first(), v.last()
    old = v.rng.random() < 0.75
    d.lit("CLINICAL NOTE\n").lit(v.pick("Patient: ", "Patient name: ", "Pt: ", "Name: "))
    d.ent("PERSON", f"{first} {last}").lit("    DOB: ").ent("DATE", v.date())
    d.lit("    MRN: ").ent("MRN", v.mrn()).lit("\nDate of visit: ").ent("DATE", v.date())
    d.lit("\nAttending: Dr. ").ent("PERSON", f"{v.first()} {v.last()}").lit("\n\nHPI: ")
    d.ent("PERSON", first).lit(" is a ")
    if old:
        d.ent("AGE", v.age_over_89()).lit("-year-old")
    else:
        d.lit(v.age_under_90() + "-year-old")
    d.lit(f" {v.pick('woman', 'man')} who presents with {v.pick(*_CONDITIONS)}. ")
    # Hospitals are identifiers (ORGANIZATION); an insurer or a department is not.
    lead, org, tail = v.rng.choice(
        (
            ("Transferred from ", "Mercy General Hospital", ". "),
            ("Seen first at ", "Boston Medical Center", ". "),
            ("Coverage is through Blue Cross Blue Shield. ", "", ""),
            ("Referred by Internal Medicine. ", "", ""),
        )
    )
    d.lit(lead)
    if org:
        d.ent("ORGANIZATION", org).lit(tail)
    d.lit(f"Current medications include {v.pick(*_MEDS)} and {v.pick(*_MEDS)}. ")
    d.lit(v.pick("Brought in by a neighbor, ", "History obtained from ", "Collateral from "))
    d.ent("PERSON", f"{v.first()} {v.last()}").lit(
        v.pick(", who found the patient at home. ", ". ")
    )
    d.lit("Admitted on ").ent("DATE", v.date()).lit(". ")
    d.lit("Lives at ").ent("ADDRESS", v.us.street_address()).lit(", ").ent("LOCATION", v.us.city())
    d.lit(", " + v.us.state_abbr() + " ").ent("ZIP", v.us.zipcode()).lit(". ")
    d.lit(v.pick("Phone: ", "Cell: ", "Tel: ", "Home phone ")).ent("PHONE", v.phone()).lit(".\n")
    d.lit(v.pick("Emergency contact: ", "Next of kin: ")).ent("PERSON", f"{v.first()} {v.last()}")
    d.lit(f" ({v.pick('spouse', 'daughter', 'son')}), ").ent("PHONE", v.phone()).lit(".\n")
    d.lit(v.pick("Insurance member ID: ", "Member ID ", "Subscriber ID: ")).ent(
        "MEMBER_ID", v.member_id()
    )
    d.lit(v.pick("; Medicare MBI ", "; MBI: ")).ent("MEMBER_ID", v.mbi()).lit(".\n")
    d.lit(v.pick("Specimen accession ", "Accession #: ", "Accession number ")).ent(
        "ACCESSION", v.accession()
    )
    d.lit(" sent to pathology.\nPrescriber NPI ").ent("NPI", v.npi()).lit(", DEA ").ent(
        "DEA", v.dea()
    )
    d.lit(".\nAssessment and plan: continue current therapy, repeat labs in 2 weeks, ")
    d.lit("return precautions reviewed. Total time 35 minutes in 2024.\n")
    d.lit("Electronically signed by ").ent("PERSON", f"{v.first()} {v.last()}").lit(", MD on ")
    d.ent("DATE", v.date()).lit(".\n")
    return d


def _referral_letter(v: _Values) -> Doc:
    d = Doc("referral_letter")
    doc_first, doc_last = v.first(), v.last()
    pt_first, pt_last = v.first(), v.last()
    d.ent("DATE", v.date()).lit("\n\nDr. ").ent("PERSON", f"{doc_first} {doc_last}").lit("\n")
    d.ent("ADDRESS", v.us.street_address()).lit("\n").ent("LOCATION", v.us.city())
    d.lit(", " + v.us.state_abbr() + " ").ent("ZIP", v.us.zipcode()).lit("\n\nRe: ")
    d.ent("PERSON", f"{pt_first} {pt_last}").lit(", DOB ").ent("DATE", v.date())
    d.lit(", MRN ").ent("MRN", v.mrn()).lit("\n\nDear Dr. ").ent("PERSON", doc_last).lit(",\n\n")
    d.lit("Thank you for seeing my patient, Mr. ").ent("PERSON", pt_last)
    d.lit(f", for evaluation of {v.pick(*_CONDITIONS)}. He was admitted on ").ent("DATE", v.date())
    d.lit(" and discharged on ").ent("DATE", v.date()).lit(f". He takes {v.pick(*_MEDS)}. ")
    d.lit("I discussed the case with ").ent("PERSON", f"{v.first()} {v.last()}")
    d.lit(v.pick(" from cardiology. ", " in the emergency department. ", ". "))
    d.lit("His wife, ").ent("PERSON", f"{v.first()} {v.last()}")
    d.lit(", manages his appointments and can be reached at ").ent("PHONE", v.phone()).lit(". ")
    d.lit("Please contact our office at ").ent("PHONE", v.phone()).lit(" or fax ")
    d.ent("PHONE", v.phone()).lit(", or email ").ent("EMAIL", v.us.email()).lit(".\n")
    d.lit("Our patient portal is at ").ent("URL", v.us.url()).lit(".\n\nSincerely,\n\n")
    d.ent("PERSON", f"{v.first()} {v.last()}").lit(", MD\nNPI: ").ent("NPI", v.npi()).lit("\n")
    return d


def _bank_chat(v: _Values) -> Doc:
    d = Doc("bank_chat")
    first, last = v.first(), v.last()
    d.lit("Customer: Hi, this is ").ent("PERSON", f"{first} {last}")
    d.lit(f". I need help with {v.pick(*_BANK_ISSUES)}.\n")
    d.lit("Agent: Hello ").ent("PERSON", first).lit(", I can help with that. ")
    d.lit("For verification, can you give me the last four of your SSN?\n")
    d.lit("Customer: Sure, the last four of my SSN are ").ent(
        "SSN", f"{v.rng.randint(1, 9999):04d}"
    )
    d.lit(".\n")
    if v.rng.random() < 0.5:
        d.lit("Agent: And the tax ID on the account?\nCustomer: My ITIN is ").ent(
            "ITIN", v.us.itin()
        )
        d.lit(".\n")
    d.lit("Agent: Thank you. Which account is it about?\n")
    d.lit(
        v.pick("Customer: My checking account ", "Customer: Account number ", "Customer: acct # ")
    )
    d.ent("ACCOUNT", v.account()).lit(", routing number ").ent("ROUTING", v.us.aba()).lit(".\n")
    d.lit("Customer: The card was ").ent("CARD", v.us.credit_card_number()).lit(".\n")
    d.lit(v.pick("Customer: My brother ", "Customer: Also, my husband ", "Customer: My mother "))
    d.ent("PERSON", f"{v.first()} {v.last()}").lit(
        v.pick(" co-signed the loan.\n", " has access too.\n")
    )
    # Banks are identifiers (ORGANIZATION); a payment product is not.
    lead, org, tail = v.rng.choice(
        (
            ("Agent: Did you pay with Apple Pay? ", "", ""),
            ("Agent: Was it sent by ", "Wells Fargo", "? "),
            ("Agent: Is that the card from ", "Capital One", "? "),
        )
    )
    d.lit(lead)
    if org:
        d.ent("ORGANIZATION", org).lit(tail)
    d.lit("Customer: Yes.\n")
    d.lit("Agent: I see a transfer to IBAN ").ent("IBAN", v.eu.iban()).lit(" on ")
    d.ent("DATE", v.date()).lit(" for 2,450.00 USD. Was that you?\n")
    d.lit("Customer: No! I only logged in from ").ent("IP", v.us.ipv4_public())
    d.lit(v.pick(" yesterday.\n", " last week.\n"))
    d.lit("Agent: Understood. Is your email still ").ent("EMAIL", v.us.email()).lit("?\n")
    d.lit("Customer: Yes, or call me at ").ent("PHONE", v.phone()).lit(".\n")
    d.lit("Agent: I have opened case 48 for review. Anything else, ").ent("PERSON", first).lit(
        "?\n"
    )
    d.lit("Customer: No, thanks.\n")
    return d


def _kyc_form(v: _Values) -> Doc:
    d = Doc("kyc_form")
    d.lit("KNOW YOUR CUSTOMER - ACCOUNT OPENING FORM\n")
    d.lit("Full name: ").ent("PERSON", f"{v.first()} {v.last()}").lit("\n")
    d.lit("Date of birth: ").ent("DATE", v.date()).lit("\n")
    if v.rng.random() < 0.5:
        d.lit("SSN: ").ent("SSN", v.us.ssn()).lit("\n")
    else:
        d.lit("ITIN: ").ent("ITIN", v.us.itin()).lit("\n")
    d.lit("Residential address: ").ent("ADDRESS", v.us.street_address()).lit(", ")
    d.ent("LOCATION", v.us.city()).lit(", " + v.us.state_abbr() + " ").ent(
        "ZIP", v.us.zipcode()
    ).lit("\n")
    d.lit("Phone: ").ent("PHONE", v.phone()).lit("\nEmail: ").ent("EMAIL", v.us.email()).lit("\n")
    d.lit("Reference: ").ent("PERSON", f"{v.first()} {v.last()}").lit(", ").ent(
        "PHONE", v.phone()
    ).lit("\n")
    d.lit(v.pick("Driver's license number: ", "Driver license: ", "DL #: ")).ent(
        "DRIVER_LICENSE", v.driver_license()
    )
    d.lit("\nPassport number: ").ent("PASSPORT", v.passport()).lit("\n")
    d.lit("Vehicle VIN: ").ent("VIN", v.us.vin()).lit("\n")
    d.lit("Employer website: ").ent("URL", v.us.url()).lit("\n")
    d.lit("Bank account: ").ent("ACCOUNT", v.account()).lit("    Routing number: ").ent(
        "ROUTING", v.us.aba()
    )
    d.lit("\nIBAN: ").ent("IBAN", v.eu.iban()).lit("\nCard on file: ").ent(
        "CARD", v.us.credit_card_number()
    )
    d.lit("\nSource of funds: salary. Expected monthly volume: 5,000 USD.\n")
    d.lit("Login IP: ").ent("IP", v.pick(v.us.ipv4_public(), v.us.ipv6())).lit("\n")
    d.lit("Applicant signature: ").ent("PERSON", f"{v.first()} {v.last()}").lit("    Date: ").ent(
        "DATE", v.date()
    )
    d.lit("\n")
    return d


GENRES = {
    "clinical_note": _clinical_note,
    "referral_letter": _referral_letter,
    "bank_chat": _bank_chat,
    "kyc_form": _kyc_form,
}


def generate(n_per_genre: int = 50, seed: int = 7) -> list[Doc]:
    """``n_per_genre`` documents of each genre, deterministic for a seed."""
    values = _Values(seed)
    return [make(values) for _ in range(n_per_genre) for make in GENRES.values()]
