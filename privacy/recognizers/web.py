"""Validators for e-mail addresses and URLs: the domain must end in a real public suffix.

The suffix list is tldextract's bundled snapshot (privacy.offline); nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from privacy.offline import offline_tldextract

__all__ = ["VALIDATORS"]


def _has_public_suffix(host: str) -> bool:
    parts = offline_tldextract()(host)
    return bool(parts.suffix) and bool(parts.domain)


def _email(value: str) -> bool:
    return _has_public_suffix(value.rsplit("@", 1)[-1])


def _url(value: str) -> bool | None:
    schemed = "://" in value or value[:4].lower() == "www."
    host = value.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    if _has_public_suffix(host):
        return True
    # An explicit scheme is enough (intranet hosts); a bare word.word needs a public suffix.
    return None if schemed else False


def _email_spelled(value: str) -> bool:
    """ "jane dot doe at mercy dot org" / "jane(at)mercy(dot)org": the address it spells must
    have a real public suffix."""
    text = re.sub(r"[ \t]*[\(\[\{]?\b(at)\b[\)\]\}]?[ \t]*", "@", value, count=0, flags=re.I)
    text = re.sub(r"[ \t]*[\(\[\{]?\b(dot)\b[\)\]\}]?[ \t]*", ".", text, flags=re.I)
    text = text.replace(" ", "")
    if text.count("@") != 1:
        return False
    local, host = text.split("@")
    return bool(local) and "." in host and _has_public_suffix(host.lower())


VALIDATORS: dict[str, Callable[[str], bool | None]] = {
    "email": _email,
    "url": _url,
    "email_spelled": _email_spelled,
}
