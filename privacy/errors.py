"""Typed errors of the privacy package. Messages MUST NOT contain any input text."""

from __future__ import annotations

__all__ = ["RedactionError"]


class RedactionError(Exception):
    """Detection could not complete; the request must fail closed.

    The message names the cause (recognizer, limit, exception type) and never the input.
    """
