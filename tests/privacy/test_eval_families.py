"""The independent evaluation families (privacy/eval): shape, provenance, scoring, floors.

The floor test runs Bastion's default Redactor on every family and fails when recall,
precision or leak rate fall past a floor set BELOW the value measured when the floor was last
raised. The floors report; they are not targets (the targets are in issue 10 and the README),
and nothing may be tuned against the families to pass them.
"""

from __future__ import annotations

import importlib

import pytest

from privacy import Redactor
from privacy.entities import ENTITY_TYPES
from privacy.eval import DATA_DIR, FAMILIES, LOCALES, Example, GoldSpan, load_family
from privacy.eval.generate import family_bytes
from privacy.eval.score import covered, leaks, merge, redact, score

# Floors for Bastion's default Redactor on the whole families: (recall >=, precision >=,
# leak rate <=). Raised 2026-12-04 to a little below what bench/privacy.py measured with the
# detectors of 577ec44 (casual-text identifier forms, one model pass, id-shaped tokens) --
# recall / precision / leak: narrative 0.978 / 0.990 / 1.5 %, dialogue 0.943 / 0.996 / 5.2 %,
# semistructured 0.952 / 0.985 / 3.0 %, email 0.959 / 0.995 / 3.2 % (before, at fcb5af5:
# narrative 0.948 / 0.990 / 4.7 %, dialogue 0.867 / 0.992 / 12.8 %, semistructured 0.888 /
# 0.973 / 9.3 %, email 0.924 / 0.993 / 6.6 %; main before the detection work, d535853: recall
# 0.47-0.57, leak 38-49 %). They are regression floors, not the targets of issue 10 (recall
# >= 0.99, precision >= 0.95, leak <= 0.5 %).
FLOORS: dict[str, tuple[float, float, float]] = {
    "narrative": (0.965, 0.975, 0.025),
    "dialogue": (0.93, 0.98, 0.065),
    "semistructured": (0.94, 0.97, 0.04),
    "email": (0.945, 0.98, 0.045),
}
# Requests per redact_batch call in the floor test: the size of a gateway batch, so that no call
# runs into the Redactor's timeout_s (a whole family in one call would).
BATCH = 8
LABELS = set(ENTITY_TYPES) | {"ORGANIZATION"}


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest) -> tuple[str, list[Example]]:
    return request.param, load_family(request.param)


# -- the families ----------------------------------------------------------------------------
def test_every_family_has_a_frozen_file_and_floors() -> None:
    assert len(FAMILIES) >= 4
    assert set(FLOORS) == set(FAMILIES)
    for name in FAMILIES:
        assert (DATA_DIR / f"{name}.jsonl").is_file()


def test_family_size_locales_and_labels(family: tuple[str, list[Example]]) -> None:
    name, examples = family
    assert sum(len(ex.spans) for ex in examples) >= 2000, name
    assert {ex.locale for ex in examples} == set(LOCALES)
    assert len({ex.id for ex in examples}) == len(examples)
    for ex in examples:
        last_end = 0
        for span in sorted(ex.spans, key=lambda s: s.start):
            value = ex.text[span.start : span.end]
            assert span.type in LABELS, (ex.id, span)
            assert span.start >= last_end, (ex.id, "overlapping gold spans")
            assert value and value == value.strip(), (ex.id, value)
            last_end = span.end


def test_each_locale_carries_its_identifiers(family: tuple[str, list[Example]]) -> None:
    """Every locale contributes names, phone numbers and, where addresses occur, postcodes."""
    name, examples = family
    for locale in LOCALES:
        types = {s.type for ex in examples if ex.locale == locale for s in ex.spans}
        assert {"PERSON", "PHONE", "DATE"} <= types, (name, locale, types)
        assert "ZIP" in types and "ADDRESS" in types, (name, locale)


def test_readme_states_the_frozen_counts(family: tuple[str, list[Example]]) -> None:
    """The provenance table in privacy/eval/README.md matches the files."""
    name, examples = family
    readme = (DATA_DIR.parent / "README.md").read_text(encoding="utf-8")
    module = importlib.import_module(f"privacy.eval.{name}")
    row = (
        f"| {name} | `data/{name}.jsonl` | `privacy/eval/{name}.py` | {module.SEED} | "
        f"{len(examples)} | {sum(len(ex.spans) for ex in examples):,} |"
    )
    assert row in readme


@pytest.mark.parametrize("name", FAMILIES)
def test_regenerates_byte_for_byte(name: str) -> None:
    assert family_bytes(name) == (DATA_DIR / f"{name}.jsonl").read_bytes()


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown evaluation family"):
        load_family("nope")


# -- scoring ---------------------------------------------------------------------------------
def _ex(text: str, *gold: tuple[str, str]) -> Example:
    spans = []
    for kind, value in gold:
        start = text.index(value)
        spans.append(GoldSpan(start, start + len(value), kind))
    return Example("t", "en_US", text, tuple(spans))


def _at(text: str, value: str, kind: str = "X") -> tuple[int, int, str]:
    start = text.index(value)
    return (start, start + len(value), kind)


T1 = "Seen Lindqvist, Marguerite at 10:30, phone 0114 496 0208."


@pytest.mark.parametrize(
    ("detected", "found"),
    [
        ([_at(T1, "Lindqvist, Marguerite")], True),  # exact
        ([_at(T1, "Lindqvist"), _at(T1, "Marguerite")], True),  # the comma may stay
        ([_at(T1, "Seen Lindqvist, Marguerite at")], True),  # wider is still covered
        ([_at(T1, "Marguerite")], False),  # half a name is a miss
        ([_at(T1, "Lindqvist, Marguerit")], False),  # one letter left
        ([_at(T1, "Lindqvist, Marguerite", "LOCATION")], True),  # any type counts
        ([], False),
    ],
)
def test_recall_covers_every_letter_and_digit(detected, found: bool) -> None:
    ex = _ex(T1, ("PERSON", "Lindqvist, Marguerite"))
    sc = score([ex], [detected])
    assert sc.recall("PERSON") == (1.0 if found else 0.0)


@pytest.mark.parametrize(
    ("detected", "true_pos", "predicted"),
    [
        ([_at(T1, "10:30")], 0, 1),  # overlaps no gold value: false positive
        ([_at(T1, "0114 496"), _at(T1, "496 0208")], 1, 1),  # overlapping spans merge into one
        ([_at(T1, "0114"), _at(T1, "0208")], 2, 2),  # two disjoint hits on one value: both TP
        ([_at(T1, "Seen")], 0, 1),
        ([_at(T1, "phone 0114")], 1, 1),  # a partial overlap is a true positive
    ],
)
def test_precision_counts_merged_detections(detected, true_pos: int, predicted: int) -> None:
    ex = _ex(T1, ("PERSON", "Lindqvist, Marguerite"), ("PHONE", "0114 496 0208"))
    sc = score([ex], [detected])
    assert sum(sc.predicted.values()) == predicted
    assert sum(sc.true_pos.values()) == true_pos


@pytest.mark.parametrize(
    ("value", "redacted", "leaked"),
    [
        ("0424", "card ending 0424.", True),
        ("0424", "card ending [CARD_1].", False),
        ("0424", "order 10424 shipped", False),  # inside a longer number: not this value
        ("Marguerite", "Dear marguerite", False),  # verbatim means exact case
        ("Ann Lee", "Ann [PERSON_1]", False),  # the whole value no longer appears
        ("a.b@x.org", "mail a.b@x.org!", True),
    ],
)
def test_leak_is_verbatim_value_in_redacted_text(value: str, redacted: str, leaked: bool) -> None:
    assert leaks(value, redacted) is leaked


def test_leak_rate_uses_the_redacted_text_given() -> None:
    ex = _ex(
        "Call Ann Lee on 0491 570 156 today.", ("PERSON", "Ann Lee"), ("PHONE", "0491 570 156")
    )
    sc = score([ex], [[]], ["Call Ann Lee on [PHONE_1] today."])
    assert sc.leak_rate() == 0.5
    assert sc.leak_rate("PERSON") == 1.0 and sc.leak_rate("PHONE") == 0.0
    assert sc.recall() == 0.0  # nothing was detected, whatever the redacted text says


def test_merge_and_redact() -> None:
    assert merge([(4, 9, "A"), (0, 3, "B"), (2, 6, "C")]) == [(0, 9, "A")]
    assert merge([(0, 2, "A"), (2, 4, "B")]) == [(0, 2, "A"), (2, 4, "B")]
    assert redact("abc def ghi", [(4, 7, "X"), (5, 6, "Y")]) == "abc <X> ghi"
    assert covered("a-b c", 0, 5, bytearray(b"\x01\x00\x01\x00\x01"))


def test_per_type_figures_and_empty_cases() -> None:
    ex = _ex("Dr Ann Lee, MRN 123456, Boston.", ("PERSON", "Ann Lee"), ("MRN", "123456"))
    sc = score([ex], [[_at(ex.text, "Ann Lee", "PERSON"), _at(ex.text, "Boston", "LOCATION")]])
    assert (sc.recall("PERSON"), sc.recall("MRN"), sc.recall()) == (1.0, 0.0, 0.5)
    assert (sc.precision("PERSON"), sc.precision("LOCATION"), sc.precision()) == (1.0, 0.0, 0.5)
    empty = score([], [])
    assert (empty.recall(), empty.precision(), empty.leak_rate()) == (1.0, 1.0, 0.0)


# -- floors on Bastion's Redactor ------------------------------------------------------------
def test_bastion_floor(family: tuple[str, list[Example]], redactor: Redactor) -> None:
    name, examples = family
    results = []
    for i in range(0, len(examples), BATCH):
        part = examples[i : i + BATCH]
        results += redactor.redact_batch([[ex.text] for ex in part], [""] * len(part))
    detections = [[(s.start, s.end, s.entity_type) for s in r.spans[0]] for r in results]
    sc = score(examples, detections, [r.texts[0] for r in results])
    recall, precision, leak = FLOORS[name]
    measured = (round(sc.recall(), 4), round(sc.precision(), 4), round(sc.leak_rate(), 4))
    assert sc.recall() >= recall, (name, measured)
    assert sc.precision() >= precision, (name, measured)
    assert sc.leak_rate() <= leak, (name, measured)
