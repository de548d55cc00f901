"""Bounded time on hostile input. The 10 s bound is a hang guard, not a speed claim
(speed figures are in bench/privacy.py)."""

from __future__ import annotations

import itertools
import time

import pytest

from privacy import PrivacyConfig, RedactionError, Redactor
from privacy.pseudonymize import PLACEHOLDER_RE

HANG_GUARD_S = 10.0

HOSTILE = {
    "dots_100k": "." * 100_000,
    "digits_100k": "1" * 100_000,
    "digit_dash_100k": "1-" * 50_000,
    "letters_200k": "A" * 200_000,
    "at_signs": "a@" * 50_000,
    "email_like": "aaaa.bbbb@" * 10_000,
    "titles": "Dr. " * 25_000,
    "cue_chain": "MRN: " * 20_000,
    "angle_brackets": "<" * 100_000,
    "spaced_digits": "1 " * 50_000,
    "capitalized_words": "Smith " * 20_000,
    "colons_hex": "a:" * 50_000,
    "url_no_end": "https://" + "a" * 100_000,
    "mixed_punct": "(.-/)" * 20_000,
}


# Real identifiers after the hostile run: detection must not give up on the rest of the text.
TAIL = "\nPatient SSN 123-45-6789, phone 617-555-0148."


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_finishes_and_is_still_redacted(redactor: Redactor, name: str) -> None:
    text = HOSTILE[name] + TAIL
    started = time.monotonic()
    result = redactor.redact_messages([text], tenant="")
    assert time.monotonic() - started < HANG_GUARD_S
    (out,) = result.texts
    assert "123-45-6789" not in out and "617-555-0148" not in out
    assert out.endswith("Patient SSN [SSN_1], phone [PHONE_1].")
    # The result is well formed: spans sorted, disjoint and inside the text; one placeholder
    # per counted identifier; and restoring gives back exactly the input.
    (spans,) = result.spans
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert len(PLACEHOLDER_RE.findall(out)) == result.count == len(spans)
    assert result.restore(out) == text


def test_200kb_prompt_is_fully_redacted(redactor: Redactor) -> None:
    block = (
        "Patient John Carter (MRN 00482913) called from 617-555-0134 about his claim. "
        "SSN 123-45-6789 on file; card 4111 1111 1111 1111 was charged on 03/14/2024. "
        "The discussion covered scheduling, billing questions and medication refills. "
    )
    text = block * (200_000 // len(block) + 1)
    assert len(text) >= 200_000
    started = time.monotonic()
    result = redactor.redact_messages([text], tenant="")
    assert time.monotonic() - started < HANG_GUARD_S
    out = result.texts[0]
    for value in (
        "John Carter",
        "00482913",
        "617-555-0134",
        "123-45-6789",
        "4111 1111",
        "03/14/2024",
    ):
        assert value not in out
    assert "Carter" not in out


def test_over_size_limit_fails_closed_without_echoing_input() -> None:
    r = Redactor(PrivacyConfig(max_input_chars=1_000))
    secret = "SSN 123-45-6789 " * 100
    with pytest.raises(RedactionError) as err:
        r.redact_messages([secret], tenant="")
    assert "123-45-6789" not in str(err.value)
    assert "max_input_chars" in str(err.value)


def test_deadline_fails_closed(redactor: Redactor) -> None:
    # A real deadline, just very short: the check after NER trips.
    r = Redactor(PrivacyConfig(timeout_s=1e-9))
    r._analyzer = redactor._analyzer  # share the loaded model (slow to build)
    with pytest.raises(RedactionError, match="timeout_s"):
        r.redact_messages(["Pt John Smith, SSN 123-45-6789"], tenant="")


def test_regex_timeout_fails_closed() -> None:
    # A per-pattern deadline so short that scanning 200 KB cannot finish: a real timeout.
    r = Redactor(PrivacyConfig(regex_timeout_s=1e-6, timeout_s=60))
    with pytest.raises(RedactionError, match="exceeded") as err:
        r.redact_messages(["Smith 123-45-6789 " * 12_000], tenant="")
    assert "123-45-6789" not in str(err.value)
