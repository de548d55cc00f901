"""Lines written all in lower or all in upper case, re-cased so that the patterns can read them.

Most patterns rely on capital letters to find names, streets, towns and organisations
("12 Harbour Road", "Mercy Hospital"). A chat typed in lower case or a form printed in capitals
has none. ``recased_blocks`` returns each run of such lines with every word title-cased except
function words ("ring deane at 0856..." -> "ring Deane at 0856..."); the copy has the same
length, so a match in it is a span of the original. The analyzer runs the pattern recognizers
on these copies too and adds what they find (union); person names found there must also pass
the lexicon check on the original words (``accept_recased_person``), since in a re-cased copy
every word looks like a name.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex

from privacy.recognizers.lexicon import LEXICON_WORDS
from privacy.recognizers.person_lexicon import name_lexicon

__all__ = ["accept_recased_person", "recase", "recased_blocks"]

_FUNCTION = frozenset(LEXICON_WORDS["function_words"].split())
_WORD = regex.compile(r"(?<![\p{L}\d])\p{L}[\p{L}'\u2019]*(?![\p{L}\d])")
_CAPS_WORD = r"\p{Lu}+(?:['\u2019-]\p{Lu}+)*"
_CAPS_RUN = regex.compile(
    rf"(?<![\p{{L}}\d])\p{{Lu}}{_CAPS_WORD}(?:[ \t,.]{{1,3}}{_CAPS_WORD})*(?![\p{{L}}\d])"
)
_LETTERS = regex.compile(r"\p{L}")
_LONG_WORD = regex.compile(r"\p{L}{3,}")


def _one_case(line: str) -> bool:
    if not _LONG_WORD.search(line):
        return False
    letters = "".join(_LETTERS.findall(line))
    return letters.islower() or letters.isupper()


def recase(text: str) -> str:
    """Title-case every word of ``text`` except function words; same length as ``text``."""
    out = list(text)
    for m in _WORD.finditer(text):
        word = m.group()
        lower = word.lower()
        cased = lower if lower in _FUNCTION else lower[:1].upper() + lower[1:]
        if len(cased) == len(word):
            out[m.start() : m.end()] = cased
    return "".join(out)


def _recase_caps_runs(line: str) -> str | None:
    """``line`` with its runs of capitals re-cased ("Patient: EMMA MONDUZZI"), or None when
    it has no run worth it (a word of 4+ capitals, or two capitalized words in a row)."""
    out = line
    changed = False
    for m in _CAPS_RUN.finditer(line):
        run = m.group()
        if len(run) < 4 and " " not in run:
            continue
        out = out[: m.start()] + recase(run) + out[m.end() :]
        changed = True
    return out if changed else None


def recased_blocks(text: str) -> Iterator[tuple[int, str]]:
    """(offset, re-cased copy) for each run of consecutive one-case lines of ``text``, and for
    each line with capitalized runs in mixed text ("Surname: GLENN")."""
    start = None
    pos = 0
    for line in text.splitlines(keepends=True):
        if _one_case(line):
            if start is None:
                start = pos
        else:
            if start is not None:
                yield start, recase(text[start:pos])
                start = None
            caps = _recase_caps_runs(line)
            if caps is not None:
                yield pos, caps
        pos += len(line)
    if start is not None:
        yield start, recase(text[start:pos])


def accept_recased_person(original: str) -> tuple[int, int] | None:
    """(start, end) within ``original`` of the longest leading run of its words that the lexicon
    accepts as a name (a known first name first or a known surname last), or None."""
    lex = name_lexicon()
    words = [(m.start(), m.end()) for m in _WORD.finditer(original)]
    for n in range(len(words), 0, -1):
        run = [original[a:b] for a, b in words[:n]]
        full = [w for w in run if len(w) > 1]  # initials ("T.") need no check
        if not full or not all(lex.is_name_like(w) for w in full):
            continue
        if lex.is_first(full[0], strict=True) or lex.is_surname(full[-1], strict=True):
            return words[0][0], words[n - 1][1]
    return None
