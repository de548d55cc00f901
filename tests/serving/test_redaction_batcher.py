"""Concurrent requests share detection batches; each gets its own mapping and its own error."""

from __future__ import annotations

import asyncio

from privacy import PrivacyConfig, RedactionError, Redactor
from serving.redaction_batcher import RedactionBatcher


def test_concurrent_requests_are_batched_and_kept_apart(aio, redactor):
    batcher = RedactionBatcher(redactor)
    names = ["John Smith", "Maria Garcia", "Wei Zhang", "Olu Adeyemi"] * 3

    async def run():
        return await asyncio.gather(
            *(batcher.redact([f"Patient {name} called."], "t") for name in names)
        )

    results = aio.run(run())
    assert batcher.batches < len(names)  # requests that arrived together shared a batch
    for name, result in zip(names, results, strict=True):
        assert name not in result.texts[0]
        assert result.restore(result.texts[0]) == f"Patient {name} called."


def test_a_failing_request_fails_alone(aio):
    small = Redactor(PrivacyConfig(max_input_chars=1000))
    batcher = RedactionBatcher(small)

    async def run():
        return await asyncio.gather(
            batcher.redact(["Call Anna Berg at 617-555-0100."], "t"),
            batcher.redact(["x" * 5000], "t"),
            return_exceptions=True,
        )

    ok, failed = aio.run(run())
    assert isinstance(failed, RedactionError)
    assert "617-555-0100" not in ok.texts[0]
