"""A redacting filter for every logger Bastion, uvicorn, FastAPI and Ray write through.

The filter rewrites a record before any formatter sees it: the message with its arguments
merged, exception and stack text, and string fields passed through ``extra=``. The default
path is a single pre-compiled regular expression (cheap enough for every line); given a
Redactor it also runs full detection (NER) over the message.

Formatters MUST render exceptions from ``record.exc_text`` (the filter clears ``exc_info``
after redacting the formatted traceback), which is what ``logging.Formatter`` does.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from privacy.redactor import Redactor

__all__ = ["LOGGERS", "RedactingFilter", "install_redacting_filter", "redact_log_text"]

LOGGERS = ("bastion", "uvicorn", "uvicorn.access", "uvicorn.error", "fastapi", "ray", "ray.serve")

_LOG_PATTERNS = {
    "SECRET": r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}|\bsk-[A-Za-z0-9_-]{16,}",
    "EMAIL": r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,6}",
    "SSN": r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])",
    "PHONE": r"(?<![\w-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])",
    "CARD": r"(?<![\w-])\d{4}(?P<CARD_SEP>[ -])\d{4}(?P=CARD_SEP)\d{4}(?P=CARD_SEP)"
    r"\d{1,7}(?![\w-])",
    "NUMBER": r"(?<![\w.-])\d{7,19}(?![\w-])",
    "IBAN": r"(?<![\w])[A-Z]{2}\d{2}[A-Z0-9]{11,30}(?![\w])",
    "IP": r"(?<![\w.])(?!127\.|0\.0\.0\.0)(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)",
    "DATE": r"(?<![\w/])\d{1,2}/\d{1,2}/(?:19|20)?\d{2}(?![\w/])",
    "ID": r"(?i:mrn|ssn|dob|npi|dea|acct|account|member\s?id|passport|licen[cs]e|routing|policy)"
    r"\s{0,3}(?:#|no\.?|number)?\s{0,3}[:#=]\s{0,3}[A-Za-z0-9][A-Za-z0-9/-]{2,24}",
    "PERSON": r"(?<![\w])(?:Dr|Mr|Mrs|Ms|Mx)\.?\s[A-Z][A-Za-z'\u2019-]{1,24}"
    r"(?:\s[A-Z][A-Za-z'\u2019-]{1,24})?",
}
_LOG_RE = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _LOG_PATTERNS.items()))

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_MARK = "_bastion_redacted"


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup or "REDACTED"  # the outer named group closes last
    if kind == "ID":
        label = re.match(r"[A-Za-z ]+", match.group())
        return f"{label.group().strip() if label else 'ID'}: <ID>"
    return f"<{kind}>"


def redact_log_text(text: str) -> str:
    """The fast path: replace identifier-shaped substrings with ``<TYPE>``."""
    return _LOG_RE.sub(_replace, text)


class RedactingFilter(logging.Filter):
    """Rewrites records in place; never drops one."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__("bastion.privacy")
        self.redactor = redactor

    def _text(self, text: str) -> str:
        text = redact_log_text(text)
        if self.redactor is not None:
            try:
                text = self.redactor.redact_messages([text], tenant="").texts[0]
            except Exception:
                return "[log message withheld: redaction failed]"
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _MARK, False):
            return True
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self._text(message)
        record.args = None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._text(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._text(record.exc_text)
        if record.stack_info:
            record.stack_info = self._text(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                setattr(record, key, self._scrub(value))
        setattr(record, _MARK, True)
        return True

    def _scrub(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if depth > 4:
            return value
        if isinstance(value, dict):
            return {k: self._scrub(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v, depth + 1) for v in value)
        return value


_FILTER: RedactingFilter | None = None


def install_redacting_filter(redactor: Redactor | None = None) -> None:
    """Install the filter on the root logger's handlers and on Bastion's, uvicorn's, FastAPI's
    and Ray's loggers and their handlers. Idempotent; a later call may add a redactor.

    Call it again after anything (re)configures logging (uvicorn's dictConfig replaces handlers).
    """
    global _FILTER
    if _FILTER is None:
        _FILTER = RedactingFilter(redactor)
    elif redactor is not None:
        _FILTER.redactor = redactor
    root = logging.getLogger()
    targets: list[logging.Filterer] = list(root.handlers)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        targets.append(logger)
        targets.extend(logger.handlers)
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(_FILTER)
