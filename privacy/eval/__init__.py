"""Independent evaluation families for identifier detection (read-only reporting data).

Each family is written by its own generator module (templates, cue phrases, name and place
lists, value formats of its own) and frozen as ``data/<family>.jsonl``. The recognizers and the
learned detector MUST NOT be tuned against these files; they only report (bench/privacy.py and
the floor test). See README.md in this folder for provenance, licence and labelling rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATA_DIR", "FAMILIES", "LOCALES", "Example", "GoldSpan", "load_family"]

FAMILIES: tuple[str, ...] = ("narrative", "dialogue", "semistructured", "email")
LOCALES: tuple[str, ...] = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE")
DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class GoldSpan:
    """A labelled identifier: ``text[start:end]`` is its value, ``type`` its entity type."""

    start: int
    end: int
    type: str


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text of a family."""

    id: str
    locale: str
    text: str
    spans: tuple[GoldSpan, ...]


def load_family(name: str) -> list[Example]:
    """The frozen texts of family ``name`` (one of FAMILIES), in file order."""
    if name not in FAMILIES:
        raise ValueError(f"unknown evaluation family {name!r}; expected one of {FAMILIES}")
    out = []
    with (DATA_DIR / f"{name}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            spans = tuple(GoldSpan(s["start"], s["end"], s["type"]) for s in rec["spans"])
            out.append(Example(rec["id"], rec["locale"], rec["text"], spans))
    return out
