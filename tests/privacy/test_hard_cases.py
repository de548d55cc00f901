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
    "casual_numbers_dates": [
        # ids after a bare cue, grouped, or the last four given before / after their cue
        ("my social is 123456789 if you need it", [("SSN", "123456789")]),
        ("ss number ends with 3321", [("SSN", "3321")]),
        ("the last four digits are 7781 for my social", [("SSN", "7781")]),
        ("my policy is ABC12345", [("MEMBER_ID", "ABC12345")]),
        ("ins. ID W123456789", [("MEMBER_ID", "W123456789")]),
        ("my membership number is 55120987", [("MEMBER_ID", "55120987")]),
        ("plan member W 1234 5678 9", [("MEMBER_ID", "W 1234 5678 9")]),
        ("the ID on my insurance card is ZX 4471 2290", [("MEMBER_ID", "ZX 4471 2290")]),
        ("patient number 12345 on the letter", [("MRN", "12345")]),
        ("MR# 7765543", [("MRN", "7765543")]),
        ("Patient No: 0045521", [("MRN", "0045521")]),
        ("card 4111.1111.1111.1111", [("CARD", "4111.1111.1111.1111")]),
        ("Charged to card no. ****0424.", [("CARD", "0424")]),
        ("my card's last 4 are 0424", [("CARD", "0424")]),
        # ages over 89 as people write them
        ("yes, she is 94, lives alone", [("AGE", "94")]),
        ("he turned 97 last week.", [("AGE", "97")]),
        ("aged 92.", [("AGE", "92")]),
        ("94F with a fall at home", [("AGE", "94")]),
        ("Age/Sex: 96/F", [("AGE", "96")]),
        ("ninety-two years old and independent", [("AGE", "ninety-two")]),
        # dates without a year, in words, year first, compact, spaced, two-digit years
        ("born 14 March", [("DATE", "14 March")]),
        ("seen on the 14th of March", [("DATE", "14th of March")]),
        ("March the 14th", [("DATE", "March the 14th")]),
        ("the fourteenth of March", [("DATE", "the fourteenth of March")]),
        ("Date of birth: 3rd of june 1954", [("DATE", "3rd of june 1954")]),
        ("DOB 1961/03/14", [("DATE", "1961/03/14")]),
        ("DOB: 19610314", [("DATE", "19610314")]),
        ("dob 14 03 1961.", [("DATE", "14 03 1961")]),
        ("visit on 12.03.26.", [("DATE", "12.03.26")]),
        ("Nurse: date of birth?\nCaller: it is 26/4", [("DATE", "26/4")]),
        # numbers read out in words or digit by digit
        (
            "my number's six one seven, five five five, oh one four eight",
            [("PHONE", "six one seven, five five five, oh one four eight")],
        ),
        ("call me on 0 7 7 0 0 9 0 0 1 2 3", [("PHONE", "0 7 7 0 0 9 0 0 1 2 3")]),
        (
            "it's four one one one, one one one one, one one one one, one one one one",
            [("CARD", "four one one one, one one one one, one one one one, one one one one")],
        ),
        (
            "member number is W double seven four two, nine nine one three",
            [("MEMBER_ID", "W double seven four two, nine nine one three")],
        ),
        (
            "the last four of my card are seven seven eight one",
            [("CARD", "seven seven eight one")],
        ),
        # field names with underscores (JSON exports), cue endings, ids typed in lower case
        (
            '{"date_of_birth": "14 March 1961", "member_id": "w123456789"}',
            [("DATE", "14 March 1961"), ("MEMBER_ID", "w123456789")],
        ),
        (
            '{"account_number": "12345678", "ssn": "912-34-5678"}',
            [("ACCOUNT", "12345678"), ("SSN", "912-34-5678")],
        ),
        ("email john_smith@example.com now", [("EMAIL", "john_smith@example.com")]),
        ("Passport (Ireland): PX1234567", [("PASSPORT", "PX1234567")]),
        ("Member ID No: 88123456", [("MEMBER_ID", "88123456")]),
        ("mrn rx448812", [("MRN", "rx448812")]),
        ("Collected: 14-MAR-2024 09:30", [("DATE", "14-MAR-2024")]),
        ("DOB 14MAR1961", [("DATE", "14MAR1961")]),
        ("Seen Jan-14-2024", [("DATE", "Jan-14-2024")]),
        ("my mother, who is 93, lives alone", [("AGE", "93")]),
        ("celebrated her 95th birthday", [("AGE", "95")]),
        ("age ninety-four", [("AGE", "ninety-four")]),
        ("chequing account 1234567", [("ACCOUNT", "1234567")]),
        # grouped ids after their cue, a bare "ID" near an insurer, document numbers by type
        ("mrn is 448 812 7", [("MRN", "448 812 7")]),
        ("MRN-448812", [("MRN", "448812")]),
        ("URN 1234567", [("MRN", "1234567")]),
        ("hospital ref: RX-4488-12", [("MRN", "RX-4488-12")]),
        ("Insurance: Aetna\nID: XJH448812", [("MEMBER_ID", "XJH448812")]),
        ("Health number 1234 567 890", [("MEMBER_ID", "1234 567 890")]),
        ("ID document: Passport\nDocument number: X1234567", [("PASSPORT", "X1234567")]),
        (
            "ID type: driver's licence (Ontario) no. D1234-56789-01234",
            [("DRIVER_LICENSE", "D1234-56789-01234")],
        ),
        ("SSN (last 4): 6789", [("SSN", "6789")]),
        ("his number 046-454-286 on file", [("SSN", "046-454-286")]),
        (
            "my hospital number is forty-four eighty-one twelve seven",
            [("MRN", "forty-four eighty-one twelve seven")],
        ),
        (
            "call one eight hundred five five five oh one two three",
            [("PHONE", "one eight hundred five five five oh one two three")],
        ),
        # identifier-shaped tokens without a cue
        ("yes it's 00482913, the one on the letter", [("MRN", "00482913")]),
        ("RX448812 is the number they gave me", [("MRN", "RX448812")]),
        (
            "transfer from 40-22-11 acct, number 31926819",
            [("ROUTING", "40-22-11"), ("ACCOUNT", "31926819")],
        ),
    ],
    # Ids answered on the next line, after fillers, read out, or given in part; the record
    # numbers of five locales under many labels; ages, addresses and organisations as forms,
    # letters and calls write them.
    "answers_and_labels": [
        (
            "Nurse: Can I have your hospital number?\nPatient: yes it's 4 4 7 1 9 0.",
            [("MRN", "4 4 7 1 9 0")],
        ),
        (
            "Agent: What's the MRN?\nCaller: four four seven one nine oh.",
            [("MRN", "four four seven one nine oh")],
        ),
        ("Nurse: And your hospital number please?\nPatient: It's 447 1902.", [("MRN", "447 1902")]),
        (
            "Nurse: Could you read me the last four digits of your hospital number?\n"
            "Patient: Sure, 1902.",
            [("MRN", "1902")],
        ),
        (
            "Agent: What are the last 4 of your social?\nCaller: um, 6789",
            [("SSN", "6789")],
        ),
        (
            "Agent: And the policy number on your card?\nCaller: it's XJH 448812 01",
            [("MEMBER_ID", "XJH 448812 01")],
        ),
        ("Patient: my MRN is R X 4 4 7 1 9 0 2", [("MRN", "R X 4 4 7 1 9 0 2")]),
        ("My NHS number, it's 485 777 3456.", [("MRN", "485 777 3456")]),
        ("my hospital number is, um, 44719022", [("MRN", "44719022")]),
        ("Her MRN ends in 1902.", [("MRN", "1902")]),
        ("the last four digits of my member ID are 5521", [("MEMBER_ID", "5521")]),
        ("Hosp. No.: H/123456", [("MRN", "H/123456")]),
        ("CHI: 0101011234", [("MRN", "0101011234")]),
        ("UR: 123456", [("MRN", "123456")]),
        ("Pt ID: 44-71-90", [("MRN", "44-71-90")]),
        ("Chart #: 447 190", [("MRN", "447 190")]),
        ("I am writing about my mother, 94, who lives alone.", [("AGE", "94")]),
        ("Edith Brown, 96, was admitted.", [(P, "Edith Brown"), ("AGE", "96")]),
        ("Mum (96) is settled.", [("AGE", "96")]),
        ("We celebrated his 100th on Sunday.", [("AGE", "100")]),
        ("Sex/Age: F/94", [("AGE", "94")]),
        ("my frail 93-yr-old father", [("AGE", "93")]),
        ("Street address: 1600 Pennsylvania Ave NW", [(A, "1600 Pennsylvania Ave NW")]),
        ("Mailing address: GPO Box 123", [(A, "GPO Box 123")]),
        ("Address line 1: 12 Oak Cres", [(A, "12 Oak Cres")]),
        ("Address: Rose Cottage", [(A, "Rose Cottage")]),
        ("Town: Newton-le-Willows", [(L, "Newton-le-Willows")]),
        ("Organisation: Kestrel Lane Medical Centre", [(ORG, "Kestrel Lane Medical Centre")]),
        ("Employer: Smith-Jones", [(ORG, "Smith-Jones")]),
        (
            "Agent: Can you spell the surname?\nCaller: Sure, it's N-G-U-Y-E-N",
            [(P, "N-G-U-Y-E-N")],
        ),
        ("Caller: my zip is 9 0 2 1 0", [(Z, "9 0 2 1 0")]),
        ("Agent: Which town?\nCaller: Ballymena.", [(L, "Ballymena")]),
        ("On Tue, Siobhan Ni Bhriain wrote:", [(P, "Siobhan Ni Bhriain")]),
        ("Cheers,\nJo", [(P, "Jo")]),
        ("Many thanks \u2014 Kwabena", [(P, "Kwabena")]),
        ("Kind regards\nConsultant Physician", []),
        # a title's surname that is also an English word is still a name (a4fe37b)
        ("Dear Dr Pebble,", [(P, "Pebble")]),
        ("Seen today by Prof. Kettle in clinic.", [(P, "Kettle")]),
        ("My grandmother is ninety-three and lives alone.", [("AGE", "ninety-three")]),
        ("Mrs Kelly, now 94, is well.", [(P, "Kelly"), ("AGE", "94")]),
        ("my father (born 1929), 95 next month", [("AGE", "95")]),
        (
            "my hospital number is four four seven stroke one nine O two",
            [("MRN", "four four seven stroke one nine O two")],
        ),
        ("Room one O one.", []),
        # a "#" after the cue's colon; letters read out as on the phone (2026-12-06)
        ("Medical record: #4471229", [("MRN", "4471229")]),
        ("Account no.: # 31926819", [("ACCOUNT", "31926819")]),
        (
            "Agent: And your hospital number?\nPatient: H as in hotel, four four eight, eight "
            "one two",
            [("MRN", "H as in hotel, four four eight, eight one two")],
        ),
        (
            "Patient: my hospital number is hotel x-ray four four seven one",
            [("MRN", "hotel x-ray four four seven one")],
        ),
        (
            "Caller: the member ID is Bravo Kilo, double seven two, nine one four",
            [("MEMBER_ID", "Bravo Kilo, double seven two, nine one four")],
        ),
        ("The x-ray showed two views, three lines and four markers.", []),
        ("At 96 she still drives.", [("AGE", "96")]),
        ("He is now in his 90th year.", [("AGE", "90")]),
        ("Sats at 96 on air, reviewed at 92 minutes.", []),
        # spelled ages after "At" and after more kin words (2026-12-06, second session)
        ("At ninety-three, she still drives.", [("AGE", "ninety-three")]),
        ("Grandad is ninety two and still gardening.", [("AGE", "ninety two")]),
        ("My mother-in-law is now ninety-one.", [("AGE", "ninety-one")]),
        ("At ninety degrees, he felt the hinge give.", []),
        ("At a hundred metres she slowed down.", []),
        ("the patient's chart (#4471229) is attached", [("MRN", "4471229")]),
        ("Account [# 31926819] was closed.", [("ACCOUNT", "31926819")]),
        ("Thanks! -Tom", [(P, "Tom")]),
        ("See you Friday. ~Anneliese", [(P, "Anneliese")]),
        ("Thx, Marek", [(P, "Marek")]),
        ("Allergies:\n- Penicillin\n- Latex", []),
        ("Range 2.-Normal", []),
        ("Company Name | Northwind Traders", [("ORGANIZATION", "Northwind Traders")]),
        (
            "Previous employer: Oakridge Capital LLP (2015-2020)",
            [("ORGANIZATION", "Oakridge Capital LLP")],
        ),
        ("Worked there 2015-2020, then retired.", []),
        ("File 2024-2011 was reopened.", [("MRN", "2024-2011")]),  # not a span of years
        ("@Priyanka can you check the referral?", [(P, "Priyanka")]),
        ("per Okonjo, the results are back", [(P, "Okonjo")]),
        ("Spoke w/ son (Dmitri) re: discharge", [(P, "Dmitri")]),
        ("Mail priya@example.org or @Home Office.", [("EMAIL", "priya@example.org")]),
        ("Give 5 mg per Protocol, twice daily per Day.", []),
        ("Dose per kg (Adjusted) re: weight", []),
        # e-mail headers: a quoted display name before its address, a name after an address
        (
            "To: 'Bartholomew Quist' <bq@example.org>",
            [(P, "Bartholomew Quist"), ("EMAIL", "bq@example.org")],
        ),
        ("cc: a@example.com; Fenella", [("EMAIL", "a@example.com"), (P, "Fenella")]),
        ('To: "Accounts Team" <accounts@example.org>', [("EMAIL", "accounts@example.org")]),
        ("cc: ward7@example.org; All Staff", [("EMAIL", "ward7@example.org")]),
        # postcodes read out with letter names, after a postcode cue
        ("Caller: postcode is ell ess six, two queue tee", [(Z, "ell ess six, two queue tee")]),
        (
            "Agent: And your eircode?\nCaller: dee zero two, ex two eight five",
            [(Z, "dee zero two, ex two eight five")],
        ),
        ("Caller: postal code kay one ay, zero bee one", [(Z, "kay one ay, zero bee one")]),
        ("Caller: postcode? Oh, I see, it's em one, one ay ee", [(Z, "em one, one ay ee")]),
        ("What's the postcode for the clinic? I can see a map, you see, in a day or two.", []),
        ("postcode lookup: take 2 tablets a day, see you in a week or two", []),
    ],
    "must_not_flag": [
        ("Take one or two tablets, three times a day.", []),
        ("BP 128/82 on 2/3 of readings; HR 94.", []),
        ("The 90 day supply; room 94; 1/2 tablet.", []),
        ("she is 94 kg and 95% on air", []),
        ("HR 94, sats 95 on air", []),
        ("Passport expired in 2019", []),
        ("Invoice total $125000 paid; ref 99812345", []),
        ("Platelets 250000 /uL, WBC 11.2", []),
        ("Take 500000 units daily", []),
        ("Insurance: Aetna, valid until 2026", []),
        ("about twenty or thirty minutes, nineteen sixty one", []),
        ("Vitamin (100) and Model (95)", []),
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
        ("Glucose readings 112 134; seen in 1990 2001 2015; shifts 0800 1730.", []),
        ("Agent: How many tablets a day?\nCaller: 2 x 500 mg, about 12000 steps", []),
        ("Email address: jo@example.org", [("EMAIL", "jo@example.org")]),
        ("Address: as above", []),
        ("RR 18, HR 94, sats 96% on air.", []),
        ("Clinic: Diabetes review", []),
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
