"""Bastion's pattern recognizer: Presidio's PatternRecognizer with bounded matching.

Differences from Presidio's own class, each on purpose:
- a pattern MAY mark the identifier with a named group ``v`` so that the cue words around it
  ("MRN:", "Dr.") anchor the match without being redacted;
- a regex that runs past its deadline raises RedactionError (Presidio logs and skips it, which
  would let identifiers through: fail open);
- validators come from a named registry, so YAML declarations stay data;
- trailing punctuation can be trimmed from a match (URLs at the end of a sentence).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from pydantic import BaseModel, ConfigDict, Field

from privacy.errors import RedactionError

__all__ = ["BoundedPatternRecognizer", "PatternSpec", "RecognizerSpec", "tagged_result"]

_TRAIL = ".,;:!?)]}'\""


def tagged_result(
    recognizer: EntityRecognizer,
    entity: str,
    start: int,
    end: int,
    score: float,
    **metadata: str,
) -> RecognizerResult:
    """A finding of ``recognizer``, with its name and id in the metadata (what the redactor's
    per-recognizer counts read), plus ``metadata`` (a pattern's name)."""
    return RecognizerResult(
        entity,
        start,
        end,
        score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
            **metadata,
        },
    )


class PatternSpec(BaseModel):
    """One regular expression of a recognizer."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Pattern name (for explanations and tests).")
    regex: str = Field(description="Regular expression (Python `regex` syntax); group `v` = value.")
    score: float = Field(ge=0.0, le=1.0, description="Score of a match before validation.")


class RecognizerSpec(BaseModel):
    """A pattern recognizer declared in patterns.yaml."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique recognizer name.")
    entity: str = Field(description="Entity type it emits (see privacy.entities).")
    patterns: list[PatternSpec] = Field(min_length=1, description="Its regular expressions.")
    validator: str | None = Field(default=None, description="Validator name (validators.py).")
    ignore_case: bool = Field(default=False, description="Match the whole pattern case-blind.")
    trim_trailing: bool = Field(default=False, description="Strip trailing punctuation.")
    veto_labels: list[str] = Field(
        default_factory=list,
        description="Drop a match that overlaps a spaCy entity with one of these labels.",
    )
    anchor: str | None = Field(
        default=None,
        description="A cheap regex every match must be near (a postcode, an organisation "
        "suffix): the patterns then run only on windows around its matches. A speed-up only; "
        "a match longer than the window on either side of its anchor is not found.",
    )
    window: int = Field(default=160, ge=16, le=2000, description="Window on each side.")
    recase: bool = Field(
        default=False,
        description="Also run on re-cased copies of all-lower / all-upper lines (patterns "
        "that need capital letters: names, streets, towns, organisations).",
    )


class BoundedPatternRecognizer(PatternRecognizer):
    """A PatternRecognizer whose regexes run under a deadline and fail closed."""

    def __init__(
        self,
        spec: RecognizerSpec,
        validator: Callable[[str], bool | None] | None,
        timeout_s: float,
    ) -> None:
        super().__init__(
            supported_entity=spec.entity,
            name=spec.name,
            patterns=[Pattern(p.name, p.regex, p.score) for p in spec.patterns],
            global_regex_flags=regex.MULTILINE | (regex.IGNORECASE if spec.ignore_case else 0),
        )
        self._validator = validator
        self._trim = spec.trim_trailing
        self._veto = frozenset(spec.veto_labels)
        self.timeout_s = timeout_s
        flags = self.global_regex_flags | regex.VERSION0
        self._compiled = [(p, regex.compile(p.regex, flags)) for p in self.patterns]
        self._has_group = [("v" in c.groupindex) for _, c in self._compiled]
        self._anchor = regex.compile(spec.anchor, flags) if spec.anchor else None
        self._window = spec.window
        self.recase = spec.recase

    def _ranges(self, text: str) -> list[tuple[int, int]]:
        """Where the patterns run: the whole text, or merged windows around the anchors."""
        if self._anchor is None:
            return [(0, len(text))]
        ranges: list[list[int]] = []
        for m in self._anchor.finditer(text, timeout=self.timeout_s):
            start, end = max(0, m.start() - self._window), min(len(text), m.end() + self._window)
            if ranges and start <= ranges[-1][1]:
                ranges[-1][1] = max(ranges[-1][1], end)
            else:
                ranges.append([start, end])
        return [(a, b) for a, b in ranges]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: Any = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Return one result per validated match; raise RedactionError on a regex timeout."""
        results: list[RecognizerResult] = []
        vetoes = (
            [(e.start_char, e.end_char) for e in nlp_artifacts.entities if e.label_ in self._veto]
            if self._veto and nlp_artifacts is not None
            else []
        )
        try:
            ranges = self._ranges(text)
        except TimeoutError as exc:
            raise RedactionError(f"anchor of {self.name} exceeded {self.timeout_s}s") from exc
        seen: set[tuple[int, int, str]] = set()
        for (pattern, compiled), grouped in zip(self._compiled, self._has_group, strict=True):
            try:
                matches = (
                    m
                    for lo, hi in ranges
                    for m in compiled.finditer(text, lo, hi, timeout=self.timeout_s)
                )
                for match in matches:
                    start, end = match.span("v") if grouped else match.span()
                    if (start, end, pattern.name) in seen:
                        continue
                    seen.add((start, end, pattern.name))
                    if start < 0:
                        continue
                    if self._trim:
                        while end > start and text[end - 1] in _TRAIL:
                            end -= 1
                    if end <= start or any(a < end and start < b for a, b in vetoes):
                        continue
                    score = pattern.score
                    if self._validator is not None:
                        verdict = self._validator(text[start:end])
                        if verdict is False:
                            continue
                        if verdict is True:
                            score = EntityRecognizer.MAX_SCORE
                    results.append(
                        tagged_result(
                            self,
                            self.supported_entities[0],
                            start,
                            end,
                            score,
                            pattern=pattern.name,
                        )
                    )
            except TimeoutError as exc:
                raise RedactionError(
                    f"pattern {self.name}/{pattern.name} exceeded {self.timeout_s}s"
                ) from exc
        return results
