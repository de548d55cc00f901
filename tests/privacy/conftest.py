"""Shared fixtures: one Redactor (spaCy + Presidio are slow to build) for the whole session."""

from __future__ import annotations

import pytest

from privacy import PrivacyConfig, Redactor


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    r = Redactor(PrivacyConfig())
    r.warmup()
    return r


@pytest.fixture(scope="session")
def detect(redactor: Redactor):
    """text -> sorted [(type, value)] of the merged detections."""

    def run(text: str) -> list[tuple[str, str]]:
        result = redactor.redact_messages([text], tenant="")
        return [(s.entity_type, text[s.start : s.end]) for s in result.spans[0]]

    return run
