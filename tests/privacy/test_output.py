"""Redacting identifiers the model produced itself: whole answers (privacy/output.py)."""

from __future__ import annotations

import re

import pytest

from privacy import PrivacyConfig, RedactionError, Redactor, TenantPrivacyConfig
from privacy.output import REDACTED_RE, OutputScanner, RedactorDetector, scanner_for
from privacy.pseudonymize import PLACEHOLDER_RE, Span, StreamRestorer, restore_text

# An answer with identifiers the request did not contain (all detected by the real detector).
ANSWER = (
    "Sure, here is a sample contact card for [PERSON_1]:\n"
    "Name: Dr. Marguerite Okonkwo\n"
    "Phone: 617-555-0148\n"
    "Email: marguerite.okonkwo@example.org\n"
    "SSN: 123-45-6789\n"
    "Please call Dr. Okonkwo before Friday. [PERSON_1] has MRN [MRN_1] on file."
)
INVENTED = [
    "Marguerite",
    "Okonkwo",
    "617-555-0148",
    "marguerite.okonkwo@example.org",
    "123-45-6789",
]
MAPPING = {"PERSON_1": "Ana Ruiz", "MRN_1": "4829113"}


def _unprotected_spans(detect_spans: list[Span], text: str, known: set[str]) -> list[str]:
    """Detected values in ``text`` that are neither a request placeholder nor a marker."""
    zones = [m.span() for m in REDACTED_RE.finditer(text)]
    zones += [m.span() for m in PLACEHOLDER_RE.finditer(text)]
    return [
        text[s.start : s.end]
        for s in detect_spans
        if not any(a < s.end and s.start < b for a, b in zones)
    ]


@pytest.fixture(scope="module")
def real_detect(redactor: Redactor) -> RedactorDetector:
    return RedactorDetector(redactor, "")


def test_invented_identifiers_are_replaced_and_placeholders_pass(real_detect) -> None:
    scanner = OutputScanner(real_detect, MAPPING, MAPPING)
    out = scanner.redact_whole(ANSWER)
    for value in INVENTED:
        assert value not in out
    assert out.count("[PERSON_1]") == 2 and "[MRN_1]" in out
    assert out.startswith("Sure, here is a sample contact card for [PERSON_1]:\n")
    # Every replacement is counted by type, and only replacements are counted.
    markers = [m.group() for m in REDACTED_RE.finditer(out)]
    assert sum(scanner.counts.values()) == len(markers) > 0
    for entity_type, count in scanner.counts.items():
        assert out.count(f"[{entity_type}_REDACTED]") == count
    assert {"PERSON", "PHONE", "EMAIL", "SSN"} <= set(scanner.counts)
    # Nothing the same detector can find is left, apart from placeholders and markers.
    assert _unprotected_spans(real_detect(out), out, set(MAPPING)) == []
    # The restorer brings back the caller's values and leaves every marker alone.
    restored = restore_text(out, MAPPING)
    assert "Ana Ruiz" in restored and "4829113" in restored
    assert [m.group() for m in REDACTED_RE.finditer(restored)] == markers


def test_markers_are_never_restored_and_cannot_collide() -> None:
    mapping = {"PERSON_1": "Ana Ruiz", "PERSON_REDACTED_1": "x"}
    for marker in ("[PERSON_REDACTED]", "[DRIVER_LICENSE_REDACTED]", "[EMAIL_REDACTED]"):
        assert PLACEHOLDER_RE.search(marker) is None
        assert restore_text(marker, mapping) == marker
        restorer = StreamRestorer(mapping)
        assert "".join(restorer.feed(ch) for ch in marker) + restorer.flush() == marker


def test_the_callers_own_identifier_is_kept_as_its_placeholder(real_detect) -> None:
    # The model wrote a value it was never shown (it guessed or recalled the caller's own
    # identifier): it is not an invented one, so the caller gets it back, via the placeholder.
    scanner = OutputScanner(real_detect, MAPPING, {"PHONE_1": "617-555-0148", **MAPPING})
    out = scanner.redact_whole("You can reach the clinic at 617-555-0148 today.")
    assert out == "You can reach the clinic at [PHONE_1] today."
    assert scanner.counts == {}
    assert restore_text(out, {"PHONE_1": "617-555-0148"}).endswith("617-555-0148 today.")


def test_a_name_redacted_once_is_redacted_by_part_later() -> None:
    # A scripted detector that finds full names only: the later bare "Porter" is caught by the
    # scanner's memory of this answer, as the request path propagates values.
    def full_names(text: str) -> list[Span]:
        return [Span("PERSON", m.start(), m.end(), 1.0) for m in re.finditer(r"Jane Porter", text)]

    scanner = OutputScanner(full_names)
    out = scanner.redact_whole("I spoke to Jane Porter today. Porter agreed to come.")
    assert out == "I spoke to [PERSON_REDACTED] today. [PERSON_REDACTED] agreed to come."
    assert scanner.counts == {"PERSON": 2}


def test_spans_over_request_placeholders_are_trimmed() -> None:
    # A detector that flags every capitalized run, placeholders included: the request's own
    # placeholders must still reach the restorer intact.
    def greedy(text: str) -> list[Span]:
        return [
            Span("PERSON", m.start(), m.end(), 1.0)
            for m in re.finditer(r"[\[A-Z][\w\]\[]*(?: [\[A-Z][\w\]\[]*)*", text)
        ]

    scanner = OutputScanner(greedy, ["PERSON_1"])
    out = scanner.redact_whole("ask [PERSON_1] Porter now")
    assert out == "ask [PERSON_1] [PERSON_REDACTED] now"


def test_nothing_held_without_a_suspect_word() -> None:
    calls: list[str] = []

    def detect(text: str) -> list[Span]:
        calls.append(text)
        return []

    scanner = OutputScanner(detect)
    assert scanner.feed("Sure, here is") == "Sure, here"  # "is" may still grow
    assert scanner.feed(" the answer") == " is the"
    assert calls == []  # inert words never reach the detector
    assert scanner.feed(" for Jane") == " answer for"
    assert scanner.feed(" Porter") == " "  # a block opened at "Jane"
    assert scanner.feed(" who is") == ""  # one inert word after it: still held
    assert scanner.feed(" here") == "Jane Porter who is"  # two inert words close it
    assert len(calls) == 1 and calls[0].endswith("Jane Porter who is")
    assert scanner.flush() == " here"


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("Please call 617 555", "Please call "),  # numbers may go on across spaces
        ("Write to jane.porter@example.org soon", "Write to "),
        ("He lives at 12 main", "He lives "),  # "at" and street words keep a block open
        ("Sure, the", "Sure,"),  # the trailing word may still grow
        ("The patient is well and", "The patient is well"),
        ("Call me", ""),  # capitalized mid-answer or not an opener: could be a name
        ("High blood pressure", "High blood"),  # one capitalized word: one inert word closes it
        ("Jane Porter is here", ""),  # two words: two inert words close it
        ("1. Use clear words", "1. Use clear"),  # a list marker at the start of a line
    ],
)
def test_what_is_held_back(text: str, sent: str) -> None:
    scanner = OutputScanner(lambda _t: [])
    assert scanner.feed(text) == sent
    assert sent + scanner.flush() == text


def test_a_long_run_is_released_but_for_its_last_words() -> None:
    # Counting ("6, 7, 8, …") is all digits: a block of 16 words releases all but its last 8,
    # and a span reaching into those 8 words moves the cut before it.
    def phones(text: str) -> list[Span]:
        return [
            Span("PHONE", m.start(), m.end(), 1.0) for m in re.finditer(r"\d{3} \d{3} \d{4}", text)
        ]

    numbers = " ".join(f"{i}," for i in range(6, 40))
    scanner = OutputScanner(phones)
    sent = scanner.feed(numbers)
    assert sent and numbers.startswith(sent) and len(numbers[len(sent) :].split()) <= 15
    assert sent + scanner.flush() == numbers
    text = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, call 617 555 0148 now"
    scanner = OutputScanner(phones)
    sent = scanner.feed(text)
    assert "617" not in sent and "555" not in sent
    assert sent + scanner.flush() == text.replace("617 555 0148", "[PHONE_REDACTED]")


def test_a_newline_closes_a_block_even_when_the_identifier_ends_the_line() -> None:
    def phones(text: str) -> list[Span]:
        return [Span("PHONE", m.start(), m.end(), 1.0) for m in re.finditer(r"\d{3}-\d{4}", text)]

    scanner = OutputScanner(phones)
    assert scanner.feed("Phone: 555-0148\nNext") == "Phone: [PHONE_REDACTED]"
    assert scanner.flush() == "\nNext"


def test_detection_failure_fails_closed(redactor: Redactor) -> None:
    # A real deadline, just very short: the Redactor raises, and so does the scanner.
    strict = Redactor(PrivacyConfig(timeout_s=1e-9))
    strict._analyzer = redactor._analyzer  # share the loaded model (slow to build)
    scanner = OutputScanner(RedactorDetector(strict, ""))
    with pytest.raises(RedactionError):
        scanner.redact_whole("Call Jane Porter at 617-555-0148 tomorrow please.")


def test_tenant_setting_is_on_by_default_and_can_be_turned_off(redactor: Redactor) -> None:
    config = PrivacyConfig(tenants={"quiet": TenantPrivacyConfig(output_redaction=False)})
    assert config.for_tenant("any").output_redaction is True
    assert config.for_tenant("quiet").output_redaction is False
    shared = Redactor(config)
    shared._analyzer = redactor._analyzer
    assert scanner_for(shared, "quiet") is None
    scanner = scanner_for(shared, "any")
    assert scanner is not None
    assert "617-555-0148" not in scanner.redact_whole("Reach me at 617-555-0148 any day.")
    off = PrivacyConfig(output_redaction=False, tenants={"on": {"output_redaction": True}})
    assert off.for_tenant("x").output_redaction is False
    assert off.for_tenant("on").output_redaction is True


def test_scanner_for_a_request_keeps_its_placeholders(redactor: Redactor) -> None:
    request = redactor.redact_messages(["Please write to Ana Ruiz, MRN 4829113."], "")
    assert "[PERSON_1]" in request.texts[0]
    scanner = scanner_for(redactor, "", request)
    assert scanner is not None
    answer = "Dear [PERSON_1], your record [MRN_1] is ready. Regards, Dr. Helen Marsh"
    out = scanner.redact_whole(answer)
    assert "[PERSON_1]" in out and "[MRN_1]" in out and "Helen Marsh" not in out
    assert request.restore(out).startswith("Dear Ana Ruiz, your record 4829113 is ready.")


def test_a_scanner_scans_one_answer() -> None:
    scanner = OutputScanner(lambda _t: [])
    scanner.feed("a")
    with pytest.raises(RuntimeError):
        scanner.redact_whole("b")


def test_fail_open_tenant_scans_with_patterns_and_says_so(redactor: Redactor, monkeypatch) -> None:
    # Fault injection: the model pass (spaCy) failing at run time cannot be caused with a real
    # input.
    def broken(texts, deadline, batch=64):
        raise MemoryError("simulated")

    shared = Redactor(PrivacyConfig(tenants={"open": TenantPrivacyConfig(fail_closed=False)}))
    shared._analyzer = redactor._get_analyzer()
    monkeypatch.setattr(shared._analyzer, "detect", broken)
    scanner = scanner_for(shared, "open")
    assert scanner is not None and not scanner.degraded
    out = scanner.redact_whole("Please call 617-555-0148 today, thanks.")
    assert "617-555-0148" not in out and scanner.degraded
    closed = scanner_for(shared, "other")
    assert closed is not None
    with pytest.raises(RedactionError):
        closed.redact_whole("Please call 617-555-0148 today, thanks.")
