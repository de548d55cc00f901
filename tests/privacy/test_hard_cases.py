"""Hard cases, by kind of failure: text -> every identifier the redactor must find (type, value).

Each row is one case; an empty list means nothing in the text may be flagged. The kinds come
from issue 10 (names with titles, in any case, in "Last, First" order or inside JSON; partial
identifiers; national phone formats; the town and postcode after a street address; UK address
lines; organisations; spelled-out and obfuscated identifiers) and from what must stay
untouched (drugs, doses, lab values, times, money, codes, common words).
"""

from __future__ import annotations

import pytest

from privacy import PrivacyConfig, Redactor, TenantPrivacyConfig

P, L, Z, A, ORG = "PERSON", "LOCATION", "ZIP", "ADDRESS", "ORGANIZATION"

CASES: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "names_titles": [
        ("Mr. Okafor was reviewed on the ward.", [(P, "Okafor")]),
        ("Mrs Eleanor Whitfield attended with her son.", [(P, "Eleanor Whitfield")]),
        ("Prof. Henrik Larsson reviewed the scan.", [(P, "Henrik Larsson")]),
        ("Results were reviewed by Amelia Hart MD today.", [(P, "Amelia Hart")]),
        ("Reviewed: Thomas Reilly Jr. on the ward", [(P, "Thomas Reilly Jr.")]),
        ("MR DESMOND ACHTERBERG was discharged.", [(P, "DESMOND ACHTERBERG")]),
        ("Please ask dr nguyen to call back.", [(P, "nguyen")]),
    ],
    "names_no_cue": [
        (
            "Marguerite Okonkwo-Lindqvist presented with chest pain.",
            [(P, "Marguerite Okonkwo-Lindqvist")],
        ),
        ("Yesterday Kwame Mensah reported dizziness.", [(P, "Kwame Mensah")]),
        ("Referral letter for Siobhan Gallagher regarding her knee.", [(P, "Siobhan Gallagher")]),
        ("Please send the results to Declan Murphy today.", [(P, "Declan Murphy")]),
        ("She spoke with Aoife Byrne about the plan.", [(P, "Aoife Byrne")]),
        ("Discharge approved by Rajesh Kumar on the ward.", [(P, "Rajesh Kumar")]),
    ],
    "names_case_order_json": [
        ("patient john smith called about a refill", [(P, "john smith")]),
        ("PATIENT: JOHN SMITH", [(P, "JOHN SMITH")]),
        ("spoke to sarah o'connell about her results", [(P, "sarah o'connell")]),
        ("Okonkwo-Lindqvist, Marguerite was admitted.", [(P, "Okonkwo-Lindqvist, Marguerite")]),
        ("Ward list: GALLAGHER, SIOBHAN; bed 4", [(P, "GALLAGHER, SIOBHAN")]),
        (
            '{"patient": {"name": "Daniel Whitaker", "dob": "1961-03-14"}}',
            [(P, "Daniel Whitaker"), ("DATE", "1961-03-14")],
        ),
        ('{"first_name": "Fiona", "last_name": "McAllister"}', [(P, "Fiona"), (P, "McAllister")]),
    ],
    "names_more_kinds": [
        ("Reported by T. MOYER, PhD", [(P, "T. MOYER")]),
        ("Prescriber: Cecil Ó Dubhchain", [(P, "Cecil Ó Dubhchain")]),
        ("Bed 15: de la Fuente, José Eduardo, 88 years", [(P, "de la Fuente, José Eduardo")]),
        ("Surname: GLENN", [(P, "GLENN")]),
        ("Thanks Tiffany, see you soon.", [(P, "Tiffany")]),
        ("customer: ok. my brother justin also uses the card.", [(P, "justin")]),
        (
            "hey its jill here, ring cindy on 0419 413 565",
            [(P, "jill"), (P, "cindy"), ("PHONE", "0419 413 565")],
        ),
        ("S: Mbeki is a 34-year-old woman with asthma.", [(P, "Mbeki")]),
        ("Take care, Nichola.", [(P, "Nichola")]),
        ("Known Raynaud's phenomenon; Crohn's disease in remission.", []),
        ("GP: Background of poorly controlled asthma.", []),
    ],
    "partial_ids": [
        ("Verified with the last four of SSN (5504).", [("SSN", "5504")]),
        ("Payment taken from the card ending 0424.", [("CARD", "0424")]),
        ("Her Visa ending in 4412 was declined.", [("CARD", "4412")]),
        ("Refund to account ending in 1234 today.", [("ACCOUNT", "1234")]),
        ("account number ending with 9981", [("ACCOUNT", "9981")]),
        ("card on file **** **** **** 7781", [("CARD", "7781")]),
        ("Agent: which is your card?\nCustomer: its the one ending 3613", [("CARD", "3613")]),
    ],
    "phones": [
        (
            "Call 617.555.0148 or +1 617 555 0148 or 6175550148",
            [("PHONE", "617.555.0148"), ("PHONE", "+1 617 555 0148"), ("PHONE", "6175550148")],
        ),
        ("Her number is 01914960003.", [("PHONE", "01914960003")]),
        ("Tel 0114 496 0208 (home)", [("PHONE", "0114 496 0208")]),
        ("Daughter on (0131)4960979 after 6", [("PHONE", "(0131)4960979")]),
        ("ring me on 029 2018661 please", [("PHONE", "029 2018661")]),
        ("Contact 2528822968 after work", [("PHONE", "2528822968")]),
        ("mobile 0412 345 678 (AU)", [("PHONE", "0412 345 678")]),
        ("Landline (02) 9876 5432", [("PHONE", "(02) 9876 5432")]),
        ("Irish mobile +353 87 123 4567", [("PHONE", "+353 87 123 4567")]),
        ("Order 12345678 shipped", []),
    ],
    "addresses": [
        (
            "Lives at 12 Harbour Road, Port David 23080.",
            [(A, "12 Harbour Road"), (L, "Port David"), (Z, "23080")],
        ),
        (
            "Flat 85m Howells Hill, Whitefort M87 9NF",
            [(A, "Flat 85m Howells Hill"), (L, "Whitefort"), (Z, "M87 9NF")],
        ),
        ("Address: Studio 6 Ashleigh Field", [(A, "Studio 6 Ashleigh Field")]),
        ("Apartment 3, 41 Kingfisher Close", [(A, "Apartment 3, 41 Kingfisher Close")]),
        (
            "44 Wellington Street, Toronto, ON M5V 2T6",
            [(A, "44 Wellington Street"), (L, "Toronto"), (Z, "M5V 2T6")],
        ),
        (
            "7 Banksia Parade, Parramatta NSW 2150",
            [(A, "7 Banksia Parade"), (L, "Parramatta"), (Z, "2150")],
        ),
        (
            "Home: 3 Seaview Terrace, Galway H91 E2K3",
            [(A, "3 Seaview Terrace"), (L, "Galway"), (Z, "H91 E2K3")],
        ),
        ("Boston MA 02115", [(L, "Boston"), (Z, "02115")]),
        (
            "ADDRESS: 39 STEPHENS STREET, NIKKI VILLE, N96 X2R2",
            [(A, "39 STEPHENS STREET"), (L, "NIKKI VILLE"), (Z, "N96 X2R2")],
        ),
        (
            "lives at 51 mccartan street in julie ville.",
            [(A, "51 mccartan street"), (L, "julie ville")],
        ),
        (
            "002 Farmer Walk\nNew Sabrina SA  2633",
            [(A, "002 Farmer Walk"), (L, "New Sabrina"), (Z, "2633")],
        ),
        ("60 Carry Street, Athlone, Co. Galway", [(A, "60 Carry Street"), (L, "Athlone")]),
        (
            "Address: 31/220 Olson Upper, Kingport, NT 2920",
            [(A, "31/220 Olson Upper"), (L, "Kingport"), (Z, "2920")],
        ),
        (
            "Nurse: date of birth and postcode?\nPatient: 6th December 1974, and it's 2920.",
            [("DATE", "6th December 1974"), (Z, "2920")],
        ),
    ],
    "organizations": [
        ("Transferred from Hoffman Memorial Hospital.", [(ORG, "Hoffman Memorial Hospital")]),
        ("Employer: Harris Inc", [(ORG, "Harris Inc")]),
        ("Works for Smith & Sons Ltd as a driver.", [(ORG, "Smith & Sons Ltd")]),
        ("Registered with Riverside Surgery since 2019.", [(ORG, "Riverside Surgery")]),
        ("He is paid by Wells Fargo monthly.", [(ORG, "Wells Fargo")]),
        ("Held at The Deacy Street Practice on Monday", [(ORG, "The Deacy Street Practice")]),
        ("REGISTERED GP: MOUNT GIBBS HOSPITAL", [(ORG, "MOUNT GIBBS HOSPITAL")]),
        ("Coverage is through Blue Cross Blue Shield.", []),
    ],
    "spelled_and_other": [
        ("IBAN gb82west12345698765432", [("IBAN", "gb82west12345698765432")]),
        (
            "email jane dot doe at mercy-health dot org",
            [("EMAIL", "jane dot doe at mercy-health dot org")],
        ),
        ("write to k.osei(at)example(dot)com", [("EMAIL", "k.osei(at)example(dot)com")]),
        (
            "SSN is one two three four five six seven eight nine",
            [("SSN", "one two three four five six seven eight nine")],
        ),
        ("Chart 40917731 reviewed.", [("MRN", "40917731")]),
        ("NHS number 943 476 5919", [("MRN", "943 476 5919")]),
        ("NI number AB 12 34 56 C", [("SSN", "AB 12 34 56 C")]),
        ("PPSN 1234567T on file", [("SSN", "1234567T")]),
        ("SIN 046 454 286", [("SSN", "046 454 286")]),
        ("Lab no: 23-LAB-86733", [("ACCESSION", "23-LAB-86733")]),
        ("IHI: 930197248881", [("MEMBER_ID", "930197248881")]),
        ("sort code 56-14-69", [("ROUTING", "56-14-69")]),
        ("Employee number: 29323966", [("ACCOUNT", "29323966")]),
        ("Bed 12: Lebon, Gabrielle, 95y, asthma", [(P, "Lebon, Gabrielle"), ("AGE", "95")]),
    ],
    "must_not_flag": [
        ("Metformin 500 mg twice daily; lisinopril 10 mg daily.", []),
        ("Will continue current plan and review in clinic.", []),
        ("Mark the chart and call back at 10:30.", []),
        ("Family Practice referral for Cardiac Surgery.", []),
        ("HbA1c 7.2%, eGFR 54, BP 128/82, HR 88, SpO2 97%.", []),
        ("ICD-10 E11.9 and I10 documented; CPT 99213.", []),
        ("The invoice total was $1,250.00 on the account.", []),
        ("Blood Bank notified; the Call Center is closed.", []),
        ("The copay was made through Apple Pay.", []),
        ("Take 2 tablets at 08:00 and 20:00 for 10 days.", []),
        ("Reference range 3.5-5.0 mmol/L, sodium 138.", []),
        ("Hope you feel better soon, thanks!", []),
        ("The Rose Garden tour is booked; grant application pending.", []),
        ("Past Medical History: hypertension.", []),
        ("I looked at the chart and the notes.", []),
        ("Case 48 opened; see record 2019 review.", []),
    ],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(t, e, id=f"{k}-{i}")
        for k, rows in CASES.items()
        for i, (t, e) in enumerate(rows)
    ],
)
def test_hard_case(detect, text: str, expected: list[tuple[str, str]]) -> None:
    assert detect(text) == expected


def test_allow_list_exempts_the_tenants_own_institution() -> None:
    """A tenant's allow-list keeps its own institution's name; other tenants still redact it."""
    config = PrivacyConfig(
        tenants={"hoffman": TenantPrivacyConfig(allow_list=["Hoffman Memorial Hospital"])}
    )
    redactor = Redactor(config)
    text = "Transferred from Hoffman Memorial Hospital to Riverside Surgery."
    own = redactor.redact_messages([text], tenant="hoffman")
    other = redactor.redact_messages([text], tenant="someone-else")
    assert own.texts == ["Transferred from Hoffman Memorial Hospital to [ORGANIZATION_1]."]
    assert other.texts == ["Transferred from [ORGANIZATION_1] to [ORGANIZATION_2]."]
    assert own.data_classes == other.data_classes == frozenset({"PII"})
