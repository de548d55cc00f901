"""The learned detector: shipped weights load offline; it finds names, places, addresses and
organizations in hand-written sentences that no corpus template produces; it leaves clinical
text alone; and the tuning corpus it was trained on is reproducible byte for byte."""

from __future__ import annotations

import socket

import pytest

from privacy.entities import ENTITY_TYPES
from privacy.recognizers import learned
from privacy.train import corpus, train_ner

# Written by hand for this test, in wordings no corpus template uses.
_POSITIVES = [
    (
        "Yesterday afternoon Marguerite Okonkwo-Lindqvist phoned to say her knee was worse.",
        [("PERSON", "Marguerite Okonkwo-Lindqvist")],
    ),
    (
        "Please forward the MRI films to Dr. Tobias Wren at Kingsbridge Memorial Hospital.",
        [("PERSON", "Tobias Wren"), ("ORGANIZATION", "Kingsbridge Memorial Hospital")],
    ),
    (
        "She has since moved to 14 Larkspur Avenue, Port Ellison, OR 97211 with her sister.",
        [("ADDRESS", "14 Larkspur Avenue"), ("LOCATION", "Port Ellison"), ("ZIP", "97211")],
    ),
    (
        "The wheelchair was delivered to Flat 3, 27 Mill Road, Brackenfield BD7 2QP last week.",
        [("ADDRESS", "Flat 3, 27 Mill Road"), ("LOCATION", "Brackenfield"), ("ZIP", "BD7 2QP")],
    ),
    (
        "His line manager at Pemberton Freight Ltd has agreed to lighter duties until March.",
        [("ORGANIZATION", "Pemberton Freight Ltd")],
    ),
    (
        "okay so i spoke to priya raman this morning and she's fine with the new dose",
        [("PERSON", "priya raman")],
    ),
    (
        "Consent witnessed by NAKAMURA, Hiroshi before the procedure began.",
        [("PERSON", "NAKAMURA, Hiroshi")],
    ),
]

_NEGATIVES = [
    "Commenced on bisoprolol 2.5 mg each morning; potassium 5.1 mmol/L, recheck in a week.",
    "Tremor worse in the evenings; co-careldopa increased to four doses daily.",
    "Ferritin 9, folate normal; iron tablets restarted and diet advice given.",
    "Chest X-ray clear. Urine dip negative for nitrites. Plan: oral fluids and review.",
    "Weight 82 kg, BP 128/79, pulse 68 regular, afebrile.",
]


def _covered(found: list[tuple[str, int, int]], entity: str, start: int, end: int) -> bool:
    """A detection of ``entity`` covers at least the middle of [start, end)."""
    middle = (start + end) // 2
    return any(t == entity and s <= middle < e for t, s, e in found)


@pytest.fixture(scope="module")
def recognizer() -> learned.LearnedRecognizer:
    assert learned.available(), f"learned detector weights missing at {learned.model_path()}"
    return learned.LearnedRecognizer()


def test_weights_ship_inside_the_package_and_are_small() -> None:
    path = learned.model_path()
    assert (path / "meta.json").is_file() and (path / "ner").is_dir()
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    assert size <= 50 * 1024 * 1024
    assert "privacy" in path.parts and "models" in path.parts


def test_not_available_without_weights(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    monkeypatch.setattr(learned, "model_path", lambda: tmp_path)
    assert learned.available() is False


def test_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injector: every non-local connect or DNS lookup raises (no way to unplug the
    # network inside a test).
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used while loading the learned detector")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    nlp = learned._load_from_disk()
    assert nlp.pipe_names == ["ner"]
    assert {"PERSON", "GPE", "ORG", "ADDRESS", "ZIP"} <= set(nlp.get_pipe("ner").labels)


@pytest.mark.parametrize(("text", "expected"), _POSITIVES, ids=[t[:30] for t, _ in _POSITIVES])
def test_finds_identifiers_in_unseen_wording(
    recognizer: learned.LearnedRecognizer, text: str, expected: list[tuple[str, str]]
) -> None:
    found = [
        (r.entity_type, r.start, r.end) for r in recognizer.analyze(text, list(learned.ENTITIES))
    ]
    for entity, value in expected:
        start = text.index(value)
        assert _covered(found, entity, start, start + len(value)), (entity, value, found)


@pytest.mark.parametrize("text", _NEGATIVES)
def test_leaves_clinical_text_alone(recognizer: learned.LearnedRecognizer, text: str) -> None:
    found = recognizer.analyze(text, list(learned.ENTITIES))
    assert [(r.entity_type, text[r.start : r.end]) for r in found] == []


def test_batch_equals_one_by_one(recognizer: learned.LearnedRecognizer) -> None:
    texts = [t for t, _ in _POSITIVES] + _NEGATIVES + [_POSITIVES[0][0]]
    batch = recognizer.analyze_batch(texts)
    single = [recognizer.analyze(t, list(learned.ENTITIES)) for t in texts]
    as_tuples = [[(r.entity_type, r.start, r.end) for r in rs] for rs in batch]
    assert as_tuples == [[(r.entity_type, r.start, r.end) for r in rs] for rs in single]
    assert any(as_tuples)


def test_concurrent_callers_get_the_same_answers(recognizer: learned.LearnedRecognizer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [t for t, _ in _POSITIVES] * 4

    def spans(text: str) -> list[tuple[str, int, int]]:
        return [(r.entity_type, r.start, r.end) for r in recognizer.analyze(text, ["PERSON"])]

    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(spans, texts))
    assert threaded == [spans(t) for t in texts]


def test_long_text_is_cut_into_pieces_without_losing_offsets(
    recognizer: learned.LearnedRecognizer,
) -> None:
    filler = "Observations stable overnight and pain controlled with simple analgesia.\n" * 60
    text = filler + _POSITIVES[1][0] + "\n" + filler
    found = [(r.entity_type, r.start, r.end) for r in recognizer.analyze(text, ["PERSON"])]
    start = text.index("Tobias Wren")
    assert len(text) > 2 * learned._PIECE
    assert _covered(found, "PERSON", start, start + len("Tobias Wren"))
    assert all(t == "PERSON" for t, _, _ in found)


def test_past_deadline_fails_closed(recognizer: learned.LearnedRecognizer) -> None:
    import time

    from privacy.errors import RedactionError

    with pytest.raises(RedactionError):
        recognizer.analyze_batch([_POSITIVES[0][0]], deadline=time.monotonic() - 1.0)


def test_only_requested_entities_come_back(recognizer: learned.LearnedRecognizer) -> None:
    text = _POSITIVES[1][0]
    assert {r.entity_type for r in recognizer.analyze(text, ["ORGANIZATION"])} == {"ORGANIZATION"}


def test_corpus_is_deterministic_and_labels_are_consistent() -> None:
    a = corpus.to_jsonl(train_ner.training_corpus(11, 60))
    b = corpus.to_jsonl(train_ner.training_corpus(11, 60))
    assert a == b
    assert a != corpus.to_jsonl(train_ner.training_corpus(12, 60))
    allowed = set(ENTITY_TYPES) | {"ORGANIZATION"}
    for ex in corpus.generate(len(corpus.TEMPLATES) * 3, 5):
        end = 0
        for s, e, label in ex.spans:
            value = ex.text[s:e]
            assert label in allowed and value and value == value.strip() and s >= end, ex
            end = e
    trained = {e.template for e in train_ner.training_corpus(11, 60)}
    assert not set(train_ner.HELD_OUT_TEMPLATES) & trained
    # The rule-only templates (numbers and dates in casual text) never reach the learned model.
    assert train_ner.RULE_ONLY_TEMPLATES and not set(train_ner.RULE_ONLY_TEMPLATES) & trained


def test_shipped_model_records_its_training() -> None:
    record = learned.load_model().meta["bastion"]
    assert record["seed"] == train_ner.SEED
    assert record["train_documents"] > 0 and record["epochs"] > 0
    assert set(record["label_map"].values()) == set(learned.ENTITIES)
    for split in ("in_distribution_other_seed", "held_out_templates"):
        assert set(record["figures"][split]["by_label"]) == {*train_ner.LABEL_MAP, "ALL"}


def test_shipped_weights_were_trained_on_this_corpus() -> None:
    """The committed generator still writes the exact corpus the shipped weights saw (a change
    to the generator means the weights must be retrained)."""
    from importlib.metadata import version

    record = learned.load_model().meta["bastion"]
    if version("faker") != record["faker_version"]:
        pytest.skip(
            f"Faker {version('faker')} installed, weights made with {record['faker_version']}"
        )
    corpus_ = train_ner.training_corpus(record["seed"], record["train_documents"])
    assert train_ner.corpus_digest(corpus_) == record["train_corpus_sha256"]
