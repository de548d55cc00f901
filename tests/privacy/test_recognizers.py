"""Table-driven: text -> expected identifiers, per recognizer (and what must be left alone)."""

from __future__ import annotations

import pytest

CASES: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "PERSON": [
        ("Pt John Smith was seen today.", [("PERSON", "John Smith")]),
        ("Seen by Dr. Ana Ruiz-Lopez in clinic.", [("PERSON", "Ana Ruiz-Lopez")]),
        ("Spouse: Maria O'Brien", [("PERSON", "Maria O'Brien")]),
        ("Hi, this is Kevin McDonald calling.", [("PERSON", "Kevin McDonald")]),
        ("Name: Walker, Denise", [("PERSON", "Walker, Denise")]),
        ("Dear Mrs. Thompson,", [("PERSON", "Thompson")]),
        ("Patient is a pleasant woman. Plan: Continue therapy.", []),
    ],
    "DATE": [
        ("DOB: 03/14/1961", [("DATE", "03/14/1961")]),
        ("admitted 2023-07-04 and", [("DATE", "2023-07-04")]),
        ("seen on March 3, 2021 for", [("DATE", "March 3, 2021")]),
        ("visit 14 Mar 2022 ok", [("DATE", "14 Mar 2022")]),
        ("discharged 3-Jan-2020", [("DATE", "3-Jan-2020")]),
        ("Diagnosed in 2019, on day 3 of 14.", []),
        ("ratio 13/45/2020", []),
    ],
    "AGE": [
        ("a 92-year-old woman", [("AGE", "92")]),
        ("aged 101 with", [("AGE", "101")]),
        ("a 67-year-old man", []),
    ],
    "PHONE": [
        ("Phone: (617) 555-0134", [("PHONE", "(617) 555-0134")]),
        ("call 617-555-0134 x204 now", [("PHONE", "617-555-0134 x204")]),
        ("fax 617.555.0199.", [("PHONE", "617.555.0199")]),
        ("cell: 6175550134", [("PHONE", "6175550134")]),
        ("Tel +44 20 7946 0958", [("PHONE", "+44 20 7946 0958")]),
        ("lot 12-3456-789 expires", []),
    ],
    "EMAIL": [
        ("email jane.doe+rx@mercy-health.org now", [("EMAIL", "jane.doe+rx@mercy-health.org")]),
        ("see file@config.notatld", []),
    ],
    "URL": [
        (
            "portal: https://portal.example.com/pt/123?a=1.",
            [("URL", "https://portal.example.com/pt/123?a=1")],
        ),
        ("go to www.smith-jones.net today", [("URL", "www.smith-jones.net")]),
        ("visit garcia.com for", [("URL", "garcia.com")]),
    ],
    "ADDRESS": [
        (
            "Lives at 1600 Amphitheatre Parkway, Apt 4B",
            [("ADDRESS", "1600 Amphitheatre Parkway, Apt 4B")],
        ),
        ("Mail PO Box 4521 please", [("ADDRESS", "PO Box 4521")]),
        ("took 2 Tylenol tablets", []),
    ],
    "ZIP": [
        ("Springfield, IL 62704-1234", [("LOCATION", "Springfield"), ("ZIP", "62704-1234")]),
        ("zip code: 02115", [("ZIP", "02115")]),
        ("London SW1A 1AA", [("LOCATION", "London"), ("ZIP", "SW1A 1AA")]),
    ],
    "SSN": [
        ("SSN 123-45-6789", [("SSN", "123-45-6789")]),
        ("social security number: 123456789", [("SSN", "123456789")]),
        ("the last four of my SSN are 6789.", [("SSN", "6789")]),
        ("SSN ending in 4321", [("SSN", "4321")]),
        ("on file: xxx-xx-1234", [("SSN", "1234")]),
        ("000-12-3456 is not valid", []),
    ],
    "ITIN": [("ITIN 912-78-1234", [("ITIN", "912-78-1234")])],
    "MRN": [
        ("MRN: 00482913", [("MRN", "00482913")]),
        ("medical record number A1234567", [("MRN", "A1234567")]),
        ("patient ID 77-2231", [("MRN", "77-2231")]),
    ],
    "ACCESSION": [("Accession #: S23-00451", [("ACCESSION", "S23-00451")])],
    "NPI": [
        ("NPI 1234567893", [("NPI", "1234567893")]),
        ("NPI 1234567890", []),  # fails the Luhn check with the 80840 prefix
    ],
    "DEA": [("DEA AB1234563", [("DEA", "AB1234563")]), ("code AB1234567", [])],
    "MEMBER_ID": [
        ("Member ID: XYZ123456789", [("MEMBER_ID", "XYZ123456789")]),
        ("MBI 1EG4-TE5-MK73", [("MEMBER_ID", "1EG4-TE5-MK73")]),
        ("policy number W123456789", [("MEMBER_ID", "W123456789")]),
    ],
    "ACCOUNT": [
        ("checking account 000123456789", [("ACCOUNT", "000123456789")]),
        ("acct ending in 4421", [("ACCOUNT", "4421")]),
    ],
    "ROUTING": [
        ("routing number 011000015", [("ROUTING", "011000015")]),
        ("routing 123456789", []),
    ],
    "IBAN": [
        ("IBAN GB82WEST12345698765432", [("IBAN", "GB82WEST12345698765432")]),
        ("IBAN DE89 3704 0044 0532 0130 00", [("IBAN", "DE89 3704 0044 0532 0130 00")]),
        ("GB82WEST12345698765433", []),
    ],
    "CARD": [
        ("card 4111 1111 1111 1111 exp", [("CARD", "4111 1111 1111 1111")]),
        ("pan 378282246310005", [("CARD", "378282246310005")]),
        ("order 4111111111111112", []),
    ],
    "VIN": [("VIN 1HGCM82633A004352", [("VIN", "1HGCM82633A004352")])],
    "IP": [
        ("from 203.0.113.7 today", [("IP", "203.0.113.7")]),
        ("host 2001:db8::8a2e:370:7334 up", [("IP", "2001:db8::8a2e:370:7334")]),
        ("at 10:30:00 and version 1.2.3", []),
    ],
    "DRIVER_LICENSE": [("Driver's license number: D1234567", [("DRIVER_LICENSE", "D1234567")])],
    "PASSPORT": [("passport no. 123456789", [("PASSPORT", "123456789")])],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(t, e, id=f"{k}-{i}")
        for k, rows in CASES.items()
        for i, (t, e) in enumerate(rows)
    ],
)
def test_recognizer(detect, text: str, expected: list[tuple[str, str]]) -> None:
    assert detect(text) == expected
