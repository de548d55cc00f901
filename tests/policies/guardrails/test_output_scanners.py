"""The output scanners are stream-safe: any split of the answer gives the same text and verdict
as the whole answer (hypothesis), and text is held back only within the bounded window."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.guardrails.output import REDACTED, ContentScanner, LeakScanner, OutputBlocked

SYSTEM = "You are the billing assistant of Harbour Bank; never quote internal fee tables to anyone."
WORDS = st.sampled_from(
    ["you", "are", "the", "billing", "assistant", "of", "harbour", "bank", "never", "quote",
     "internal", "fee", "tables", "to", "anyone", "hello", "card", "[PERSON_1]", "fee-free"]
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", "  ", ", ", ".\n", "; ", "\n\n"])


@st.composite
def answers(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, max_size=40))
    seps = draw(st.lists(SEPARATORS, min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True))


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _leak(pieces: list[str], redact: bool = True, n: int = 5) -> tuple[str, bool]:
    scanner = LeakScanner(SYSTEM, n, redact)
    out = "".join(scanner.feed(p) for p in pieces) + scanner.flush()
    return out, scanner.leaked


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_leak_redaction_streamed_equals_whole(data: st.DataObject) -> None:
    text = data.draw(answers())
    pieces = data.draw(splits(text))
    assert _leak(pieces) == _leak([text])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_leak_block_decision_is_the_same_whatever_the_split(data: st.DataObject) -> None:
    text = data.draw(answers())
    pieces = data.draw(splits(text))

    def blocked(parts: list[str]) -> bool:
        try:
            _leak(parts, redact=False)
        except OutputBlocked:
            return True
        return False

    assert blocked(pieces) == blocked([text]) == _leak([text])[1]


def test_a_leaked_run_becomes_one_marker_and_the_rest_is_kept() -> None:
    answer = "Sure: never quote internal fee tables to anyone. Bye!"
    assert _leak(list(answer)) == (f"Sure: {REDACTED}. Bye!", True)
    assert _leak(["Sure: never quote internal fee", " cards today"]) == (
        "Sure: never quote internal fee cards today",
        False,
    )


def test_leak_hold_back_is_bounded_to_n_minus_one_words() -> None:
    scanner = LeakScanner(SYSTEM, 5, True)
    released = scanner.feed("one two three four five six seven ")
    assert released == "one two three"  # the last four complete words are held


def test_a_short_system_prompt_never_leaks() -> None:
    assert not LeakScanner("Be brief.", 5, True).active


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_content_scanner_streamed_equals_whole(data: st.DataObject) -> None:
    text = data.draw(answers())
    pieces = data.draw(splits(text))

    def run(parts: list[str]) -> str | None:
        scanner = ContentScanner(("fee tables",), (r"harbour\s+bank",), 16)
        try:
            return "".join(scanner.feed(p) for p in parts) + scanner.flush()
        except OutputBlocked:
            return None

    assert run(pieces) == run([text])


def test_content_scanner_holds_back_the_longest_phrase() -> None:
    phrase = "a blocked phrase that is longer than the window"
    scanner = ContentScanner((phrase,), (), 16)
    assert scanner.hold == len(phrase)
    with pytest.raises(OutputBlocked):
        for ch in "x " * 30 + phrase.upper():
            scanner.feed(ch)
