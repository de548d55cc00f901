"""Scoring a detector against an evaluation family.

Rules (the same for every system scored):

- Detected spans are first merged: overlapping spans become one (as redaction does); the merged
  span takes the type of its longest member.
- **Recall** (type-agnostic): a gold identifier is *found* when the detected spans, of any type,
  cover every one of its letters and digits. Spaces and punctuation inside it (the comma in
  "Lindqvist, Marguerite", the brackets of "(0131) 496 0979") may stay: they reveal nothing.
  A partial hit is a miss, because the rest of the value reaches the model. The type does not
  matter: a value hidden as [LOCATION_1] instead of [ADDRESS_1] is hidden all the same.
  Per-type recall is by gold type.
- **Precision**: a merged detected span is a true positive when it overlaps at least one gold
  identifier, and a false positive when it overlaps none (a state name, a drug, a lab value, a
  time). Per-type precision is by the detected (merged) type.
- **Leak rate**: the share of gold identifiers whose value still appears verbatim in the
  redacted text of the same document, bounded by non-alphanumerics on both sides ("0424" does
  not leak through "10424"). Per-type leak rate is by gold type.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from privacy.eval import Example

__all__ = ["Detection", "FamilyScore", "covered", "leaks", "merge", "redact", "score"]

Detection = tuple[int, int, str]  # (start, end, type)


def merge(spans: Iterable[Detection]) -> list[Detection]:
    """Union of overlapping spans; each merged span takes its longest member's type."""
    ordered = sorted(spans, key=lambda s: (s[0], -s[1]))
    out: list[Detection] = []
    group: list[Detection] = []
    end = -1
    for span in ordered:
        if group and span[0] < end:
            group.append(span)
            end = max(end, span[1])
            continue
        if group:
            out.append(_combine(group, end))
        group, end = [span], span[1]
    if group:
        out.append(_combine(group, end))
    return out


def _combine(group: list[Detection], end: int) -> Detection:
    longest = max(group, key=lambda s: s[1] - s[0])
    return (group[0][0], end, longest[2])


def covered(text: str, start: int, end: int, mask: bytearray) -> bool:
    """Whether every letter and digit of ``text[start:end]`` is set in ``mask``."""
    return all(mask[i] for i in range(start, end) if text[i].isalnum())


def leaks(value: str, redacted: str) -> bool:
    """Whether ``value`` appears verbatim in ``redacted``, not inside a longer alphanumeric run."""
    if not value.strip():
        return False
    pattern = r"(?<![0-9A-Za-z])" + re.escape(value) + r"(?![0-9A-Za-z])"
    return re.search(pattern, redacted) is not None


def redact(text: str, detections: Sequence[Detection]) -> str:
    """``text`` with each merged detected span replaced by ``<TYPE>`` (for systems that only
    return spans, e.g. vanilla Presidio)."""
    out = []
    pos = 0
    for start, end, kind in merge(detections):
        out.append(text[pos:start])
        out.append(f"<{kind}>")
        pos = end
    out.append(text[pos:])
    return "".join(out)


@dataclass
class FamilyScore:
    """Counts per entity type; the ratios are computed from them."""

    gold: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    leaked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    predicted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    true_pos: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    misses: list[tuple[str, str]] = field(default_factory=list)  # (type, context)
    false_positives: list[tuple[str, str]] = field(default_factory=list)

    def _ratio(self, num: dict[str, int], den: dict[str, int], kind: str | None, empty: float):
        keys = [kind] if kind else list(den)
        total = sum(den.get(k, 0) for k in keys)
        return sum(num.get(k, 0) for k in keys) / total if total else empty

    def recall(self, kind: str | None = None) -> float:
        return self._ratio(self.found, self.gold, kind, 1.0)

    def precision(self, kind: str | None = None) -> float:
        return self._ratio(self.true_pos, self.predicted, kind, 1.0)

    def leak_rate(self, kind: str | None = None) -> float:
        return self._ratio(self.leaked, self.gold, kind, 0.0)

    @property
    def n_gold(self) -> int:
        return sum(self.gold.values())


def score(
    examples: Sequence[Example],
    detections: Sequence[Sequence[Detection]],
    redacted: Sequence[str] | None = None,
    *,
    context: int = 30,
) -> FamilyScore:
    """Score ``detections[i]`` (spans found in ``examples[i].text``) and, when given, the
    redacted texts; otherwise the redacted text is ``redact(text, detections[i])``."""
    if len(examples) != len(detections):
        raise ValueError("examples and detections differ in length")
    out = FamilyScore()
    for i, (ex, found) in enumerate(zip(examples, detections, strict=True)):
        text = ex.text
        merged = merge(found)
        mask = bytearray(len(text))
        for start, end, _ in merged:
            mask[start:end] = b"\x01" * (end - start)
        red = redacted[i] if redacted is not None else redact(text, merged)
        for g in ex.spans:
            out.gold[g.type] += 1
            if covered(text, g.start, g.end, mask):
                out.found[g.type] += 1
            else:
                lo, hi = max(0, g.start - context), min(len(text), g.end + context // 3)
                out.misses.append(
                    (g.type, f"{text[lo : g.start]}[[{text[g.start : g.end]}]]{text[g.end : hi]}")
                )
            if leaks(text[g.start : g.end], red):
                out.leaked[g.type] += 1
        for start, end, kind in merged:
            out.predicted[kind] += 1
            if any(start < g.end and g.start < end for g in ex.spans):
                out.true_pos[kind] += 1
            else:
                lo, hi = max(0, start - context), min(len(text), end + context // 3)
                out.false_positives.append(
                    (kind, f"{text[lo:start]}[[{text[start:end]}]]{text[end:hi]}")
                )
    return out
