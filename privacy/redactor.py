"""The Redactor: detect identifiers in a request's messages and pseudonymize them.

Synchronous and CPU-bound; safe to call from several threads (the gateway runs it in a thread
pool). ``redact_batch`` runs spaCy once over the messages of several concurrent requests
(``nlp.pipe``), which is how batching across requests pays off.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from privacy.config import EffectivePrivacyConfig, Operator, PrivacyConfig, resolve_salt
from privacy.entities import data_classes_for
from privacy.errors import RedactionError
from privacy.pseudonymize import Pseudonymizer, Span, StreamRestorer, restore_text
from privacy.recognizers.lexicon import NAME_STOP

__all__ = ["RedactionResult", "Redactor"]

logger = logging.getLogger("bastion.privacy")

_OVERLAP = 200
_WARMUP_TEXT = (
    "Pt John Smith, MRN 4829113, DOB 03/14/1961, seen by Dr. Ana Ruiz in Boston, MA 02115."
)


@dataclass(eq=False)
class RedactionResult:
    """The redacted messages of one request and what is needed to restore the answer.

    ``texts`` are in the input order. Counts are by entity type; no value appears anywhere
    but in the private mapping, which ``repr`` does not show.
    """

    texts: list[str]
    entity_counts: dict[str, int]
    data_classes: frozenset[str]
    spans: list[list[Span]] = field(repr=False)
    degraded: bool = False
    _mapping: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def count(self) -> int:
        """Number of identifiers replaced (occurrences)."""
        return sum(self.entity_counts.values())

    def restore(self, text: str) -> str:
        """Replace this request's placeholders in ``text`` with the original values."""
        return restore_text(text, self._mapping)

    def stream_restorer(self) -> StreamRestorer:
        """A restorer for a streamed answer (see StreamRestorer.feed / flush)."""
        return StreamRestorer(self._mapping)


@dataclass
class _Chunk:
    request: int
    message: int
    offset: int
    text: str


def _chunks(text: str, size: int) -> list[tuple[int, str]]:
    """Split ``text`` into pieces of about ``size`` chars at whitespace, overlapping by _OVERLAP."""
    if len(text) <= size:
        return [(0, text)]
    out = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max(
                text.rfind(" ", start + size // 2, end), text.rfind("\n", start + size // 2, end)
            )
            end = cut if cut > start else end
        out.append((start, text[start:end]))
        if end >= len(text):
            break
        nxt = end - _OVERLAP
        ws = text.rfind(" ", start + 1, nxt) if nxt > start + 1 else -1
        start = ws + 1 if ws > start else max(nxt, start + 1)
    return out


class Redactor:
    """Finds identifiers with Presidio and replaces them per the tenant's operator."""

    def __init__(self, config: PrivacyConfig | None = None) -> None:
        self.config = config or PrivacyConfig()
        self._analyzer: Any = None
        self._build_lock = threading.Lock()
        self._effective: dict[str, EffectivePrivacyConfig] = {}
        self._salts: dict[str, bytes] = {}
        # Resolve every tenant now so a missing salt fails at start-up, not on a request.
        for tenant in ["", *self.config.tenants]:
            eff = self.config.for_tenant(tenant)
            self._effective[tenant] = eff
            if eff.operator is Operator.HASH:
                self._salts[tenant] = resolve_salt(eff.hash_salt_ref)

    # -- set-up ------------------------------------------------------------------------------
    def _effective_for(self, tenant: str) -> EffectivePrivacyConfig:
        return self._effective.get(tenant) or self._effective[""]

    def _salt_for(self, tenant: str) -> bytes | None:
        return self._salts.get(tenant if tenant in self._effective else "")

    def _get_analyzer(self) -> Any:
        if self._analyzer is None:
            with self._build_lock:
                if self._analyzer is None:
                    from privacy.analyzer import build_analyzer

                    entities = set(self.config.entities)
                    for override in self.config.tenants.values():
                        entities |= set(override.entities or ())
                    self._analyzer = build_analyzer(
                        entities, self.config.regex_timeout_s, self.config.learned_detector
                    )
        return self._analyzer

    def warmup(self) -> None:
        """Load spaCy and compile every pattern now (otherwise the first request pays for it)."""
        self.redact_messages([_WARMUP_TEXT], tenant="")

    # -- public API --------------------------------------------------------------------------
    def redact_messages(self, texts: list[str], tenant: str) -> RedactionResult:
        """Redact the messages of one request. Raises RedactionError when detection fails."""
        return self.redact_batch([texts], [tenant])[0]

    def redact_batch(
        self, batch: list[list[str]], tenants: list[str], *, return_exceptions: bool = False
    ) -> list[Any]:
        """Redact several requests at once (one spaCy ``pipe`` over all their messages).

        With ``return_exceptions`` a failing request yields its RedactionError in place of a
        result and the others still succeed; otherwise the first failure is raised.
        """
        if len(batch) != len(tenants):
            raise ValueError("batch and tenants differ in length")
        started = time.monotonic()
        failures: dict[int, RedactionError] = {}
        for i, texts in enumerate(batch):
            total = sum(len(t) for t in texts)
            if total > self.config.max_input_chars:
                failures[i] = RedactionError(
                    f"input of {total} characters exceeds max_input_chars "
                    f"({self.config.max_input_chars})"
                )
        try:
            analyzer = self._get_analyzer()
        except Exception as exc:  # model or recognizer failed to load (no input involved)
            raise RedactionError(f"analyzer unavailable ({type(exc).__name__})") from exc

        chunks = [
            _Chunk(r, m, off, piece)
            for r, texts in enumerate(batch)
            if r not in failures
            for m, text in enumerate(texts)
            for off, piece in _chunks(text, self.config.chunk_chars)
        ]
        degraded: set[int] = set()
        keys = [
            (r, m) for r, texts in enumerate(batch) if r not in failures for m in range(len(texts))
        ]
        deadline = started + self.config.timeout_s
        learned: dict[tuple[int, int], list[Any]] = {}
        try:
            ents, spans_l = analyzer.detect([batch[r][m] for r, m in keys], deadline)
            ner: dict[tuple[int, int], list[Any]] | None = dict(zip(keys, ents, strict=True))
            if spans_l is not None:
                learned = dict(zip(keys, spans_l, strict=True))
        except RedactionError as exc:
            ner = None
            failures.update({r: exc for r, _ in keys})
        except Exception as exc:
            ner = None
            for r in {r for r, _ in keys}:
                if self._effective_for(tenants[r]).fail_closed:
                    failures[r] = RedactionError(f"NER failed ({type(exc).__name__})")
                else:
                    degraded.add(r)
            logger.warning("privacy NER failed: %s", type(exc).__name__)

        found: dict[tuple[int, int], list[Span]] = {}
        for (r, m), results in learned.items():
            eff = self._effective_for(tenants[r])
            found.setdefault((r, m), []).extend(
                Span(x.entity_type, x.start, x.end, x.score)
                for x in results
                if x.entity_type in eff.entities
            )
        for chunk in chunks:
            if chunk.request in failures:
                continue
            eff = self._effective_for(tenants[chunk.request])
            try:
                if time.monotonic() > deadline:
                    raise RedactionError(f"detection exceeded timeout_s ({self.config.timeout_s})")
                if ner is None:
                    results = analyzer.analyze_patterns_only(
                        chunk.text, sorted(eff.entities), eff.score_threshold
                    )
                else:
                    art = analyzer.artifacts(_slice(ner[(chunk.request, chunk.message)], chunk))
                    results = analyzer.analyze(
                        chunk.text, sorted(eff.entities), art, eff.score_threshold
                    )
            except RedactionError as exc:
                failures[chunk.request] = exc
                continue
            except Exception as exc:
                # The original exception may quote the input; keep only its type.
                failures[chunk.request] = RedactionError(f"detection failed ({type(exc).__name__})")
                continue
            spans = found.setdefault((chunk.request, chunk.message), [])
            spans.extend(
                Span(r.entity_type, r.start + chunk.offset, r.end + chunk.offset, r.score)
                for r in results
                if r.entity_type in eff.entities
            )

        out: list[Any] = []
        for r, texts in enumerate(batch):
            if r in failures:
                if not return_exceptions:
                    raise failures[r]
                out.append(failures[r])
                continue
            out.append(self._finish(r, texts, tenants[r], found, r in degraded))
        return out

    # -- per request -------------------------------------------------------------------------
    def _finish(
        self,
        r: int,
        texts: list[str],
        tenant: str,
        found: dict[tuple[int, int], list[Span]],
        degraded: bool,
    ) -> RedactionResult:
        eff = self._effective_for(tenant)
        per_text = [found.get((r, m), []) for m in range(len(texts))]
        per_text = _propagate(texts, per_text)
        allow = [a.casefold() for a in eff.allow_list if a.strip()]
        merged = [_merge(_drop_allowed(t, s, allow)) for t, s in zip(texts, per_text, strict=True)]
        pseudo = Pseudonymizer(eff.operator, self._salt_for(tenant))
        redacted = [pseudo.apply(t, s) for t, s in zip(texts, merged, strict=True)]
        counts = Counter(s.entity_type for spans in merged for s in spans)
        return RedactionResult(
            texts=redacted,
            entity_counts=dict(counts),
            data_classes=data_classes_for(counts),
            spans=merged,
            degraded=degraded,
            _mapping=pseudo.mapping,
        )


def _slice(entities: list[Any], chunk: _Chunk) -> list[Any]:
    """The NER entities inside ``chunk``, in the chunk's coordinates."""
    from privacy.analyzer import NerEntity

    lo, hi = chunk.offset, chunk.offset + len(chunk.text)
    return [
        NerEntity(e.label_, e.start_char - lo, e.end_char - lo)
        for e in entities
        if lo <= e.start_char and e.end_char <= hi
    ]


def _propagate(texts: list[str], per_text: list[list[Span]]) -> list[list[Span]]:
    """Every value found once is redacted wherever else it occurs in the request.

    Person names also propagate by part (``Smith`` after ``John Smith``), case-sensitively.
    """
    values: dict[str, Span] = {}
    for text, spans in zip(texts, per_text, strict=True):
        for s in spans:
            value = text[s.start : s.end]
            if len(value.strip()) >= 3:
                values.setdefault(value, s)
            if s.entity_type == "PERSON":
                for part in re.findall(r"[A-Z][\w'\u2019-]{2,}", value):
                    if part.lower() not in NAME_STOP:
                        values.setdefault(part, s)
    if not values:
        return per_text
    ordered = sorted(values, key=len, reverse=True)[:2000]
    if len(ordered) * sum(len(t) for t in texts) <= _FIND_BUDGET:
        # Small requests (almost all): str.find per value is cheaper than compiling a regex.
        return [
            spans
            + [
                Span(values[v].entity_type, a, b, values[v].score)
                for v in ordered
                for a, b in _whole_word_hits(text, v)
            ]
            for text, spans in zip(texts, per_text, strict=True)
        ]
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered)) + r")(?!\w)")
    out = []
    for text, spans in zip(texts, per_text, strict=True):
        extra = [
            Span(values[m.group()].entity_type, m.start(), m.end(), values[m.group()].score)
            for m in pattern.finditer(text)
        ]
        out.append(spans + extra)
    return out


_FIND_BUDGET = 2_000_000  # values x characters below which _propagate uses str.find


def _whole_word_hits(text: str, value: str) -> list[tuple[int, int]]:
    """(start, end) of each occurrence of ``value`` in ``text`` not inside a longer word."""
    hits = []
    pos = text.find(value)
    while pos != -1:
        end = pos + len(value)
        before = text[pos - 1] if pos else ""
        after = text[end] if end < len(text) else ""
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            hits.append((pos, end))
        pos = text.find(value, pos + 1)
    return hits


def _drop_allowed(text: str, spans: list[Span], allow: list[str]) -> list[Span]:
    if not allow or not spans:
        return spans
    folded = text.casefold()
    zones = []
    for term in allow:
        pos = folded.find(term)
        while pos != -1:
            zones.append((pos, pos + len(term)))
            pos = folded.find(term, pos + 1)
    # A span inside an allowed term is dropped; an organisation span that overlaps one is the
    # tenant's own institution with something attached ("Mercy Hospital Cardiology").
    return [
        s
        for s in spans
        if not any(
            (a <= s.start and s.end <= b)
            or (s.entity_type == "ORGANIZATION" and a < s.end and s.start < b)
            for a, b in zones
        )
    ]


def _merge(spans: list[Span]) -> list[Span]:
    """Union of overlapping spans. The merged span takes the type of its longest member (an
    address that contains a name is an ADDRESS), then of the highest score."""
    if not spans:
        return []
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    group = [spans[0]]
    end = spans[0].end
    for s in spans[1:]:
        if s.start < end:
            group.append(s)
            end = max(end, s.end)
        else:
            out.append(_combine(group, end))
            group, end = [s], s.end
    out.append(_combine(group, end))
    return out


def _combine(group: list[Span], end: int) -> Span:
    best = max(group, key=lambda s: (s.end - s.start, s.score))
    return Span(best.entity_type, group[0].start, end, best.score)
