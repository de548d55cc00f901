"""Learned detector: Bastion's own spaCy NER, fine-tuned on the tuning corpus.

The weights ship in the package (``privacy/models/bastion_ner``, written by
``python -m privacy.train.train_ner``) and load from there, offline, once per process. The model
finds names, towns, street address lines, ZIP codes / postcodes and organizations in free text,
including the forms the rules miss (names without a cue word, lower- or upper-case names,
"Last, First", addresses followed by a town and postcode).

``LearnedRecognizer`` runs on the whole text (not on windows around capitalized words: names in
lower case have none). Long texts are cut at line breaks into pieces of bounded size, identical
pieces are analysed once, and ``analyze_batch`` runs many texts through one ``nlp.pipe`` call.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from privacy.errors import RedactionError
from privacy.recognizers.base import tagged_result

__all__ = ["ENTITIES", "LearnedRecognizer", "available", "load_model", "model_path"]

ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "ADDRESS", "ZIP", "ORGANIZATION")
# Model label -> Bastion entity type, used when meta.json carries no "bastion.label_map".
_DEFAULT_LABELS = {
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "ORG": "ORGANIZATION",
    "ADDRESS": "ADDRESS",
    "ZIP": "ZIP",
}
_SCORE = 0.85
_TRIM = " \t\n\r.,;:!?'\"()[]{}<>"
_PIECE = 2000  # characters per piece handed to the model
# spaCy's vocabulary keeps every string it has seen (identifiers included) and grows without
# bound in a long-running process; the pipeline is reloaded from disk after this many pieces.
_REFRESH_AFTER = 20_000  # pieces

# ZIP codes and postcodes of the five locales (US, UK, CA, AU, IE Eircode): a ZIP the model
# finds must start with one of them (the rest of the span is cut off), or it is dropped.
_POSTCODE = re.compile(
    r"(?:\d{5}(?:-\d{4})?"
    r"|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
    r"|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
    r"|[A-Z](?:\d{2}|6W)[ \t]?[0-9A-Z]{4}"
    r"|\d{4})(?![\w-])",
    re.IGNORECASE,
)

_lock = threading.Lock()
_state: dict[str, Any] = {}


def model_path() -> Path:
    """Directory of the shipped pipeline (inside the installed package)."""
    return Path(str(resources.files("privacy").joinpath("models", "bastion_ner")))


def _load_from_disk() -> Any:
    import spacy

    from privacy.offline import configure_offline

    configure_offline()
    return spacy.load(model_path())


def load_model() -> Any:
    """The shipped pipeline, loaded once per process (thread-safe). Raises if it is missing."""
    with _lock:
        nlp = _state.get("nlp")
        if nlp is None:
            nlp = _load_from_disk()
            _state["nlp"] = nlp
            _state["pieces"] = 0
            meta = nlp.meta.get("bastion", {})
            _state["labels"] = dict(meta.get("label_map") or _DEFAULT_LABELS)
        return nlp


def available() -> bool:
    """True when the shipped weights are present and load."""
    if not (model_path() / "meta.json").is_file():
        return False
    try:
        load_model()
    except Exception:  # a broken or incompatible model means: not available
        return False
    return True


def _pieces(text: str) -> list[tuple[int, int]]:
    """(start, end) pieces of at most ``_PIECE`` characters, cut at line breaks or spaces."""
    out, start, n = [], 0, len(text)
    while n - start > _PIECE:
        cut = text.rfind("\n", start + _PIECE // 2, start + _PIECE)
        if cut == -1:
            cut = text.rfind(" ", start + _PIECE // 2, start + _PIECE)
        cut = cut + 1 if cut != -1 else start + _PIECE
        out.append((start, cut))
        start = cut
    if start < n:
        out.append((start, n))
    return out


def _validated_end(value: str, entity: str) -> int:
    """Length of ``value`` to keep (0: drop the span). A ZIP is cut to the postcode it starts
    with; an address line needs a digit; names, towns and organizations need a letter."""
    if len(value) < 2 or not any(ch.isalnum() for ch in value):
        return 0
    if entity == "ZIP":
        match = _POSTCODE.match(value)
        return match.end() if match else 0
    if entity == "ADDRESS" and not any(ch.isdigit() for ch in value):
        return 0  # a street line carries a house, flat or unit number
    if entity in ("PERSON", "LOCATION", "ORGANIZATION") and not any(ch.isalpha() for ch in value):
        return 0
    return len(value)


class LearnedRecognizer(EntityRecognizer):
    """Presidio recognizer around the shipped model; loads it on first use."""

    def __init__(self, supported_entities: Sequence[str] | None = None) -> None:
        super().__init__(
            supported_entities=list(supported_entities or ENTITIES),
            name="learned_ner",
            supported_language="en",
        )

    def load(self) -> None:
        """Nothing here: the model loads lazily, once per process (``load_model``)."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """Entities of ``text`` among ``entities`` (Presidio's per-text entry point)."""
        return self.analyze_batch([text], entities)[0]

    def analyze_batch(
        self,
        texts: Sequence[str],
        entities: Sequence[str] | None = None,
        batch_size: int = 32,
        deadline: float | None = None,
    ) -> list[list[RecognizerResult]]:
        """Entities of each text, the texts' pieces through ``nlp.pipe`` in batches.
        ``deadline`` (a ``time.monotonic()`` value): RedactionError once it has passed, checked
        between batches (fail closed)."""
        raw = self.raw_batch(texts, batch_size=batch_size, deadline=deadline)
        return self.results_from_raw(texts, raw, entities)

    def raw_batch(
        self, texts: Sequence[str], batch_size: int = 32, deadline: float | None = None
    ) -> list[list[tuple[str, int, int]]]:
        """Every entity the model finds in each text, all labels (the base model's ORG, FAC,
        PRODUCT ... too), as (label, start, end) in the text's coordinates. One pass: the
        analyzer reads both the learned spans and spaCy's entities from it."""
        where: dict[str, list[tuple[int, int]]] = {}
        for i, text in enumerate(texts):
            for start, end in _pieces(text):
                where.setdefault(text[start:end], []).append((i, start))
        raw: list[list[tuple[str, int, int]]] = [[] for _ in texts]
        if not where:
            return raw
        load_model()
        unique = list(where)
        found: list[list[tuple[str, int, int]]] = []
        with _lock:
            nlp = _state["nlp"]
            for b in range(0, len(unique), batch_size):
                if deadline is not None and time.monotonic() > deadline:
                    raise RedactionError("detection exceeded timeout_s in the learned detector")
                docs = nlp.pipe(unique[b : b + batch_size], batch_size=batch_size)
                found.extend([(e.label_, e.start_char, e.end_char) for e in d.ents] for d in docs)
            _state["pieces"] += len(unique)
            if _state["pieces"] >= _REFRESH_AFTER:
                _state["nlp"] = _load_from_disk()
                _state["pieces"] = 0
        for piece, ents in zip(unique, found, strict=True):
            for i, offset in where[piece]:
                raw[i].extend((label, start + offset, end + offset) for label, start, end in ents)
        return raw

    def results_from_raw(
        self,
        texts: Sequence[str],
        raw: Sequence[Sequence[tuple[str, int, int]]],
        entities: Sequence[str] | None = None,
    ) -> list[list[RecognizerResult]]:
        """The Bastion entities among ``raw`` (see ``raw_batch``), trimmed and shape-checked."""
        wanted = set(self.supported_entities) & set(entities or self.supported_entities)
        if raw and "labels" not in _state:
            load_model()
        labels = _state.get("labels", _DEFAULT_LABELS)
        results: list[list[RecognizerResult]] = [[] for _ in texts]
        for i, (text, ents) in enumerate(zip(texts, raw, strict=True)):
            seen: set[tuple[str, int, int]] = set()
            for label, start, end in ents:
                entity = labels.get(label)
                if entity is None or entity not in wanted:
                    continue
                while start < end and text[start] in _TRIM:
                    start += 1
                while end > start and text[end - 1] in _TRIM:
                    end -= 1
                if entity != "ADDRESS" and text[end - 2 : end] in ("'s", "\u2019s"):
                    end -= 2
                kept = _validated_end(text[start:end], entity)
                if not kept:
                    continue
                key = (entity, start, start + kept)
                if key not in seen:
                    seen.add(key)
                    results[i].append(self._result(*key))
            results[i].sort(key=lambda x: (x.start, x.end))
        return results

    def _result(self, entity: str, start: int, end: int) -> RecognizerResult:
        return tagged_result(self, entity, start, end, _SCORE)
