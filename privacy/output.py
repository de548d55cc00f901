"""Redaction of identifiers the model produced itself (whole answers and streams).

A model can write identifiers that were not in the request: it invents them or recalls them from
its training data. ``OutputScanner`` replaces them with typed markers that are never restored,
``[PERSON_REDACTED]``: no number, so ``PLACEHOLDER_RE`` (which needs one) never matches a marker
and no marker can collide with the request's ``[PERSON_1]``. The scanner sees the answer *before*
placeholder restore: the request's placeholders pass through untouched (spans overlapping them
are trimmed) and the restorer after it restores them exactly. A detected value equal to one of
the request's own values is written as that request's placeholder, so the caller still gets it.

How the text is cut (all decisions depend on the text only, never on how it was chunked):

- Words are runs of non-space characters; a word is complete once whitespace follows it (or the
  stream ends). A word is *suspect* when it could be part of an identifier: it has a digit, an
  upper-case letter, ``@``, an inner ``.``, ``/``, ``:`` or ``#``, or it is one of a few lower-case
  words found inside identifiers (number words, street words, name particles, months, ``at``,
  ``dot``). A capitalized word that starts a sentence is not suspect when it is a function word
  ("Sure", "The") or an English word that is no known name ("Patients", "Regular"; the request
  path's name lexicon decides); ``I`` and a list marker that starts a line ("1.") are not
  suspect either. Every other word is *inert*.
- Inert words outside a block are emitted at once, without detection.
- A suspect word opens a *block*. The block closes after ``close_words`` inert words in a row
  (one when the block is a single capitalized word that starts a sentence: "High blood …"),
  at a newline, or when it exceeds ``max_hold_chars``. A block of 16 words or more (a run of
  numbers) releases all but its last 8 words (cut before any span reaching into them), and
  again every 8 words. Then ``detect`` runs once on a window:
  up to ``context_chars`` of already-emitted text (cue words such as "MRN", never re-emitted)
  plus the block and the inert words after it. Every span in the unsent part is replaced. A
  span that reaches into the last word of the window (so the identifier may go on) keeps the
  block open instead, except at a newline or at the size bound.
- A value redacted once is redacted wherever it occurs later in the answer (person names by
  capitalized part too), as the request path does.

Invariant: streamed output (any chunking) equals the whole-answer output: the concatenation of
``feed(d1) … feed(dn) + flush()`` equals ``redact_whole(d1 + … + dn)``. Nothing of a span that
the whole-answer scan replaces is ever returned by ``feed``. What is held back at any time is the
trailing incomplete word and, while a block is open, the block and the inert words after it.

Limits (by design): an identifier that starts with inert words (a lower-case name not in the
lists above, "name at domain dot org") can have those words sent before the detector sees the
rest; the part after them is still replaced. ``feed`` and ``flush`` raise ``RedactionError``
when detection fails, so the stream fails closed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from privacy.pseudonymize import PLACEHOLDER_FORMAT, PLACEHOLDER_RE, Span

if TYPE_CHECKING:
    from privacy.redactor import RedactionResult, Redactor

__all__ = ["REDACTED_FORMAT", "REDACTED_RE", "OutputScanner", "RedactorDetector", "scanner_for"]

Detect = Callable[[str], list[Span]]

REDACTED_FORMAT = "[{}_REDACTED]"
"""How an identifier the model produced is written: ``[PERSON_REDACTED]``. Never restored."""
REDACTED_RE = re.compile(r"\[[A-Z][A-Z_]{0,40}_REDACTED\]")

_WORD_OR_NEWLINE = re.compile(r"\n|[^\s]+")
_EDGE = "\"'()[]{}<>,.;:!?*_`~\u201c\u201d\u2018\u2019\u00ab\u00bb-\u2013\u2014|="
_INNER_MARK = re.compile(r"[@#/:\\]|\w\.\w")
_CONTRACTION = re.compile(r"(?:['\u2019](?:s|re|m|ll|ve|d|t)|n['\u2019]t)$")
_SEP = re.compile(r"[\s_-]+")
_NAME_PART = re.compile(r"[A-Z][\w'\u2019-]{2,}")
_KEEP = 8  # a block of 16 or more words releases all but its last 8 (then every 8 words)
_LIST_MARKER = re.compile(r"\d{1,2}[.)]")  # "1." or "2)" at the start of a line

# Lower-case words that occur inside identifiers (spelled numbers, addresses, names, dates,
# spelled-out e-mail addresses). Everything else that is lower case is inert.
_SUSPECT_TEXT = """
    zero oh one two three four five six seven eight nine ten eleven twelve double triple
    hundred thousand at dot
    street st road rd avenue ave lane ln drive dr boulevard blvd court ct place pl square sq
    terrace close crescent hill way flat apt apartment suite ste unit box po floor fl
    van von der den de del della da di la le du dos das bin ibn al el ben mac
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec"""
_SUSPECT_WORDS = frozenset(_SUSPECT_TEXT.split())

# Capitalized, these are inert at the start of a sentence ("Sure, here is …"). Function words
# and answer openers only; no word that is also a given name (Will, May, Mark, Grace, …).
_OPENERS_TEXT = """
    a an the this that these those there here it its it's i we you they he she his her their
    our your my me us them what which who whom whose when where why how if then so and but or
    nor yet also as for of in on to by with from into about after before during while since
    until unless although though because yes no not none sure certainly absolutely of course
    hello hi hey dear thanks thank please note okay ok great good sorry unfortunately however
    below above following based in to be is are was were do does did can could should would
    must might let all any each every some many most more other another such one's both either
    neither first next finally additionally furthermore moreover instead otherwise overall
    remember keep make write use try consider always never often sometimes just only even
    well now today yesterday tomorrow once again still"""
_OPENERS = frozenset(_OPENERS_TEXT.split())


def _core(word: str) -> str:
    return word.strip(_EDGE)


def _is_suspect(word: str, sentence_start: bool) -> bool:
    """Could ``word`` be (part of) an identifier? Cheap and conservative; see the module doc."""
    core = _core(word)
    if not core:
        return "@" in word
    if any(ch.isdigit() for ch in core) or _INNER_MARK.search(core):
        return True
    if core == "I" or _CONTRACTION.sub("", core) == "I":
        return False
    if any(ch.isupper() for ch in core):
        if not sentence_start or not core[0].isupper() or any(c.isupper() for c in core[1:]):
            return True
        bare = _CONTRACTION.sub("", core)
        if bare.lower() in _OPENERS:
            return False
        return bare.lower() in _SUSPECT_WORDS or not bare.isalpha() or _could_be_name(bare)
    return core.lower() in _SUSPECT_WORDS


@lru_cache(maxsize=4096)
def _could_be_name(word: str) -> bool:
    """A capitalized word that opens a sentence is inert when it is an English word that is no
    known name ("Patients", "Regular"); a known name ("Will", "Rose") or a word that is not
    English ("Okafor") stays suspect. Same lexicon as the request path's one-word names."""
    from privacy.recognizers.person_lexicon import plausible_single_name

    return plausible_single_name(word)


def _value_key(value: str) -> str:
    """Same normalization as the request path's pseudonymizer (one value, one placeholder)."""
    if any(ch.isdigit() for ch in value):
        return re.sub(r"[\s.\-()/]", "", value).casefold()
    return " ".join(value.split()).casefold()


def _placeholder_key(match: re.Match[str]) -> str:
    for t, n in (("t1", "n1"), ("t3", "n3"), ("t2", "n2")):
        if match.group(t) is not None:
            return f"{_SEP.sub('_', match.group(t).strip()).upper()}_{int(match.group(n))}"
    return ""  # pragma: no cover - the regex always sets one pair


class OutputScanner:
    """Scans one answer (streamed or whole) for identifiers the request did not contain.

    ``detect(text)`` returns the identifier spans of ``text`` (sorted, non-overlapping; the
    same detector as the request path). ``known_placeholders`` are the request's placeholder
    names (``PERSON_1``); ``request_values`` maps them to their values. ``counts`` is the number
    of replaced identifiers by entity type. One scanner per answer.
    """

    def __init__(
        self,
        detect: Detect,
        known_placeholders: Iterable[str] = (),
        request_values: Mapping[str, str] | None = None,
        *,
        context_chars: int = 96,
        close_words: int = 2,
        max_hold_chars: int = 1024,
    ) -> None:
        self._detect = detect
        self._known = frozenset(known_placeholders) | frozenset(request_values or ())
        self._by_value = {_value_key(v): k for k, v in (request_values or {}).items()}
        self._context = context_chars
        self._close = close_words
        self._max_hold = max_hold_chars
        self.counts: Counter[str] = Counter()
        self.detections = 0  # detector calls (for benchmarks)
        self._src = ""  # the whole input so far (context for detection, never re-emitted)
        self._pos = 0  # output is final for src[:pos]
        self._scan = 0  # words before this index are classified
        self._block: int | None = None  # start of the open block
        self._inert = 0  # complete inert words since the block's last suspect word
        self._starts: list[int] = []  # where the open block's complete words start
        self._last_word = 0  # start of the last complete word
        self._sentence_start = True
        self._line_start = True
        self._short = False  # the block is one capitalized word that starts a sentence
        self._remembered: dict[str, str] = {}  # redacted value -> entity type
        self._memory_re: re.Pattern[str] | None = None
        self._used = False

    @property
    def degraded(self) -> bool:
        """True when the detector fell back to patterns only for some window."""
        return bool(getattr(self._detect, "degraded", False))

    # -- public API --------------------------------------------------------------------------
    def feed(self, delta: str) -> str:
        """Take the next delta; return the text that is final and safe to send now."""
        self._used = True
        self._src += delta
        return self._advance(final=False)

    def flush(self) -> str:
        """End of the answer: return everything still held, redacted."""
        self._used = True
        return self._advance(final=True)

    def redact_whole(self, text: str) -> str:
        """The whole-answer output (equal to any chunked ``feed`` + ``flush``)."""
        if self._used:
            raise RuntimeError("an OutputScanner scans one answer; make a new one")
        return self.feed(text) + self.flush()

    # -- the state machine ---------------------------------------------------------------------
    def _advance(self, final: bool) -> str:
        out: list[str] = []
        src = self._src
        for match in _WORD_OR_NEWLINE.finditer(src, self._scan):
            start, end = match.span()
            if match.group() == "\n":
                self._scan = end
                self._sentence_start = self._line_start = True
                if self._block is not None:
                    out.append(self._close_block(start, hard=True))
                continue
            if end == len(src) and not final:
                break  # the word may go on in the next delta
            self._scan = end
            word = match.group()
            if self._line_start and _LIST_MARKER.fullmatch(word):
                suspect = False
            else:
                suspect = _is_suspect(word, self._sentence_start)
            capitalized = self._sentence_start and word.isalpha() and word.istitle()
            if _core(word):
                self._sentence_start = word.rstrip("\"')\u201d\u2019*_")[-1:] in ".!?:"
            self._line_start = False
            self._last_word = start
            if self._block is None:
                if not suspect:
                    out.append(src[self._pos : end])
                    self._pos = end
                    continue
                out.append(src[self._pos : start])
                self._pos = self._block = start
                self._inert = 0
                self._short = capitalized
                self._starts = []
            elif suspect:
                self._inert = 0
                self._short = False
            else:
                self._inert += 1
            self._starts.append(start)
            if end - self._block > self._max_hold:
                out.append(self._close_block(end, hard=True))
            elif self._inert >= (1 if self._short else self._close):
                out.append(self._close_block(end, hard=False))
            elif len(self._starts) >= 2 * _KEEP and len(self._starts) % _KEEP == 0:
                # A long run ("6, 7, 8, 9, …"): release all but its last words.
                out.append(self._close_block(end, hard=False, keep_from=self._starts[-_KEEP]))
        if final:
            if self._block is not None:
                out.append(self._close_block(len(src), hard=True))
            out.append(src[self._pos :])
            self._pos = self._scan = len(src)
        return "".join(out)

    def _close_block(self, window_end: int, hard: bool, keep_from: int | None = None) -> str:
        """Detect on the window ending at ``window_end``; emit the block or keep it open.
        With ``keep_from``, emit only the part before it (and before any span reaching past
        it) and keep the rest of the block open."""
        assert self._block is not None
        block, src = self._block, self._src
        ctx = max(0, block - self._context)
        if ctx > 0:
            ws = re.search(r"\s", src[ctx:block])
            ctx = ctx + ws.end() if ws else ctx
        window = src[ctx:window_end]
        self.detections += 1
        found = [
            Span(s.entity_type, s.start + ctx, s.end + ctx, s.score) for s in self._detect(window)
        ]
        protected = self._protected(window, ctx)
        spans = _merge(p for s in found for p in _cut(src, s, block, window_end, protected))
        if keep_from is not None:
            for span in spans:
                if span.end > keep_from:
                    keep_from = min(keep_from, span.start)
            if keep_from <= block:
                return ""
            window_end = keep_from
            spans = [span for span in spans if span.end <= keep_from]
        elif not hard and any(s.end > self._last_word for s in spans):
            self._inert = 0  # the identifier may go on: keep holding
            self._short = False
            return ""
        for span in spans:
            value = src[span.start : span.end]
            if _value_key(value) not in self._by_value:
                self._remember(value, span.entity_type)
        recalled = self._recall(block, window_end)
        if recalled:
            spans = _merge(
                p for s in spans + recalled for p in _cut(src, s, block, window_end, protected)
            )
        out: list[str] = []
        pos = block
        for span in spans:
            out.append(src[pos : span.start])
            out.append(self._replacement(span, src[span.start : span.end]))
            pos = span.end
        out.append(src[pos:window_end])
        self._pos = window_end
        if keep_from is not None:  # the block goes on from here
            self._block = window_end
            self._starts = [start for start in self._starts if start >= window_end]
        else:
            self._block = None
            self._inert = 0
        return "".join(out)

    def _replacement(self, span: Span, value: str) -> str:
        own = self._by_value.get(_value_key(value))
        if own is not None:  # the caller's own identifier: its placeholder, restored later
            return PLACEHOLDER_FORMAT.format(own)
        self.counts[span.entity_type] += 1
        return REDACTED_FORMAT.format(span.entity_type)

    def _remember(self, value: str, entity_type: str) -> None:
        added = False
        candidates = [value] if len(value.strip()) >= 3 else []
        if entity_type == "PERSON":
            candidates += _NAME_PART.findall(value)
        for candidate in candidates:
            if candidate not in self._remembered:
                self._remembered[candidate] = entity_type
                added = True
        if added:
            ordered = sorted(self._remembered, key=len, reverse=True)[:500]
            alternation = "|".join(map(re.escape, ordered))
            self._memory_re = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")

    def _recall(self, start: int, end: int) -> list[Span]:
        """Spans of values already redacted earlier in this answer."""
        if self._memory_re is None:
            return []
        return [
            Span(self._remembered[m.group()], m.start(), m.end(), 1.0)
            for m in self._memory_re.finditer(self._src, start, end)
        ]

    def _protected(self, window: str, offset: int) -> list[tuple[int, int]]:
        """The request's placeholders and earlier markers in the window (absolute offsets)."""
        zones = [
            (m.start() + offset, m.end() + offset)
            for m in PLACEHOLDER_RE.finditer(window)
            if _placeholder_key(m) in self._known
        ]
        zones += [(m.start() + offset, m.end() + offset) for m in REDACTED_RE.finditer(window)]
        return zones


def _cut(src: str, span: Span, lo: int, hi: int, protected: list[tuple[int, int]]) -> list[Span]:
    """``span`` clipped to the unsent part [lo, hi), minus protected zones, trimmed."""
    pieces = [(max(span.start, lo), min(span.end, hi))]
    for a, b in protected:
        nxt = []
        for s, e in pieces:
            if e <= a or b <= s:
                nxt.append((s, e))
                continue
            if s < a:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        pieces = nxt
    out = []
    for s, e in pieces:
        while s < e and (src[s].isspace() or src[s] in ",;:"):
            s += 1
        while e > s and (src[e - 1].isspace() or src[e - 1] in ",;:"):
            e -= 1
        if s < e and any(ch.isalnum() for ch in src[s:e]):
            out.append(Span(span.entity_type, s, e, span.score))
    return out


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Union of overlapping spans; the merged span takes the type of its longest member."""
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    for span in ordered:
        if out and span.start < out[-1].end:
            last = out[-1]
            best = max((last, span), key=lambda s: (s.end - s.start, s.score))
            out[-1] = Span(best.entity_type, last.start, max(last.end, span.end), best.score)
        else:
            out.append(span)
    return out


class RedactorDetector:
    """``detect`` for a tenant: the request path's Redactor on one window (same recognizers,
    allow-list, threshold and fail-closed rule). ``degraded`` turns true when a window was
    analysed with patterns only (a fail-open tenant whose NER failed)."""

    def __init__(self, redactor: Redactor, tenant: str) -> None:
        self._redactor = redactor
        self._tenant = tenant
        self.degraded = False

    def __call__(self, text: str) -> list[Span]:
        result = self._redactor.redact_messages([text], self._tenant)
        self.degraded = self.degraded or result.degraded
        return list(result.spans[0])


def scanner_for(
    redactor: Redactor, tenant: str, redaction: RedactionResult | None = None
) -> OutputScanner | None:
    """The output scanner for one answer of ``tenant``, or None when the tenant turned
    ``output_redaction`` off. ``redaction`` is the request's result: its placeholders pass
    through and its own values are kept (as placeholders)."""
    if not getattr(redactor.config.for_tenant(tenant), "output_redaction", True):
        return None
    mapping: dict[str, str] = dict(redaction._mapping) if redaction is not None else {}
    return OutputScanner(RedactorDetector(redactor, tenant), mapping, mapping)
