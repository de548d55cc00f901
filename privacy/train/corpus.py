"""The tuning corpus: seeded, labelled synthetic documents in the genres Bastion redacts.

Each document is written piece by piece through ``Doc.ent``, which records the character span of
every identifier as it is written, so labels cannot drift from the text. Text between
identifiers is written to contain none (drugs, doses, lab values, eponymous diseases, insurers,
states and countries are written on purpose and left unlabelled), so an unlabelled detection is
a false positive.

Labelling conventions (Bastion entity types, ``privacy.entities``, plus ORGANIZATION):
- PERSON covers the name only: titles ("Dr.", "Mrs") and credentials (", MD") stay outside;
  generational suffixes ("Jr.") and "Last, First" forms are inside one span.
- ADDRESS is the street line (with flat / unit / apartment); LOCATION the town; ZIP the ZIP or
  postcode. States, provinces, counties and countries are not labelled (Safe Harbor keeps them).
- ORGANIZATION: hospitals, clinics, practices, pharmacies, employers, schools. Insurers, card
  networks, national bodies (NHS, Medicare) and departments are not labelled.
- Partial identifiers with a cue ("card ending 0424", "last four of my SSN 5504") carry the type of
  the whole identifier. National identity numbers (NI, SIN, TFN, PPSN) are labelled SSN; the NHS
  number MRN; Medicare (AU), provincial health cards and IHI numbers MEMBER_ID; sort codes and
  BSBs ROUTING. Ages under 90 and bare years are not identifiers.

``python -m privacy.train.corpus --n 200 --seed 1 --out corpus.jsonl`` writes a corpus.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from privacy.train.id_forms import TEMPLATES as ID_FORM_TEMPLATES
from privacy.train.values import LOCALES, Name, Values

__all__ = ["LABELS", "TEMPLATES", "Doc", "Example", "generate", "to_jsonl"]

LABELS: tuple[str, ...] = (
    "PERSON", "DATE", "AGE", "PHONE", "EMAIL", "ADDRESS", "ZIP", "LOCATION", "SSN", "ITIN",
    "DRIVER_LICENSE", "PASSPORT", "VIN", "IP", "URL", "MRN", "ACCESSION", "MEMBER_ID", "NPI",
    "DEA", "CARD", "ACCOUNT", "ROUTING", "IBAN", "ORGANIZATION",
)  # fmt: skip


@dataclass(frozen=True)
class Example:
    """A labelled text: ``spans`` are (start, end, label) character offsets."""

    text: str
    spans: tuple[tuple[int, int, str], ...]
    template: str
    locale: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "text": self.text,
                "spans": [list(s) for s in self.spans],
                "template": self.template,
                "locale": self.locale,
            },
            ensure_ascii=False,
            sort_keys=True,
        )


@dataclass
class Doc:
    """A document under construction."""

    template: str
    locale: str
    case: str | None = None  # "lower" / "upper": the whole document is written that way
    parts: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    size: int = 0

    def lit(self, text: str) -> Doc:
        text = _case(text, self.case)
        self.parts.append(text)
        self.size += len(text)
        return self

    def ent(self, label: str, value: str) -> Doc:
        if label not in LABELS:
            raise ValueError(f"unknown label {label}")
        value = _case(value, self.case)  # spans are measured on the text as written
        self.spans.append((self.size, self.size + len(value), label))
        self.parts.append(value)
        self.size += len(value)
        return self

    def example(self) -> Example:
        return Example("".join(self.parts), tuple(self.spans), self.template, self.locale)


# -- unlabelled vocabulary (negatives) ------------------------------------------------------
_DRUGS = (
    "metformin 500 mg twice daily", "lisinopril 10 mg once daily", "atorvastatin 40 mg nocte",
    "apixaban 5 mg BD", "Eliquis 2.5 mg twice a day", "Lipitor 20 mg", "Ozempic 0.5 mg weekly",
    "warfarin as per INR", "amoxicillin 500 mg TDS for 5 days", "Augmentin 625 mg",
    "prednisolone 40 mg OD", "salbutamol 100 mcg PRN", "Ventolin two puffs as needed",
    "sertraline 50 mg", "levothyroxine 75 mcg", "furosemide 40 mg mane", "ramipril 2.5 mg",
    "amlodipine 5 mg", "omeprazole 20 mg", "paracetamol 1 g QDS", "Tylenol 650 mg",
    "co-codamol 30/500", "insulin glargine (Lantus) 18 units at night", "Humira 40 mg fortnightly",
    "ibuprofen 400 mg with food", "doxycycline 100 mg", "Keytruda every three weeks",
)  # fmt: skip
_CONDITIONS = (
    "chest pain radiating to the left arm", "shortness of breath on exertion",
    "poorly controlled type 2 diabetes", "a fall at home with left hip pain",
    "worsening lower back pain", "fever and productive cough for three days",
    "new onset atrial fibrillation", "chronic kidney disease stage 3", "Bell's palsy",
    "Parkinson's disease", "Crohn's disease", "Hashimoto's thyroiditis", "Graves' disease",
    "Addison's disease", "Cushing's syndrome", "early Alzheimer's dementia", "Hodgkin lymphoma",
    "Guillain-Barré syndrome", "Raynaud's phenomenon", "Barrett's oesophagus",
    "Sjögren's syndrome", "Meniere's disease", "a COPD exacerbation", "cellulitis of the left leg",
)  # fmt: skip
_FINDINGS = (
    "HbA1c 7.2% (55 mmol/mol)", "eGFR 48 mL/min/1.73m2", "Na 138, K 4.1, creatinine 96 umol/L",
    "Hb 112 g/L", "WBC 11.2 x10^9/L", "TSH 2.1 mIU/L", "BP 142/88 mmHg, HR 76, SpO2 97% on air",
    "INR 2.4", "troponin below 5 ng/L", "LDL 3.1 mmol/L", "CRP 45 mg/L", "BMI 31.4",
    "Glasgow Coma Scale 15/15", "Wells score 1", "temperature 38.2 C", "ferritin 18 ug/L",
    "ALT 34 U/L", "vitamin D 42 nmol/L", "PSA 1.8 ng/mL", "QTc 438 ms",
)  # fmt: skip
_PLANS = (
    "Will review in clinic in six weeks.", "Mark the injection site and recheck tomorrow.",
    "Continue current therapy and repeat bloods in 2 weeks.", "Return precautions reviewed.",
    "Referred to Cardiology for a Holter monitor.", "Physiotherapy to continue twice weekly.",
    "Discussed at the Oncology MDT on Tuesday.", "Safety-netting advice given.",
    "Epley manoeuvre performed with good effect.", "Foley catheter removed on day 2.",
    "Murphy's sign negative.", "Babinski sign absent bilaterally.", "Apgar score 9 at 5 minutes.",
    "Covered by Medicare Part B.", "NHS funding approved.", "Prior authorisation sent to Aetna.",
    "Bupa pre-approval pending.", "Transport arranged by the HSE.", "Seen by Internal Medicine.",
    "Admitted under General Surgery.", "No travel outside Texas.", "Recently returned from Spain.",
    "Moved from Ontario last year.", "Family originally from Queensland.",
    "Bill for the last visit was settled.", "Grace period for the repeat prescription agreed.",
    "Hope to see improvement by May.", "Review again in June.", "Symptoms since March.",
    "Supply: 28 days, 2 repeats.", "Moved to Ward 12, bay 4.", "Take 2 tablets, 3 times a day.",
    "Freezing of gait noted.", "Seen By Physio.", "Insulin Glargine titrated; HbA1c Pending.",
    "Occupational Health informed.", "People Team aware.", "Reply slip returned.",
)  # fmt: skip
_BANK = (
    "a card payment that was declined", "a duplicate charge on my statement",
    "a wire transfer that has not arrived", "locking my online banking", "a mortgage overpayment",
    "a direct debit I do not recognise", "raising my overdraft limit", "a Visa chargeback",
    "an Apple Pay token", "a PayPal refund",
)  # fmt: skip


_ROLES = (
    "Consultant Physician", "Clinical Nurse Specialist", "Practice Manager", "Human Resources",
    "Accounts Department", "Senior Staff Nurse", "Specialty Registrar", "Patient Services",
    "Customer Support Team", "Head of Compliance", "Community Matron", "Medical Secretary",
    "Consultant Cardiologist", "General Practitioner", "Ward Manager", "Discharge Coordinator",
    "Occupational Health", "People Team", "Occupational Health Physician", "Payroll",
)  # fmt: skip


def _role(v: Values) -> str:
    """A job title or department: capitalized words that are not an organization."""
    return v.pick(*_ROLES)


def _neg(v: Values, k: int = 2) -> str:
    """``k`` sentences with no identifier in them."""
    out = []
    for _ in range(k):
        out.append(
            v.pick(
                f"Currently taking {v.pick(*_DRUGS)}.",
                f"Bloods: {v.pick(*_FINDINGS)}; {v.pick(*_FINDINGS)}.",
                f"Background of {v.pick(*_CONDITIONS)}.",
                v.pick(*_PLANS),
                f"Started on {v.pick(*_DRUGS)}; stop {v.pick(*_DRUGS).split()[0]}.",
                f"Known {v.pick(*_CONDITIONS)}, stable on {v.pick(*_DRUGS)}.",
                f"{v.pick(*_CONDITIONS).capitalize()}: reviewed, no change.",
                f"Discussed with the {_role(v)}; {v.pick(*_PLANS).lower()}",
            )
        )
    return " ".join(out)


# -- labelled pieces ------------------------------------------------------------------------
def _case(text: str, case: str | None) -> str:
    return text.lower() if case == "lower" else text.upper() if case == "upper" else text


def _person(
    d: Doc,
    v: Values,
    *,
    title: float = 0.0,
    doctor: bool = False,
    style: str | None = None,
    case: str | None = None,
    cred: float = 0.0,
    name: Name | None = None,
) -> Name:
    """Write an optional title, a name (PERSON) and an optional credential."""
    n = name or v.name()
    style = style or v.name_style()
    if doctor and v.chance(max(title, 0.5)):
        d.lit(v.doctor_title() + " ")
        if style == "last_first":
            style = "full"
    elif v.chance(title) and style != "last_first":
        d.lit(_case(v.title(), case) + " ")
        if v.chance(0.4):
            style = "last"
    d.ent("PERSON", _case(v.render_name(n, style), case))
    if v.chance(cred) and style != "last_first":
        d.lit(v.credential())
    return n


def _address(d: Doc, v: Values, *, sep: str = ", ", street: bool = True) -> None:
    """Street (ADDRESS), town (LOCATION), region (unlabelled) and postcode (ZIP)."""
    if sep == ", " and v.chance(0.1):
        sep = v.pick("  ", ",  ", "\t", " ")
    if street:
        d.ent("ADDRESS", v.street()).lit(sep)
    d.ent("LOCATION", v.town())
    region = v.region()
    if v.locale == "en_US":
        d.lit(", " + region + " " if v.chance(0.85) else v.pick(" ", ", "))
    elif v.locale in ("en_CA", "en_AU"):
        d.lit(v.pick(", ", " ") + region + v.pick(" ", "  "))
    elif region and v.chance(0.5):
        d.lit(sep + region + sep)
    else:
        d.lit(v.pick(sep, " "))
    d.ent("ZIP", v.postcode())


def _phone(d: Doc, v: Values) -> None:
    d.ent("PHONE", v.phone())


def _org(d: Doc, v: Values, kind: str) -> None:
    d.ent("ORGANIZATION", v.organization(kind))


def _date(d: Doc, v: Values, *, dob: bool = False) -> None:
    d.ent("DATE", v.date(dob=dob))


def _age(d: Doc, v: Values) -> None:
    if v.chance(0.4):
        d.ent("AGE", v.age_over_89())
    else:
        d.lit(str(v.rng.randint(19, 88)))


# -- templates ------------------------------------------------------------------------------
def _progress_note(d: Doc, v: Values) -> None:
    d.lit(v.pick("PROGRESS NOTE\n", "Clinic note\n", "SOAP NOTE\n", ""))
    d.lit(v.pick("Patient: ", "Name: ", "Pt: ", "Patient name - "))
    n = _person(d, v)
    d.lit(v.pick("   DOB: ", ", born ", " | DOB "))
    _date(d, v, dob=True)
    d.lit(v.pick("   MRN: ", " | MRN ", "\nChart ", "\nHospital no. ")).ent("MRN", v.mrn()).lit(
        "\n"
    )
    d.lit(v.pick("Seen at ", "Location: ", "Clinic: "))
    _org(d, v, v.pick("hospital", "practice"))
    d.lit(" on ")
    _date(d, v)
    d.lit(".\n\nS: ")
    d.ent("PERSON", n.first if v.chance(0.6) else n.last)
    d.lit(" is a ")
    _age(d, v)
    d.lit(f"-year-old {v.pick('woman', 'man', 'patient')} with {v.pick(*_CONDITIONS)}. ")
    d.lit(_neg(v, 1) + " ")
    d.lit(v.pick("Accompanied by ", "History from ", "Collateral from "))
    _person(d, v, title=0.4)
    d.lit(v.pick(" (daughter). ", ", her husband. ", ", a neighbour, ", ". "))
    d.lit("\nO: " + _neg(v, 2) + "\nA/P: " + _neg(v, 2) + "\n")
    if v.chance(0.5):
        d.lit("Discussed with ")
        _person(d, v, doctor=True, cred=0.3)
        d.lit(v.pick(" from Cardiology.", " (registrar).", ", who agrees.") + "\n")
    d.lit(v.pick("Signed: ", "Electronically signed by ", "-- "))
    _person(d, v, doctor=True, cred=0.5)
    d.lit("\n" + _role(v) + "\n" if v.chance(0.4) else "\n")


def _discharge_summary(d: Doc, v: Values) -> None:
    d.lit("DISCHARGE SUMMARY\n")
    _org(d, v, "hospital")
    d.lit(" - Ward " + str(v.rng.randint(1, 40)) + "\n")
    d.lit(v.pick("Patient: ", "Name: "))
    _person(d, v, style=v.pick("last_first", "full"), case=v.pick(None, None, "upper"))
    d.lit("\nAddress: ")
    _address(d, v)
    d.lit("\n")
    cue, value, label = v.health_id()
    d.lit(f"{cue}: ").ent(label, value).lit("\nAdmitted: ")
    _date(d, v)
    d.lit("   Discharged: ")
    _date(d, v)
    d.lit(f"\n\nDiagnosis: {v.pick(*_CONDITIONS)}.\n{_neg(v, 3)}\n")
    d.lit("Follow-up with GP ")
    _person(d, v, doctor=True)
    d.lit(" at ")
    _org(d, v, "practice")
    opener, closer = v.pick((", tel ", "."), (" (", ")."), (", phone ", "."))
    d.lit(opener)
    _phone(d, v)
    d.lit(closer)
    d.lit("\nDischarging clinician: ")
    _person(d, v, doctor=True, cred=0.4)
    d.lit(f"\n{_neg(v, 1)}\n")


def _referral_letter(d: Doc, v: Values) -> None:
    _org(d, v, "practice")
    d.lit("\n")
    _address(d, v, sep="\n")
    d.lit("\nTel: ")
    _phone(d, v)
    d.lit("\n\n")
    _date(d, v)
    d.lit("\n\n")
    doc = _person(d, v, doctor=True, style="full")
    d.lit("\n")
    _org(d, v, "hospital")
    d.lit("\n\nDear Dr ")
    d.ent("PERSON", doc.last)
    d.lit(",\n\nRe: ")
    pt = _person(d, v, title=0.5)
    d.lit(v.pick(", DOB ", " (born ", ", date of birth "))
    _date(d, v, dob=True)
    d.lit(v.pick(", ", ") ", ". ") + "\n")
    d.lit(f"Thank you for seeing this patient with {v.pick(*_CONDITIONS)}. ")
    d.lit(v.pick("Mr ", "Mrs ", "Ms ", "")).ent("PERSON", pt.last if v.chance(0.5) else pt.first)
    d.lit(" works at ")
    _org(d, v, "employer")
    d.lit(" and lives at ")
    _address(d, v)
    d.lit(". " + _neg(v, 2) + "\n")
    d.lit(v.pick("Their partner, ", "Next of kin: ", "His wife "))
    _person(d, v)
    d.lit(v.pick(", can be reached on ", ", mobile ", " - "))
    _phone(d, v)
    d.lit(".\n\nYours sincerely,\n\n")
    _person(d, v, doctor=True, cred=0.7)
    d.lit("\n" + _role(v) + "\n" if v.chance(0.5) else "\n")


def _telehealth(d: Doc, v: Values) -> None:
    clin = v.name()
    pt = v.name()
    cl = v.pick("Clinician", "Dr", "Nurse", "GP")
    d.lit(f"[Telehealth consult via {v.pick('Zoom', 'Microsoft Teams', 'phone')}]\n")
    d.lit(f"{cl}: Good morning, this is ")
    _person(d, v, doctor=True, style="full", name=clin)
    d.lit(" from ")
    _org(d, v, v.pick("practice", "hospital"))
    d.lit(". Am I speaking with ")
    _person(d, v, title=0.5, style="full", name=pt)
    d.lit("?\nPatient: Yes, that's me.\n")
    d.lit(f"{cl}: Can you confirm your date of birth and postcode?\nPatient: ")
    _date(d, v, dob=True)
    d.lit(v.pick(", and it's ", ". ", " and "))
    d.ent("ZIP", v.postcode())
    d.lit(".\n")
    d.lit(f"{cl}: Thanks. How have you been since we started {v.pick(*_DRUGS)}?\n")
    d.lit("Patient: Better. My " + v.pick("son ", "daughter ", "carer ", "husband "))
    _person(d, v, style=v.pick("first", "full"))
    d.lit(" has been helping. " + v.pick("We moved to ", "I'm staying in ", "I'm back home in "))

    d.ent("LOCATION", v.town())
    d.lit(" now.\n")
    d.lit(f"{cl}: {_neg(v, 1)} Best number to reach you?\nPatient: ")
    _phone(d, v)
    d.lit(v.pick(", or email ", ". Or ")).ent("EMAIL", v.email(pt)).lit(".\n")
    d.lit(f"{cl}: {_neg(v, 1)} Take care, ")
    d.ent("PERSON", pt.first)
    d.lit(".\n")


def _nursing_handover(d: Doc, v: Values) -> None:
    d.lit(v.pick("Handover - ", "Nursing handover ", "Shift handover, "))
    d.lit(v.pick("night shift\n", "Ward 7B\n", "ICU\n"))
    for bed in range(v.rng.randint(2, 4)):
        d.lit(f"Bed {bed + v.rng.randint(1, 20)}: ")
        _person(d, v, style="last_first", case=v.pick(None, "upper"))
        d.lit(", ")
        _age(d, v)
        d.lit(v.pick("y, ", "yo, ", " years, "))
        d.lit(f"{v.pick(*_CONDITIONS)}. {_neg(v, 1)}")
        if v.chance(0.5):
            d.lit(" Family: ")
            _person(d, v, title=0.5)
            d.lit(" on ")
            _phone(d, v)
            d.lit(".")
        d.lit("\n")
    d.lit("Handed over by ")
    _person(d, v, style=v.pick("full", "first"), cred=0.3)
    d.lit(v.pick(" to ", " -> "))
    _person(d, v, style=v.pick("full", "first"))
    d.lit(".\n")


def _lab_report(d: Doc, v: Values) -> None:
    d.lit("LABORATORY REPORT\n")
    _org(d, v, "hospital")
    d.lit(" Pathology\n")
    d.lit("Patient: ")
    _person(d, v, style=v.pick("last_first", "full"), case=v.pick(None, "upper"))
    d.lit("\nDOB: ")
    _date(d, v, dob=True)
    d.lit("    Sex: " + v.pick("F", "M") + "\n")
    d.lit(v.pick("Specimen: ", "Accession: ", "Lab no: ")).ent("ACCESSION", v.accession())
    d.lit("\nCollected: ")
    _date(d, v)
    d.lit("\nRequested by: ")
    _person(d, v, doctor=True, cred=0.3)
    d.lit(", ")
    _org(d, v, "practice")
    d.lit("\n\n")
    for _ in range(v.rng.randint(3, 6)):
        d.lit(f"  {v.pick(*_FINDINGS)}\n")
    d.lit(f"Comment: {_neg(v, 1)}\nReported by ")
    _person(d, v, style=v.pick("initial", "full"), cred=0.5)
    d.lit("\n")


def _intake_form(d: Doc, v: Values) -> None:
    upper = v.chance(0.4)
    case = "upper" if upper else None
    d.lit(v.pick("NEW PATIENT REGISTRATION\n", "Patient intake form\n"))
    n = v.name()
    d.lit("Surname: ").ent("PERSON", _case(n.last, case))
    d.lit("\nFirst name(s): ").ent("PERSON", _case(n.first, case))
    d.lit("\nTitle: " + v.title() + "\nDate of birth: ")
    _date(d, v, dob=True)
    d.lit("\nAddress line 1: ").ent("ADDRESS", _case(v.street(), case))
    d.lit("\nTown/City: ").ent("LOCATION", _case(v.town(), case))
    d.lit("\nPostcode: ").ent("ZIP", v.postcode())
    d.lit("\nMobile: ")
    _phone(d, v)
    d.lit("\nEmail: ").ent("EMAIL", v.email(n))
    cue, value, label = v.health_id()
    d.lit(f"\n{cue}: ").ent(label, value)
    d.lit("\nRegistered GP practice: ")
    _org(d, v, "practice")
    d.lit("\nOccupation / employer: " + v.pick("nurse at ", "driver for ", "teacher, ", ""))
    _org(d, v, "employer")
    d.lit("\nEmergency contact: ")
    _person(d, v, case=case)
    d.lit(f" ({v.pick('mother', 'partner', 'friend', 'brother')}) ")
    _phone(d, v)
    d.lit(f"\nAllergies: {v.pick('penicillin', 'none known', 'latex', 'codeine')}\n")


def _kyc_record(d: Doc, v: Values) -> None:
    d.lit("KYC RECORD\nFull legal name: ")
    n = _person(d, v, style=v.pick("full", "middle", "last_first"), case=v.pick(None, "upper"))
    d.lit("\nDate of birth: ")
    _date(d, v, dob=True)
    if v.locale == "en_US":
        if v.chance(0.7):
            d.lit("\nSSN: ").ent("SSN", v.ssn())
        else:
            d.lit("\nITIN: ").ent("ITIN", v.fakers["en_US"].itin())
    else:
        cue = {"en_GB": "NI number", "en_CA": "SIN", "en_AU": "TFN", "en_IE": "PPSN"}[v.locale]
        d.lit(f"\n{cue}: ").ent("SSN", v.national_id())
    d.lit("\nResidential address: ")
    _address(d, v)
    d.lit("\nPhone: ")
    _phone(d, v)
    d.lit("\nEmail: ").ent("EMAIL", v.email(n))
    d.lit("\nEmployer: ")
    _org(d, v, "employer")
    d.lit("\nID document: " + v.pick("passport ", "Passport no. "))
    d.ent("PASSPORT", v.passport())
    if v.chance(0.5):
        d.lit("; driver licence ").ent("DRIVER_LICENSE", v.driver_license())
    cue, code = v.routing()
    d.lit("\nBank: account ").ent("ACCOUNT", v.account()).lit(f", {cue} ").ent("ROUTING", code)
    d.lit("\nIBAN: ").ent("IBAN", v.iban())
    d.lit("\nSource of funds: salary. Risk rating: low. Checked against the sanctions list.\n")
    d.lit("Login IP: ").ent("IP", v.fakers["en_US"].ipv4_public())
    d.lit("\nReviewed by: ")
    _person(d, v, style=v.pick("initial", "full"))
    d.lit(v.pick(", ", "  ", " - ") + _role(v) + "\n")


def _bank_chat(d: Doc, v: Values) -> None:
    lower = v.chance(0.5)
    n = v.name()
    d.lit(v.pick("Customer: ", "You: ", "Me: ") + v.pick("hi, ", "Hello, ", "hey ", ""))
    d.lit(v.pick("this is ", "my name is ", "it's ", "im "))
    _person(d, v, style="full", case="lower" if lower else None, name=n)
    d.lit(f". I need help with {v.pick(*_BANK)}.\n")
    d.lit("Agent: Thanks ")
    d.ent("PERSON", n.first)
    kind = v.pick("ssn", "card", "account")
    asked = {"ssn": ("SSN", "social"), "card": ("card",), "account": ("account number",)}[kind]
    d.lit(f". For security, can you confirm the last four of your {v.pick(*asked)}?\n")
    d.lit("Customer: ")
    four = v.digits(4)
    if kind == "ssn":
        d.lit(v.pick("last four of SSN (", "SSN last 4: ", "ssn ends ")).ent("SSN", four)
        d.lit(v.pick(")", "", "."))
    elif kind == "card":
        d.lit(v.pick("card ending ", "the card ending in ", "its the one ending ")).ent(
            "CARD", four
        )
    else:
        d.lit(v.pick("account ending in ", "acct ending ", "account ends with ")).ent(
            "ACCOUNT", four
        )
    d.lit("\nAgent: Thank you. I can see the payment from ")
    _org(d, v, "employer")
    d.lit(" on ")
    _date(d, v)
    d.lit(".\nCustomer: " + v.pick("yes that's my salary. ", "ok. ", "right. "))
    d.lit(v.pick("my partner ", "my mum ", "my brother "))
    _person(d, v, style=v.pick("full", "first"), case="lower" if lower else None)
    d.lit(v.pick(" also uses the card.\n", " has access too.\n", " set it up.\n"))
    d.lit("Agent: Understood. Is your number still ")
    _phone(d, v)
    d.lit("?\nCustomer: " + v.pick("no, new one is ", "nope, use ", "yes, or "))
    _phone(d, v)
    d.lit(".\nAgent: I have updated it. " + v.pick("Anything else?\n", "Is there anything else?\n"))
    d.lit("Customer: " + v.pick("no thanks", "all good", "that's it, cheers") + "\n")


def _call_transcript(d: Doc, v: Values) -> None:
    n = v.name()
    d.lit(f"Call transcript, {v.pick('claims line', 'pharmacy line', 'appointments line')}\n")
    d.lit("Agent: Thank you for calling ")
    _org(d, v, v.pick("hospital", "practice"))
    d.lit(", you're speaking with ")
    d.ent("PERSON", v.name().first)
    d.lit(". Who am I speaking to?\nCaller: Hi, it's ")
    _person(d, v, title=0.4, style="full", name=n)
    d.lit(v.pick(", calling about my ", " - I'm ringing about my "))
    d.lit(v.pick("mother, ", "father, ", "husband, ", "wife, "))
    rel = _person(d, v, title=0.3, style=v.pick("full", "middle"))
    d.lit(".\nAgent: Can I take the patient's date of birth?\nCaller: ")
    _date(d, v, dob=True)
    d.lit(".\nAgent: And the first line of the address?\nCaller: ")
    d.ent("ADDRESS", v.street())
    d.lit(v.pick(", ", " in "))
    d.ent("LOCATION", v.town())
    d.lit(".\nAgent: Thanks. I see ")
    d.ent("PERSON", rel.first if v.chance(0.5) else f"{rel.first} {rel.last}")
    d.lit(" was seen by ")
    _person(d, v, doctor=True, style=v.pick("last", "full"))
    d.lit(" on ")
    _date(d, v)
    d.lit(f". {_neg(v, 1)}\nCaller: Could you call me back on ")
    _phone(d, v)
    d.lit("?\nAgent: Of course, ")
    _person(d, v, title=1.0, style="last", name=n)
    d.lit(".\n")


def _email(d: Doc, v: Values) -> None:
    sender, to = v.name(), v.name()
    d.lit("From: ")
    d.ent("PERSON", f"{sender.first} {sender.last}")
    d.lit(" <").ent("EMAIL", v.email(sender)).lit(">\nTo: ").ent("EMAIL", v.email(to))
    d.lit("\nSubject: " + v.pick("Re: appointment", "Referral", "Your statement", "Sick note"))
    d.lit("\n\n" + v.pick("Hi ", "Dear ", "Hello "))
    d.ent("PERSON", to.first if v.chance(0.6) else f"{to.first} {to.last}")
    d.lit(",\n\n")
    d.lit(v.pick("Following our call, ", "As discussed, ", "Just a quick note: "))
    d.lit(v.pick("I have passed your details to ", "I have copied in ", "please contact "))
    _person(d, v, title=0.5)
    d.lit(" at ")
    _org(d, v, v.pick("practice", "hospital", "employer"))
    d.lit(v.pick(", who will be in touch. ", ". "))
    d.lit(_neg(v, 1) + " ")
    if v.chance(0.5):
        d.lit(v.pick("I spoke with ", "Spoke to ", "I have asked "))
        d.ent("PERSON", v.name().first)
        d.lit(v.pick(" from the ", " at the ", " in "))
        _org(d, v, v.pick("practice", "hospital"))
        d.lit(v.pick(" about it. ", " this morning. ", " to call you. "))
    if v.chance(0.5):
        d.lit("The letter went to ")
        _address(d, v)
        d.lit(". ")
    d.lit("\n\n" + v.pick("Best wishes,", "Kind regards,", "Thanks,") + "\n")
    _person(d, v, style=v.pick("full", "first"), name=sender, cred=0.2)
    d.lit("\n" + (_role(v) + "\n" if v.chance(0.5) else ""))
    _org(d, v, v.pick("practice", "hospital", "employer"))
    d.lit("\n" + v.pick("T: ", "Tel ", "Direct line: "))
    _phone(d, v)
    if v.chance(0.4):
        d.lit(" | ").ent("URL", v.fake.url())
    d.lit("\n")


def _sms_thread(d: Doc, v: Values) -> None:
    a, b = v.name(), v.name()
    d.lit(v.pick("[SMS] ", "WhatsApp chat\n", ""))
    d.lit(f"{a.first.lower()}: ")
    d.lit(v.pick("hey its ", "hi, ")).ent("PERSON", a.first.lower() if v.chance(0.6) else a.first)
    d.lit(v.pick(" here, ", ", ")).lit("can u pick up mum's " + v.pick(*_DRUGS).split()[0])
    d.lit(" from ")
    _org(d, v, "practice")
    d.lit("?\n")
    d.lit(f"{b.first.lower()}: ok. is she still at ")
    d.ent("ADDRESS", v.street().lower() if v.chance(0.5) else v.street())
    d.lit("?\n")
    d.lit(f"{a.first.lower()}: yes. ring ")
    d.ent("PERSON", v.name().first.lower())
    d.lit(v.pick(" on ", " at "))
    _phone(d, v)
    d.lit(" if u cant get in\n")
    d.lit(f"{b.first.lower()}: will do. " + v.pick("dr ", "doctor ", ""))
    d.ent("PERSON", v.name().last.lower())
    d.lit(v.pick(" said bloods were fine\n", " wants to see her next week\n"))


def _json_record(d: Doc, v: Values) -> None:
    n = v.name()
    q = '"'
    d.lit("{" + q + "patient" + q + ": {" + q + "name" + q + ": " + q)
    d.ent("PERSON", v.render_name(n, v.pick("full", "last_first")))
    d.lit(q + ", " + q + "dob" + q + ": " + q)
    _date(d, v, dob=True)
    d.lit(q + ", " + q + "address" + q + ": " + q)
    d.ent("ADDRESS", v.street())
    d.lit(q + ", " + q + "city" + q + ": " + q).ent("LOCATION", v.town())
    d.lit(q + ", " + q + "postcode" + q + ": " + q).ent("ZIP", v.postcode())
    d.lit(q + ", " + q + "phone" + q + ": " + q)
    _phone(d, v)
    d.lit(q + "}, " + q + "provider" + q + ": " + q)
    _org(d, v, v.pick("hospital", "practice"))
    d.lit(q + ", " + q + "note" + q + ": " + q)
    d.lit(v.pick("Seen with ", "Call from ", "Message left for "))
    _person(d, v, title=0.3)
    d.lit(". " + _neg(v, 1) + q + "}\n")


def _occupational_health(d: Doc, v: Values) -> None:
    d.lit("OCCUPATIONAL HEALTH REPORT\nPrepared for: ")
    _person(d, v, title=0.6, style="full")
    d.lit(v.pick(", HR Manager, ", ", People Team, "))
    _org(d, v, "employer")
    d.lit("\nEmployee: ")
    n = _person(d, v, style=v.pick("full", "middle", "last_first"))
    d.lit("\nEmployee number: ").ent("ACCOUNT", v.digits(v.rng.randint(6, 8)))
    d.lit("\n\nI assessed ")
    d.ent("PERSON", n.first if v.chance(0.5) else n.last)
    d.lit(" on ")
    _date(d, v)
    d.lit(f" regarding {v.pick(*_CONDITIONS)}. {_neg(v, 2)} ")
    d.lit("Their GP is ")
    _person(d, v, doctor=True)
    d.lit(" at ")
    _org(d, v, "practice")
    d.lit(". I recommend a phased return over four weeks.\n\n")
    _person(d, v, doctor=True, cred=0.8)
    d.lit("\nOccupational Health Physician\n")


def _insurance_claim(d: Doc, v: Values) -> None:
    d.lit("CLAIM FORM\nPolicyholder: ")
    n = _person(d, v, style=v.pick("full", "last_first"), case=v.pick(None, "upper"))
    cue, value, label = v.health_id()
    d.lit(f"\n{cue}: ").ent(label, value)
    d.lit("\nPostal address: ")
    _address(d, v, sep=v.pick(", ", "\n"))
    d.lit("\nTreating provider: ")
    _org(d, v, v.pick("hospital", "practice"))
    if v.locale == "en_US":
        d.lit(" (NPI ").ent("NPI", v.npi()).lit(")")
    d.lit("\nDate of service: ")
    _date(d, v)
    d.lit(f"\nReason: {v.pick(*_CONDITIONS)}\nAmount: {v.rng.randint(40, 4000)}.00\n")
    if v.chance(0.4):
        d.lit("Pay to card ending ").ent("CARD", v.digits(4))
    else:
        d.lit("Pay by transfer to account ").ent("ACCOUNT", v.account())
    d.lit("\nDeclaration signed: ")
    d.ent("PERSON", f"{n.first} {n.last}")
    d.lit("   Date: ")
    _date(d, v)
    d.lit("\n")


def _prescription(d: Doc, v: Values) -> None:
    _org(d, v, "practice")
    d.lit("\n")
    _address(d, v, sep=v.pick(", ", "\n"))
    d.lit("\nRx for: ")
    _person(d, v, title=0.5, style=v.pick("full", "initial", "middle"))
    d.lit(", DOB ")
    _date(d, v, dob=True)
    d.lit(f"\n{v.pick(*_DRUGS)}\n{v.pick(*_DRUGS)}\nSupply: 28 days, 2 repeats\n")
    d.lit("Prescriber: ")
    _person(d, v, doctor=True, cred=0.5)
    if v.locale == "en_US":
        d.lit("  DEA ").ent("DEA", v.dea())
    d.lit("\nDispensed at ")
    _org(d, v, "practice")
    d.lit("\n")


def _incident_report(d: Doc, v: Values) -> None:
    a, b = v.name(), v.name()
    d.lit(v.pick("Incident report. ", "Datix: ", "Safeguarding note. ", ""))
    d.lit(v.pick("At about 14:30 ", "On the evening of ", "Yesterday "))
    if v.chance(0.4):
        _date(d, v)
        d.lit(" ")
    if v.chance(0.3):
        d.lit("\n").ent("PERSON", v.render_name(a, "last_first")).lit(v.pick(" (patient)", ""))
    else:
        d.ent("PERSON", f"{a.first} {a.last}")
    d.lit(
        v.pick(
            " slipped in the corridor near Radiology. ", " left the ward without telling staff. "
        )
    )
    d.ent("PERSON", f"{b.first} {b.last}")
    d.lit(v.pick(" found ", " helped "))
    if v.chance(0.5):
        d.ent("PERSON", a.first)
    else:
        d.lit(v.pick("him", "her"))
    d.lit(" and called ")
    _person(d, v, doctor=True, style="last")
    d.lit(". " + _neg(v, 1) + " The family was informed by ")
    _person(d, v, style="full")
    d.lit(", who drove over from ")
    d.ent("LOCATION", v.town())
    d.lit(". Reported to ")
    _org(d, v, "hospital")
    d.lit(" by ")
    _person(d, v, style=v.pick("full", "initial"), cred=0.3)
    d.lit(".\n")


def _appointment_reminder(d: Doc, v: Values) -> None:
    n = v.name()
    d.lit(v.pick("Reminder: ", "Hi ", "Dear "))
    d.ent("PERSON", n.first if v.chance(0.6) else f"{n.first} {n.last}")
    d.lit(v.pick(", your appointment with ", ". You are booked with ", " - appointment with "))
    _person(d, v, doctor=True, style=v.pick("last", "full"))
    d.lit(" is on ")
    _date(d, v)
    d.lit(v.pick(" at 10:40 at ", " 09:15, ", " at 3pm, "))
    _org(d, v, v.pick("practice", "hospital"))
    d.lit(", ")
    _address(d, v)
    d.lit(v.pick(". To cancel call ", ". Reply NO or call ", ". Questions? "))
    _phone(d, v)
    d.lit(".\n")


def _meeting_minutes(d: Doc, v: Values) -> None:
    d.lit(v.pick("Minutes of the ", "MDT minutes - ", "Notes from the "))
    d.lit(v.pick("discharge planning meeting", "case conference", "team huddle") + "\n")
    d.lit("Held at ")
    _org(d, v, v.pick("hospital", "practice"))
    d.lit(" on ")
    _date(d, v)
    d.lit("\nPresent: ")
    for i in range(v.rng.randint(2, 4)):
        if i:
            d.lit(", ")
        _person(d, v, title=0.3, style=v.pick("full", "initial", "full"))
        d.lit(v.pick(" (chair)", " (OT)", " (social worker)", "", ""))
    d.lit(" and ")
    _person(d, v, style="full")
    d.lit(".\nApologies: ")
    _person(d, v, style=v.pick("full", "initial"))
    d.lit(".\n\n1. ")
    n = _person(d, v, style="full")
    d.lit(v.pick(" remains on the ward. ", " is medically fit. ", " went home on Friday. "))
    d.lit(_neg(v, 1) + "\nACTION: ")
    d.ent("PERSON", v.name().first)
    d.lit(" to contact ")
    _org(d, v, v.pick("employer", "practice"))
    d.lit(" and to write to ")
    d.ent("PERSON", n.first if v.chance(0.5) else f"{n.first} {n.last}")
    d.lit(v.pick("'s daughter.\n", " directly.\n"))
    d.lit("Next meeting: ")
    _address(d, v)
    d.lit(".\n")


def _social_history(d: Doc, v: Values) -> None:
    n = v.name()
    d.lit(v.pick("Social history: ", "SH: ", "Social circumstances\n"))
    d.ent("PERSON", n.first if v.chance(0.5) else f"{n.first} {n.last}")
    d.lit(v.pick(" lives with ", " shares a house with ", " is cared for by "))
    d.lit(v.pick("her partner ", "his wife ", "a friend, ", "their son "))
    _person(d, v, style=v.pick("full", "first"))
    d.lit(v.pick(" in a ground-floor flat at ", " at ", ", at "))
    d.ent("ADDRESS", v.street())
    d.lit(v.pick(" in ", ", "))
    d.ent("LOCATION", v.town())
    d.lit(". " + v.pick("Works part time for ", "Retired from ", "Employed by "))
    _org(d, v, "employer")
    d.lit(". " + v.pick("Daughter ", "A neighbour, ", "Her brother "))
    _person(d, v, style=v.pick("full", "first"))
    d.lit(v.pick(", visits daily. ", " helps with shopping. "))
    d.lit(v.pick("Son ", "Sister ", "Cousin "))
    _person(d, v, style="first")
    d.lit(" lives in ")
    d.ent("LOCATION", v.town())
    d.lit(". " + _neg(v, 1) + " Letter written for ")
    _person(d, v, title=0.5, style=v.pick("full", "last"), name=n)
    d.lit(v.pick(" and handed to ", " and sent to ", "; copy to "))
    _person(d, v, doctor=True)
    d.lit(".\n")


def _complaint_letter(d: Doc, v: Values) -> None:
    n = v.name()
    d.ent("PERSON", f"{n.first} {n.last}")
    d.lit("\n")
    _address(d, v, sep="\n")
    d.lit("\n\n")
    _date(d, v)
    d.lit("\n\nCustomer Relations\n")
    _org(d, v, v.pick("employer", "hospital"))
    d.lit("\n\nDear Sir or Madam,\n\nI am writing on behalf of my ")
    d.lit(v.pick("father, ", "mother, ", "late husband, "))
    rel = _person(d, v, title=0.4, style=v.pick("full", "middle"))
    d.lit(v.pick(", about ", ", regarding ") + v.pick(*_BANK) + ". ")
    d.lit(v.pick("I was told by ", "Your colleague ", "A manager called "))
    _person(d, v, style=v.pick("first", "full"))
    d.lit(v.pick(" that it would be resolved. ", " promised a call back. "))
    d.lit("The account ending ").ent("ACCOUNT", v.digits(4))
    d.lit(" is still frozen, and ")
    d.ent("PERSON", rel.first)
    d.lit(v.pick(" cannot pay the care home, ", " is worried sick, "))
    _org(d, v, "practice")
    d.lit(".\nPlease reply to ").ent("EMAIL", v.email(n))
    d.lit(v.pick(" or phone ", ", or call me on "))
    _phone(d, v)
    d.lit(".\n\nYours faithfully,\n")
    d.ent("PERSON", v.render_name(n, v.pick("full", "initial")))
    d.lit("\n")


def _contact_list(d: Doc, v: Values) -> None:
    upper = v.chance(0.3)
    d.lit(v.pick("KEY CONTACTS\n", "Contacts:\n", "Who to call\n"))
    for _ in range(v.rng.randint(3, 5)):
        d.lit(v.pick("- ", "* ", ""))
        if v.chance(0.35):
            _org(d, v, v.pick("practice", "hospital", "employer"))
            d.lit(v.pick(" reception: ", " switchboard ", ", "))
        else:
            _person(d, v, title=0.3, case="upper" if upper else None)
            d.lit(v.pick(" (next of kin): ", " - carer - ", ", GP: ", " (mobile) "))
        _phone(d, v)
        d.lit("\n")


def _negatives(d: Doc, v: Values) -> None:
    d.lit(v.pick("Assessment\n", "Plan\n", "Summary\n", ""))
    d.lit(_neg(v, v.rng.randint(3, 6)) + "\n")


TEMPLATES: dict[str, Callable[[Doc, Values], None]] = {
    "progress_note": _progress_note,
    "discharge_summary": _discharge_summary,
    "referral_letter": _referral_letter,
    "telehealth": _telehealth,
    "nursing_handover": _nursing_handover,
    "lab_report": _lab_report,
    "intake_form": _intake_form,
    "kyc_record": _kyc_record,
    "bank_chat": _bank_chat,
    "call_transcript": _call_transcript,
    "email": _email,
    "sms_thread": _sms_thread,
    "json_record": _json_record,
    "occupational_health": _occupational_health,
    "insurance_claim": _insurance_claim,
    "prescription": _prescription,
    "incident_report": _incident_report,
    "appointment_reminder": _appointment_reminder,
    "negatives": _negatives,
    "meeting_minutes": _meeting_minutes,
    "social_history": _social_history,
    "complaint_letter": _complaint_letter,
    "contact_list": _contact_list,
    **ID_FORM_TEMPLATES,  # numbers and dates as chats and e-mails write them (rules only)
}


_CASUAL = frozenset(
    {"bank_chat", "sms_thread", "email", "telehealth", "social_history", "negatives"}
)
_FORMS = frozenset({"intake_form", "kyc_record", "insurance_claim", "lab_report", "contact_list"})


def generate(n: int, seed: int, templates: Iterable[str] | None = None) -> list[Example]:
    """``n`` documents, round-robin over ``templates`` (all by default), locales drawn at
    random; the same arguments give the same documents."""
    names = list(templates) if templates is not None else list(TEMPLATES)
    unknown = set(names) - set(TEMPLATES)
    if unknown:
        raise ValueError(f"unknown templates: {sorted(unknown)}")
    v = Values(seed)
    order = random.Random(seed + 1)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        v.locale = order.choice(LOCALES)
        d = Doc(name, v.locale)
        if name in _CASUAL and v.chance(0.15):
            d.case = "lower"
        elif name in _FORMS and v.chance(0.1):
            d.case = "upper"
        TEMPLATES[name](d, v)
        out.append(d.example())
    return out


def to_jsonl(examples: Iterable[Example]) -> bytes:
    """One JSON object per line (UTF-8): text, spans, template, locale."""
    return "".join(e.to_json() + "\n" for e in examples).encode("utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of documents")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL file")
    args = parser.parse_args(argv)
    args.out.write_bytes(to_jsonl(generate(args.n, args.seed)))


if __name__ == "__main__":
    main()
