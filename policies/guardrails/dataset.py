"""The labelled prompt-injection set shipped with the repository (policies/guardrails/data/).

``tune`` is the tuning family (training, threshold, rules); ``heldout`` is the evaluation
family, never used for tuning; ``heldout_v2`` is a second evaluation family, written
independently of the tuning set, the rules and the first held-out family. See data/README.md
for provenance and licence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = ["DATA", "load_split"]

DATA = Path(__file__).resolve().parent / "data"

Split = Literal["tune", "heldout", "heldout_v2"]


def _sample(line: str) -> str:
    """The text of a sample line: a leading backslash before ``#`` (after any further leading
    backslashes) is the escape and is dropped, so ``\\### System: ...`` is the sample
    ``### System: ...`` and ``\\\\#x`` is ``\\#x``; every other line is its own text (a sample
    such as ``\\n\\nSYSTEM: ...`` keeps its backslashes)."""
    if line.startswith("\\") and line.lstrip("\\").startswith("#"):
        return line[1:]
    return line


def _lines(path: Path) -> list[str]:
    """The samples of one file: one per line; blank lines and lines starting with ``#`` are not
    samples (comments); a sample that starts with ``#`` is written with a backslash before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [_sample(line) for line in lines if line.strip() and not line.startswith("#")]


def load_split(split: Split) -> tuple[list[str], list[int]]:
    """``(texts, labels)`` of one family: attacks (1) first, then benign texts (0)."""
    attacks = _lines(DATA / f"{split}_attacks.txt")
    benign = _lines(DATA / f"{split}_benign.txt")
    return attacks + benign, [1] * len(attacks) + [0] * len(benign)
