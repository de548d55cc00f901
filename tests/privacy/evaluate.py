"""Scoring detections against corpus labels (shared by tests and bench/privacy.py).

- A gold identifier is *recalled* when the predicted spans (any type) cover every one of its
  non-space characters: a partial hit leaves part of the identifier in the prompt.
- A predicted span is a *true positive* when it overlaps a gold identifier.
- Per-entity recall is by gold type; per-entity precision by predicted type.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["Scores", "score"]


@dataclass
class Scores:
    recall_hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    recall_total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    typed_hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pred_tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pred_total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    misses: list[tuple[str, str]] = field(default_factory=list)  # (type, context) for debugging
    false_positives: list[tuple[str, str]] = field(default_factory=list)

    def recall(self, entity: str | None = None) -> float:
        keys = [entity] if entity else list(self.recall_total)
        total = sum(self.recall_total[k] for k in keys)
        return sum(self.recall_hits[k] for k in keys) / total if total else 1.0

    def precision(self, entity: str | None = None) -> float:
        keys = [entity] if entity else list(self.pred_total)
        total = sum(self.pred_total[k] for k in keys)
        return sum(self.pred_tp[k] for k in keys) / total if total else 1.0

    def f2(self) -> float:
        p, r = self.precision(), self.recall()
        return 5 * p * r / (4 * p + r) if p + r else 0.0


def score(docs: list, predictions: list[list[tuple[str, int, int]]], type_map=None) -> Scores:
    """``predictions[i]`` = [(type, start, end), ...] for ``docs[i]``."""
    out = Scores()
    for doc, preds in zip(docs, predictions, strict=True):
        text = doc.text
        covered = bytearray(len(text))
        for _, s, e in preds:
            covered[s:e] = b"\x01" * (e - s)
        for g in doc.gold:
            out.recall_total[g.entity_type] += 1
            chars = [i for i in range(g.start, g.end) if not text[i].isspace()]
            if all(covered[i] for i in chars):
                out.recall_hits[g.entity_type] += 1
                if any(
                    (type_map or {}).get(t, t) == g.entity_type and s < g.end and g.start < e
                    for t, s, e in preds
                ):
                    out.typed_hits[g.entity_type] += 1
            else:
                lo, hi = max(0, g.start - 30), min(len(text), g.end + 10)
                out.misses.append((g.entity_type, text[lo:hi]))
        for t, s, e in preds:
            t = (type_map or {}).get(t, t)
            out.pred_total[t] += 1
            if any(s < g.end and g.start < e for g in doc.gold):
                out.pred_tp[t] += 1
            else:
                lo, hi = max(0, s - 30), min(len(text), e + 10)
                out.false_positives.append((t, f"{text[lo:s]}[[{text[s:e]}]]{text[e:hi]}"))
    return out
