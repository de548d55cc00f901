"""Redacting identifiers the model produced itself: streams (privacy/output.py).

Streamed output equals the whole-answer output for any chunking; no part of an identifier the
whole-answer scan replaces is ever sent; the request's own placeholders come back exactly.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy import Redactor
from privacy.output import REDACTED_RE, OutputScanner, RedactorDetector
from privacy.pseudonymize import PLACEHOLDER_RE, Span, StreamRestorer, restore_text

ANSWER = (
    "Sure, here is the card for [PERSON_1]:\n"
    "Name: Dr. Marguerite Okonkwo\n"
    "Phone: 617-555-0148\n"
    "Email: marguerite.okonkwo@example.org\n"
    "SSN: 123-45-6789\n"
    "Ask Dr. Okonkwo to call [PERSON_1] about [MRN_1] tomorrow."
)
MAPPING = {"PERSON_1": "Ana Ruiz", "MRN_1": "4829113"}
INVENTED = ["Marguerite Okonkwo", "617-555-0148", "marguerite.okonkwo@example.org", "123-45-6789"]
# Any piece of an invented value that would give part of it away.
PARTS = sorted({p for v in INVENTED for p in re.findall(r"[A-Za-z0-9]{3,}", v)} - {"org"})


class ScriptedEngine:
    """Test double for an engine: it replays a fixed answer in the chunks it is given. The
    bundled model cannot be made to split identifiers at chosen offsets on demand."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self.chunks = list(chunks)

    async def generate(self) -> AsyncIterator[str]:
        for chunk in self.chunks:
            yield chunk


def _run(aio, chunks: list[str], detect) -> tuple[list[str], str, OutputScanner]:
    """Stream ``chunks`` through the scanner and then the real restorer (as the pipeline does).
    Returns what the scanner sent (piece by piece), the restored text, and the scanner."""
    scanner = OutputScanner(detect, MAPPING, MAPPING)
    restorer = StreamRestorer(MAPPING)

    async def drive() -> tuple[list[str], str]:
        sent, restored = [], []
        async for delta in ScriptedEngine(chunks).generate():
            sent.append(scanner.feed(delta))
            restored.append(restorer.feed(sent[-1]))
        sent.append(scanner.flush())
        restored.append(restorer.feed(sent[-1]) + restorer.flush())
        return sent, "".join(restored)

    sent, restored = aio.run(drive())
    return sent, restored, scanner


@pytest.fixture(scope="module")
def real_detect(redactor: Redactor) -> RedactorDetector:
    return RedactorDetector(redactor, "")


@pytest.fixture(scope="module")
def whole(real_detect) -> str:
    out = OutputScanner(real_detect, MAPPING, MAPPING).redact_whole(ANSWER)
    assert PARTS and not any(part in out for part in PARTS)  # the real detector finds them all
    return out


def _check(sent: list[str], restored: str, whole: str) -> None:
    emitted = ""
    for piece in sent:
        emitted += piece
        assert not any(part in emitted for part in PARTS)
    assert emitted == whole
    assert restored == restore_text(whole, MAPPING)
    assert restored.startswith("Sure, here is the card for Ana Ruiz:\n")
    assert restored.endswith("to call Ana Ruiz about 4829113 tomorrow.")


def test_identifiers_split_at_every_offset_never_leak(aio, real_detect, whole) -> None:
    for k in range(1, len(ANSWER)):
        sent, restored, _ = _run(aio, [ANSWER[:k], ANSWER[k:]], real_detect)
        _check(sent, restored, whole)


def test_one_character_deltas_and_three_way_splits(aio, real_detect, whole) -> None:
    sent, restored, scanner = _run(aio, list(ANSWER), real_detect)
    _check(sent, restored, whole)
    assert sum(scanner.counts.values()) == len(REDACTED_RE.findall(whole))
    for k in range(0, len(ANSWER) - 4, 3):
        chunks = [ANSWER[:k], ANSWER[k : k + 4], ANSWER[k + 4 :]]
        sent, restored, _ = _run(aio, chunks, real_detect)
        _check(sent, restored, whole)


# -- property: streamed == whole, for any chunking --------------------------------------------

_FRAGMENTS = [
    "Sure, here is",
    " the answer",
    " for [PERSON_1]",
    " and <person 1>",
    " PERSON_1",
    " Call Jane Porter",
    " at 617 555 0148",
    " or (617) 555-0148",
    ", e-mail jane.porter@example.org",
    ".\n",
    "\n",
    " SSN 123-45-6789",
    " MRN [MRN_1]",
    " Dr. Okonkwo",
    " lives at 12 Main Street, Boston, MA 02115",
    " Porter",
    " on March 3, 2024",
    " is well",
    " zero one two",
    " \u2014 ok",
    " 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,",  # a long run of numbers
    " call 617 555 0148 or 617 555 0149 or 617 555 0150 or 617 555 0151 now",
]


def _scripted(text: str) -> list[Span]:
    """A fast regex detector (the property is about the scanner, not about detection)."""
    pattern = re.compile(
        r"(?P<PHONE>\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4})|(?P<EMAIL>[\w.]+@[\w.]+\.\w+)"
        r"|(?P<PERSON>[A-Z][a-z]+ [A-Z][a-z]+)|(?P<SSN>\d{3}-\d\d-\d{4})|(?P<ZIP>\b\d{5}\b)"
    )
    return [Span(m.lastgroup or "", m.start(), m.end(), 1.0) for m in pattern.finditer(text)]


def _chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _stream(detect, chunks: list[str]) -> str:
    scanner = OutputScanner(detect, MAPPING, MAPPING)
    return "".join(scanner.feed(c) for c in chunks) + scanner.flush()


answers = st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=14).map("".join)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=30)


@settings(max_examples=400, deadline=None)
@given(answers, cuts)
def test_streamed_equals_whole_scripted_detector(text: str, points: list[int]) -> None:
    whole = OutputScanner(_scripted, MAPPING, MAPPING).redact_whole(text)
    assert _stream(_scripted, _chunked(text, points)) == whole
    # Request placeholders are never touched.
    keys = [m.group() for m in PLACEHOLDER_RE.finditer(text)]
    assert [m.group() for m in PLACEHOLDER_RE.finditer(whole)][: len(keys)] == keys


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers, cuts)
def test_streamed_equals_whole_real_detector(real_detect, text: str, points: list[int]) -> None:
    whole = OutputScanner(real_detect, MAPPING, MAPPING).redact_whole(text)
    assert _stream(real_detect, _chunked(text, points)) == whole


# -- the real model ----------------------------------------------------------------------------


def test_real_model_invented_identifiers_are_redacted(aio, llama_engine, real_detect) -> None:
    from models.engines import GenerationRequest

    prompt = llama_engine.render_chat(
        [
            {
                "role": "user",
                "content": "Write a sample contact card for a fictional person: full name, "
                "phone number, email address and home address.",
            }
        ]
    )
    request = GenerationRequest(prompt, max_tokens=120, temperature=0.0)

    async def generate() -> list[str]:
        return [delta.text async for delta in llama_engine.generate(request)]

    deltas = aio.run(generate())
    raw = "".join(deltas)
    scanner = OutputScanner(real_detect)
    sent = "".join(scanner.feed(d) for d in deltas) + scanner.flush()
    assert sent == OutputScanner(real_detect).redact_whole(raw)
    found_in_raw = real_detect(raw)
    assert found_in_raw, "the model invented no identifier; the test would prove nothing"
    # Whatever it invented is gone: the same detector finds nothing but markers.
    markers = REDACTED_RE.findall(sent)
    leftover = [
        sent[s.start : s.end]
        for s in real_detect(sent)
        if not any(m.start() < s.end and s.start < m.end() for m in REDACTED_RE.finditer(sent))
    ]
    assert leftover == []
    for span in found_in_raw:
        assert raw[span.start : span.end] not in sent
    assert sum(scanner.counts.values()) == len(markers) > 0
    for entity_type, count in scanner.counts.items():
        assert sent.count(f"[{entity_type}_REDACTED]") == count


# -- why a word is held until it is complete ---------------------------------------------------
# Releasing the start of a word before its end is seen (to send the first text sooner) would
# break the guarantee: any word can still grow into an identifier, and the whole-answer scan
# then replaces all of it. These are the cases an early-release rule would have to get right;
# none can be told apart from its harmless reading before the word ends.
_GROWS_INTO = [
    ("The", "Theodore Okafor called.", "Theodore Okafor"),  # an opener at a sentence start
    ("Sure", "Suren Petrosyan called.", "Suren Petrosyan"),
    ("A", "Aaron Okafor called.", "Aaron Okafor"),  # one letter
    ("High", "Highsmith Okafor called.", "Highsmith Okafor"),
    ("Here", "Hereford, HR1 2AB is the town.", "Hereford, HR1 2AB"),
    ("1", "1234 Main Street is the address.", "1234 Main Street"),
    ("**", "****0424 is the card.", "****0424"),  # markup can be a masked number
    ("Write to hello", "Write to hello@example.org today.", "hello@example.org"),
]


@pytest.mark.parametrize(("prefix", "answer", "value"), _GROWS_INTO)
def test_a_word_is_not_released_before_its_end(prefix: str, answer: str, value: str) -> None:
    def detect(text: str) -> list[Span]:  # a test double that knows only this identifier
        pos = text.find(value)
        return [Span("PERSON", pos, pos + len(value), 1.0)] if pos != -1 else []

    whole = OutputScanner(detect).redact_whole(answer)
    assert value not in whole and "[PERSON_REDACTED]" in whole
    for cut in range(1, len(answer)):
        scanner = OutputScanner(detect)
        first = scanner.feed(answer[:cut])
        assert whole.startswith(first)  # nothing of the identifier went out early
        assert first + scanner.feed(answer[cut:]) + scanner.flush() == whole
    scanner = OutputScanner(detect)
    assert scanner.feed(prefix) == ("Write to" if prefix == "Write to hello" else "")
