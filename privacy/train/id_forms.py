"""Tuning-corpus templates for the ways people write numbers and dates in chats and e-mails.

The other templates write most identifiers the way a form prints them. These two write the forms
of casual text: numbers read out in words or digit by digit ("five five five, oh one four
eight", "double seven"), ids given after a bare cue ("my policy is ...", "MR# ...", "ins. ID
..."), grouped ids ("W 1234 5678 9"), the last four digits given before or after their cue,
ages in words or as "94F" / "she's 94", and dates in many formats (with and without a year,
ordinals in words, "14 03 1961", "1961/3/14", "19610314").

They exercise only the pattern recognizers (numbers, dates, ages): the learned detector does not
train on them (``RULE_ONLY_TEMPLATES`` in ``privacy.train.train_ner``), so adding or changing
them leaves the shipped weights' training corpus unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from privacy.train.corpus import Doc
    from privacy.train.values import Values

__all__ = ["TEMPLATES"]

_DIGIT = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ORDINAL = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth", "twentieth", "twenty-first", "twenty-second",
    "twenty-third", "twenty-fourth", "twenty-fifth", "twenty-sixth", "twenty-seventh",
    "twenty-eighth", "twenty-ninth", "thirtieth", "thirty-first",
)  # fmt: skip
_TENS = {9: "ninety"}
_UNITS = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spoken(v: Values, digits: str, groups: tuple[int, ...] | None = None) -> str:
    """``digits`` read out: words ("oh" or "zero"), "double"/"triple" runs, or one digit at a
    time; grouped with commas, dashes or pauses."""
    zero = v.pick("zero", "oh")
    style = v.pick("words", "words", "digits")
    out: list[str] = []
    i = 0
    while i < len(digits):
        ch = digits[i]
        run = 1
        while i + run < len(digits) and digits[i + run] == ch and run < 3:
            run += 1
        word = zero if ch == "0" else _DIGIT[int(ch)]
        if style == "words" and run >= 2 and v.chance(0.5):
            out.append(f"{'double' if run == 2 else 'triple'} {word}")
            i += run
            continue
        out.append(word if style == "words" else ch)
        i += 1
    if groups is None:
        return " ".join(out)
    # regroup by digit counts (a "double x" token counts as two digits)
    text, count, g = [], 0, 0
    sep = v.pick(", ", " - ", "  ", " ")
    for token in out:
        width = 2 if token.startswith("double") else 3 if token.startswith("triple") else 1
        if g < len(groups) and count >= groups[g] and text:
            text.append(sep.strip() + " " if sep.strip() else sep)
            count, g = 0, g + 1
        elif text:
            text.append(" ")
        text.append(token)
        count += width
    return "".join(text).replace("  ", " ") if sep != "  " else "".join(text)


def date_form(v: Values, *, dob: bool = False) -> str:
    """A date as people type it: many orders, separators, ordinals, with or without a year."""
    d = v.fake.date_between(start_date="-95y" if dob else "-2y", end_date="today")
    day, month, year = d.day, d.month, d.year
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    mon, mon_full = d.strftime("%b"), d.strftime("%B")
    us = v.locale == "en_US"
    forms = [
        f"{day}{suffix} of {mon_full} {year}",
        f"{day} {mon_full}",
        f"{day}{suffix} {mon}",
        f"{mon_full} {day}{suffix}",
        f"{mon_full} the {day}{suffix}",
        f"the {_ORDINAL[day - 1]} of {mon_full}",
        f"{mon_full} {_ORDINAL[day - 1]}",
        f"{day}-{mon}",
        f"{day} {mon} {year % 100:02d}",
        f"{day:02d} {month:02d} {year}",
        f"{year}/{month:02d}/{day:02d}",
        f"{year}-{month}-{day}",
        f"{year}{month:02d}{day:02d}" if dob else f"{year}/{month}/{day}",
        f"{month}/{day}/{year % 100:02d}" if us else f"{day:02d}.{month:02d}.{year % 100:02d}",
        f"{month}-{day}-{year}" if us else f"{day}-{month}-{year}",
        f"{mon_full.lower()} {day}, {year}",
        f"{day} {mon_full.lower()} {year}",
        f"{mon}. {day}",
        f"{month}/{day}" if us else f"{day}/{month}",
    ]
    return v.pick(*forms)


def _age_words(age: int) -> str:
    if age >= 100:
        rest = age - 100
        return "a hundred" + (f" and {_UNITS[rest]}" if 0 < rest < 10 else "")
    return _TENS[9] + (f"-{_UNITS[age - 90]}" if age > 90 else "")


def _chat(d: Doc, v: Values) -> None:
    """A support call or chat: the agent verifies the caller, the caller reads numbers out."""
    who = v.pick("Agent", "Rep", "Nurse", "Operator")
    me = v.pick("Caller", "Customer", "Me", "Patient")
    d.lit(f"{who}: {v.pick('Thanks for holding.', 'Hi there.', 'Good morning.')} ")
    d.lit(v.pick("Can I get your date of birth?", "What's the date of birth?", "DOB please?"))
    d.lit(f"\n{me}: {v.pick('sure, ', 'yeah its ', 'it is ', '')}")
    d.ent("DATE", date_form(v, dob=True))
    kind = v.pick("member", "ssn", "card", "mrn", "phone", "account")
    d.lit(f"\n{who}: {v.pick('Thanks.', 'Great.', 'Okay.')} ")
    if kind == "member":
        d.lit(v.pick("And the member number?", "Your policy number?", "The ID on your card?"))
        d.lit(f"\n{me}: ")
        raw = v.member_id()
        if v.chance(0.4):
            digits = "".join(ch for ch in raw if ch.isdigit())
            lead = "".join(ch for ch in raw if ch.isalpha())
            d.lit(v.pick("it's ", "its ", "")).ent(
                "MEMBER_ID", (lead + " " if lead else "") + spoken(v, digits, (3, 3, 3))
            )
        else:
            cue = v.pick(
                "my policy is ",
                "member # ",
                "ins. ID ",
                "membership number is ",
                "the ID on my insurance card is ",
                "plan member ",
            )
            value = raw if v.chance(0.5) else f"{raw[0]} {v.digits(4)} {v.digits(4)} {v.digits(1)}"
            d.lit(cue).ent("MEMBER_ID", value)
    elif kind == "ssn":
        d.lit(v.pick("Can you confirm your social?", "I need to verify your SSN."))
        d.lit(f"\n{me}: ")
        ssn = v.ssn().replace("-", "")
        form = v.pick("words", "bare", "last4", "last4_after")
        if form == "words":
            d.lit(v.pick("ok it's ", "sure, ", "")).ent("SSN", spoken(v, ssn, (3, 2, 4)))
        elif form == "bare":
            d.lit(v.pick("my social is ", "social security no. ", "ss number ")).ent("SSN", ssn)
        elif form == "last4":
            d.lit(v.pick("the last four digits are ", "last 4 are ", "it ends with "))
            d.ent("SSN", ssn[-4:])
            d.lit(v.pick(" for my social", ", that's my social", " of the ssn"))
        else:
            d.lit(v.pick("my ss number ends with ", "social ends in ", "last four of social: "))
            d.ent("SSN", ssn[-4:] if v.chance(0.6) else spoken(v, ssn[-4:]))
    elif kind == "card":
        d.lit(v.pick("Which card is it?", "Card number please.", "Can you read the card out?"))
        d.lit(f"\n{me}: ")
        card = v.card().replace(" ", "").replace("-", "")
        form = v.pick("words", "dots", "last4")
        if form == "words" and len(card) == 16:
            d.lit(v.pick("ok it's ", "the long number is ", "")).ent(
                "CARD", spoken(v, card, (4, 4, 4, 4))
            )
        elif form == "dots" and len(card) == 16:
            d.lit("card ").ent("CARD", ".".join(card[i : i + 4] for i in range(0, 16, 4)))
        else:
            d.lit(v.pick("my card's last 4 are ", "last four ", "the one ending "))
            d.ent("CARD", card[-4:] if v.chance(0.7) else spoken(v, card[-4:]))
            d.lit(v.pick(" on the card", "", " on my visa"))
    elif kind == "mrn":
        d.lit(v.pick("Do you have the hospital number?", "What's the record number?"))
        d.lit(f"\n{me}: ")
        cue = v.pick(
            "patient number ", "MR# ", "Patient No: ", "record no. ", "hospital ID ", "it's chart "
        )
        value = v.mrn()
        if v.chance(0.3):
            d.lit(cue.strip() + " ").ent("MRN", spoken(v, v.digits(8), (4, 4)))
        else:
            d.lit(cue).ent("MRN", value)
    elif kind == "account":
        d.lit("Which account is this about?\n" + f"{me}: ")
        acct = v.account()
        if v.chance(0.5):
            d.lit(v.pick("the last four are ", "last 4 digits: ")).ent("ACCOUNT", acct[-4:])
            d.lit(v.pick(" on the checking account", ", the savings account"))
        else:
            d.lit("account number ").ent("ACCOUNT", spoken(v, acct, (4, 4, 4)))
    else:
        d.lit("Best number to reach you?\n" + f"{me}: ")
        digits = v.pick("617", "312", "415", "212") + "555" + v.digits(4)
        d.lit(v.pick("my number's ", "call me on ", "it's ", "")).ent(
            "PHONE", spoken(v, digits, (3, 3, 4))
        )
    if v.chance(0.6):
        age = v.rng.randint(90, 104)
        d.lit(f"\n{who}: And this is for {v.pick('your mother', 'your dad', 'the patient')}?")
        d.lit(f"\n{me}: yes, ")
        form = v.pick("is", "turned", "sex", "words", "aged")
        if form == "is":
            d.lit(v.pick("she is ", "he's ", "she's now ")).ent("AGE", str(age))
            d.lit(v.pick(" and frail", ", lives alone", "."))
        elif form == "turned":
            d.lit(v.pick("he turned ", "she'll be ")).ent("AGE", str(age))
            d.lit(v.pick(" last week", " next month", "."))
        elif form == "sex":
            d.ent("AGE", str(age)).lit(v.pick("F", "M", " F", "/F") + v.pick(" with a fall", ""))
        elif form == "words":
            d.ent("AGE", _age_words(age)).lit(v.pick(" years old", "-year-old", " yrs"))
        else:
            d.lit(v.pick("aged ", "Age ")).ent("AGE", str(age)).lit(".")
    d.lit(f"\n{who}: {v.pick('Thanks, all updated.', 'Got it.', 'Perfect, thank you.')}\n")


def _mail(d: Doc, v: Values) -> None:
    """A short e-mail that quotes ids and dates in running text."""
    d.lit(v.pick("Hi,\n\n", "Hello,\n\n", "Good afternoon,\n\n"))
    d.lit(v.pick("Following up on the visit on ", "Re the appointment on ", "Seen on "))
    d.ent("DATE", date_form(v))
    d.lit(". ")
    for _ in range(v.rng.randint(2, 3)):
        kind = v.pick("member", "mrn", "dob", "ssn", "card", "age")
        if kind == "member":
            d.lit(v.pick("Policy no. ", "Member number ", "Insurance member id is "))
            d.ent("MEMBER_ID", v.member_id())
            d.lit(". ")
        elif kind == "mrn":
            d.lit(v.pick("Her patient number is ", "Patient No: ", "MR# ", "Clinic number "))
            d.ent("MRN", v.mrn()).lit(". ")
        elif kind == "dob":
            d.lit(v.pick("DOB ", "Born ", "Date of birth: "))
            d.ent("DATE", date_form(v, dob=True)).lit(". ")
        elif kind == "ssn":
            d.lit(v.pick("Last four of his social: ", "SSN ends in "))
            d.ent("SSN", v.digits(4)).lit(". ")
        elif kind == "card":
            d.lit(v.pick("The refund went to the card ending ", "Charged to card no. ****"))
            d.ent("CARD", v.digits(4)).lit(". ")
        else:
            age = v.rng.randint(90, 104)
            d.lit(v.pick("The patient is ", "She turned ", "Age/Sex: "))
            d.ent("AGE", str(age)).lit(v.pick(". ", " years of age. ", "/F. ", " this year. "))
    d.lit("\n\n" + v.pick("Thanks", "Regards", "Best") + "\n")


# Record-number cues by locale: what a hospital, a clinic or a GP calls its patient number.
_RECORD_CUES = {
    "en_US": ("MRN", "medical record number", "patient ID", "chart number", "MR#", "Pt ID"),
    "en_GB": ("hospital number", "NHS number", "Hosp No.", "CHI number", "unit number", "K number"),
    "en_CA": ("MRN", "chart #", "health record number", "patient number", "hospital ID"),
    "en_AU": ("UR number", "URN", "MRN", "hospital number", "patient ID"),
    "en_IE": ("MRN", "hospital number", "chart number", "Hosp. No.", "patient number"),
}
_RECORD_NOUNS = (
    "hospital number",
    "MRN",
    "medical record number",
    "patient number",
    "NHS number",
    "UR number",
    "chart number",
    "record number",
)
_FILLERS = ("", "", "yes, ", "yeah ", "sure, ", "um, ", "ok so ", "right, it's ", "it's ", "its ")


def _grouped(v: Values, digits: str) -> str:
    """Digits as people give them: whole, in groups of two to four, or one by one."""
    form = v.pick("whole", "split", "split", "pairs", "singles")
    if form == "whole":
        return digits
    if form == "split":
        cut = v.rng.randint(2, len(digits) - 2)
        return digits[:cut] + v.pick(" ", "-", " ") + digits[cut:]
    if form == "pairs":
        return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    return v.pick(" ", "-", ", ").join(digits)


def _record_value(v: Values) -> str:
    """A hospital record number as written or read out: digits (5-10), grouped or spoken, with
    an optional letter prefix ("H/123456", "RX 448812", "K 4 4 7 ...")."""
    digits = v.digits(v.rng.randint(5, 10))
    if len(set(digits)) == 1:
        digits = "4" + digits[1:]
    if v.chance(0.25):
        return spoken(v, digits)
    body = _grouped(v, digits)
    if v.chance(0.25):
        lead = v.pick("H", "RX", "K", "M", "A", "MR", "HN")
        if " " in body or "-" in body or v.chance(0.3):
            return v.pick(f"{lead} {body}", f"{' '.join(lead)} {body}", f"{lead}/{body}")
        return f"{lead}{v.pick('', '-', '/')}{body}"
    return body


def _dialogue_ids(d: Doc, v: Values) -> None:
    """A call: the agent asks for a number, the caller gives it on the next line, alone or with
    fillers; the last few digits of a record, card, social or member number; numbers read out."""
    who = v.pick("Nurse", "Agent", "Receptionist", "Clinician", "Operator", "Pharmacist")
    me = v.pick("Caller", "Patient", "Customer", "Mum", "Daughter", "Pt")
    d.lit(f"{who}: {v.pick('Hello, thanks for calling.', 'Hi there.', 'Morning.')} ")
    for _ in range(v.rng.randint(2, 4)):
        kind = v.pick("record", "record", "last", "ends", "national", "member", "said")
        if kind == "record":
            cue = v.pick(*_RECORD_CUES[v.locale])
            d.lit(
                v.pick(
                    f"Can I take your {cue}?",
                    f"What's the {cue}, please?",
                    f"Do you have the {cue} handy?",
                    f"And the {cue}?",
                )
            )
            d.lit(f"\n{me}: {v.pick(*_FILLERS)}").ent("MRN", _record_value(v))
            d.lit(v.pick(".", "", " I think.", ", that's on the letter."))
        elif kind == "last":
            noun, label, n = v.pick(
                *[(c, "MRN", 4) for c in _RECORD_NOUNS]
                + [("social", "SSN", 4), ("SSN", "SSN", 4), ("card", "CARD", 4),
                   ("account", "ACCOUNT", 4), ("member ID", "MEMBER_ID", 4),
                   ("policy number", "MEMBER_ID", 4)]
            )  # fmt: skip
            d.lit(
                v.pick(
                    f"Can you confirm the last four digits of your {noun}?",
                    f"What are the last 4 of the {noun}?",
                    f"Last four of your {noun}?",
                )
            )
            value = v.digits(n)
            d.lit(f"\n{me}: {v.pick(*_FILLERS)}")
            d.ent(label, value if v.chance(0.7) else spoken(v, value)).lit(v.pick(".", ""))
        elif kind == "ends":
            noun, label = v.pick(
                ("MRN", "MRN"),
                ("hospital number", "MRN"),
                ("member ID", "MEMBER_ID"),
                ("policy", "MEMBER_ID"),
                ("card", "CARD"),
                ("account", "ACCOUNT"),
            )
            d.lit("Which one is it?\n" + f"{me}: ")
            d.lit(v.pick(f"the {noun} ending in ", f"my {noun} ends with ", f"{noun} ending "))
            d.ent(label, v.digits(4)).lit(".")
        elif kind == "national":
            cue = {
                "en_GB": "National Insurance number",
                "en_CA": "SIN",
                "en_AU": "TFN",
                "en_IE": "PPS number",
                "en_US": "social security number",
            }[v.locale]
            d.lit(f"For the claim I need your {cue}.\n{me}: {v.pick(*_FILLERS)}")
            value = v.national_id() if v.locale != "en_US" else v.ssn()
            if v.chance(0.4) and value.replace(" ", "").replace("-", "").isdigit():
                d.ent("SSN", spoken(v, "".join(ch for ch in value if ch.isdigit()), (3, 3, 3)))
                d.lit(".")
            else:
                d.ent("SSN", value).lit(".")
        elif kind == "member":
            d.lit(
                v.pick(
                    "And your insurance member number?",
                    "Policy number on the card?",
                    "What's the Medicare number?",
                )
            )
            d.lit(f"\n{me}: {v.pick(*_FILLERS)}")
            raw = v.member_id()
            d.ent("MEMBER_ID", raw if v.chance(0.5) else _grouped(v, v.digits(9)))
        else:
            cue = v.pick(*_RECORD_CUES[v.locale])
            d.lit(f"Have you got your letter?\n{me}: yes, my {cue} is" + v.pick(" ", ", "))
            d.lit(v.pick("", "um, ", "er, ")).ent("MRN", _record_value(v)).lit(".")
        d.lit(f"\n{who}: {v.pick('Thank you.', 'Lovely.', 'Got it.', 'Okay.')} ")
    d.lit(v.pick("Anything else?\n", "Bye now.\n"))


def _form_ids(d: Doc, v: Values) -> None:
    """A registration or KYC form: many field labels for the same kinds of number."""
    d.lit(v.pick("PATIENT DETAILS\n", "Referral form\n", "Customer record\n", ""))
    sep = v.pick(": ", ":  ", " - ", ":\t", " ")
    for _ in range(v.rng.randint(3, 6)):
        kind = v.pick("record", "record", "licence", "passport", "age", "member")
        if kind == "record":
            label = v.pick(
                "Hosp. No.",
                "Hosp No",
                "UR",
                "URN",
                "CHI",
                "MRN#",
                "MRN",
                "Chart #",
                "Unit No.",
                "Pt ID",
                "Patient ID",
                "Patient identifier",
                "Hospital ID",
                "Medical record #",
                "Record ID",
                "Case ID",
                "Client ID",
                "EMR #",
                "Episode number",
                "Health record number",
            )
            digits = v.digits(v.rng.randint(5, 10))
            value = v.pick(
                digits,
                f"{v.pick('H', 'K', 'M', 'RX', 'A')}/{digits}",
                f"{v.pick('H', 'K', 'M', 'RX', 'A')}{digits}",
                f"{digits[:3]} {digits[3:]}",
                f"{digits[:2]}-{digits[2:4]}-{digits[4:]}",
            )
            d.lit(label + (":" if label[-1] not in ".#:" and v.chance(0.6) else "") + " ")
            d.ent("MRN", value)
        elif kind == "licence":
            label = v.pick(
                "Driver's licence no.",
                "Driving licence number",
                "DL #",
                "DL",
                "Licence number",
                "Driver license",
                "Licence (NSW)",
                "DLN",
                "Drivers Lic. No.",
            )
            last = v.fake.last_name().upper().replace("'", "").replace(" ", "")[:5]
            last = (last + "99999")[:5]
            value = v.pick(
                v.driver_license(),
                f"{last}{v.digits(6)}{v.pick('AB', 'SM', 'JK')}{v.digits(1)}{v.pick('IJ', 'XY')}",
                f"{last} {v.digits(6)} {v.pick('AB', 'SM')}{v.digits(1)}{v.pick('IJ', 'XY')}",
                f"{v.digits(3)} {v.digits(3)} {v.digits(3)}",
                f"{v.pick('A', 'D', 'S')}{v.digits(4)}-{v.digits(5)}-{v.digits(5)}",
            )
            d.lit(label + sep).ent("DRIVER_LICENSE", value)
        elif kind == "passport":
            d.lit(v.pick("Passport no.", "Passport number", "Passport #") + sep)
            d.ent("PASSPORT", v.passport())
        elif kind == "member":
            cue, value, label = v.health_id()
            d.lit(cue + sep).ent(label, value)
        else:
            age = v.rng.randint(90, 104)
            form = v.pick("sexage", "agesex", "age")
            if form == "sexage":
                d.lit(v.pick("Sex/Age", "Gender/Age") + sep + v.pick("F", "M") + "/")
                d.ent("AGE", str(age))
            elif form == "agesex":
                d.lit("Age/Sex" + sep).ent("AGE", str(age)).lit(v.pick("/F", "/M", " F"))
            else:
                d.lit("Age" + sep).ent("AGE", str(age)).lit(v.pick("", " yrs", " years"))
        d.lit("\n")


def _letter_ages(d: Doc, v: Values) -> None:
    """An e-mail about an elderly relative: ages over 89 in the ways letters give them."""
    n = v.name()
    d.lit(v.pick("Hi,\n\n", "Dear team,\n\n", "Hello,\n\n"))
    age = v.rng.randint(90, 104)
    rel = v.pick("mother", "father", "mum", "dad", "gran", "grandmother", "aunt", "uncle")
    form = v.pick("appositive", "paren", "yrold", "happy", "hyphen", "aged")
    if form == "appositive":
        d.lit(f"I am writing about my {rel}, ").ent("AGE", str(age))
        d.lit(v.pick(", who ", " and who ") + "lives alone. ")
    elif form == "paren":
        d.lit(f"My {rel} (").ent("AGE", str(age)).lit(") was seen last week. ")
    elif form == "yrold":
        d.lit(f"My {v.pick('', 'frail ')}").ent("AGE", str(age))
        d.lit(v.pick("-yr-old ", " yr old ", "yo ", "-year old ") + f"{rel} needs a visit. ")
    elif form == "happy":
        nth = (
            "st"
            if age % 10 == 1 and age != 111
            else "nd"
            if age % 10 == 2
            else "rd"
            if age % 10 == 3
            else "th"
        )
        if v.chance(0.5):
            d.lit("It was her ").ent("AGE", str(age)).lit(f"{nth} birthday on Sunday. ")
        else:
            d.lit(v.pick("Happy ", "We celebrated his ")).ent("AGE", str(age))
            d.lit(f"{nth} {v.pick('on Sunday', 'with the family')}. ")
    elif form == "hyphen":
        d.lit(f"The {v.pick('patient', 'resident')} is a ").ent("AGE", str(age))
        d.lit(v.pick("-year-old ", " year old ") + "widow. ")
    else:
        d.lit(f"My {rel}, aged ").ent("AGE", str(age)).lit(", fell at home. ")
    d.lit(v.pick("Thanks,\n", "Best wishes,\n", "Regards,\n"))
    d.ent("PERSON", n.first).lit("\n")


TEMPLATES = {
    "casual_ids_chat": _chat,
    "casual_ids_email": _mail,
    "casual_ids_dialogue": _dialogue_ids,
    "casual_ids_form": _form_ids,
    "casual_ids_letter_ages": _letter_ages,
}
