"""Output checks, stream-safe: system-prompt leakage and blocked content.

Both scanners take the answer piece by piece (``feed``) and release text only once it is final
(``flush`` at the end); a streamed answer and the same answer whole give the same text and the
same verdict, whatever the pieces. Text is held back only within a bounded window:

- :class:`LeakScanner`: a run of ``min_words`` consecutive words of the system prompt (case and
  punctuation ignored) is a leak. It holds back the last ``min_words - 1`` complete words (and a
  word still being written), so a leaked run can be redacted whole, or the answer stopped before
  a run of that length was sent.
- :class:`ContentScanner`: configured phrases and regular expressions; it holds back
  ``hold_back_chars`` (at least the longest phrase).

A scanner that must stop the answer raises :class:`OutputBlocked` naming its guard.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "ContentScanner", "LeakScanner", "OutputBlocked"]

REDACTED = "[SYSTEM_PROMPT_REDACTED]"
_WORD = re.compile(r"\w+")


class OutputBlocked(Exception):
    """The answer must stop; ``guard`` is ``leakage`` or ``blocked_output`` (no text kept)."""

    def __init__(self, guard: str) -> None:
        super().__init__(guard)
        self.guard = guard


class LeakScanner:
    """Finds runs of ``min_words`` words of ``system_prompt`` in the answer; redacts them
    (``redact=True``: each maximal run becomes one ``[SYSTEM_PROMPT_REDACTED]``) or raises."""

    def __init__(self, system_prompt: str, min_words: int, redact: bool) -> None:
        words = [w.lower() for w in _WORD.findall(system_prompt)]
        self.n = min_words
        self.grams = {tuple(words[i : i + min_words]) for i in range(len(words) - min_words + 1)}
        self.redact = redact
        self.leaked = False
        self._pending = ""
        self._context: list[str] = []  # the last n-1 released words (normalized)
        self._in_run = False  # the last released word was redacted

    @property
    def active(self) -> bool:
        return bool(self.grams)

    def feed(self, text: str) -> str:
        self._pending += text
        return self._release(final=False)

    def flush(self) -> str:
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        pending = self._pending
        found = list(_WORD.finditer(pending))
        complete = found if final else [m for m in found if m.end() < len(pending)]
        words = self._context + [m.group(0).lower() for m in complete]
        offset = len(self._context)
        marked = [False] * len(complete)
        for end in range(max(self.n - 1, offset), len(words)):
            if tuple(words[end - self.n + 1 : end + 1]) in self.grams:
                self.leaked = True
                if not self.redact:
                    raise OutputBlocked("leakage")
                for i in range(max(0, end - self.n + 1 - offset), end - offset + 1):
                    marked[i] = True
        count = len(complete) if final else len(complete) - (self.n - 1)
        if count <= 0:
            if not final:
                return ""
            self._pending = ""
            return pending
        out: list[str] = []
        previous = 0
        for match, redacted in zip(complete[:count], marked[:count], strict=True):
            separator = pending[previous : match.start()]
            if redacted:
                if not self._in_run:
                    out.append(separator + REDACTED)
                self._in_run = True
            else:
                out.append(separator + match.group(0))
                self._in_run = False
            previous = match.end()
        if final:
            out.append(pending[previous:])
            previous = len(pending)
        released = [m.group(0).lower() for m in complete[:count]]
        self._context = (self._context + released)[-(self.n - 1) :]
        self._pending = pending[previous:]
        return "".join(out)


class ContentScanner:
    """Raises :class:`OutputBlocked` when the answer contains a blocked phrase or pattern."""

    def __init__(self, phrases: tuple[str, ...], patterns: tuple[str, ...], hold: int) -> None:
        parts = [r"\s+".join(re.escape(word) for word in p.split()) for p in phrases]
        parts += [f"(?:{p})" for p in patterns]
        self.pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        self.hold = max([hold, *(len(p) for p in phrases)])
        self._tail = ""  # the last `hold` released characters
        self._pending = ""

    @property
    def active(self) -> bool:
        return self.pattern is not None

    def feed(self, text: str) -> str:
        self._pending += text
        self._check()
        cut = len(self._pending) - self.hold
        if cut <= 0:
            return ""
        out, self._pending = self._pending[:cut], self._pending[cut:]
        self._tail = (self._tail + out)[-self.hold :]
        return out

    def flush(self) -> str:
        self._check()
        out, self._pending = self._pending, ""
        return out

    def _check(self) -> None:
        if self.pattern is not None and self.pattern.search(self._tail + self._pending):
            raise OutputBlocked("blocked_output")
