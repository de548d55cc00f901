"""One request's redaction does not stall the others (#15): detection batches are bounded, and a
request too large for a batch runs alone beside the batches of ordinary requests. Real
Redactor (spaCy + Bastion's recognizers); the assertions are on batch composition and order,
not on time."""

from __future__ import annotations

import asyncio

from privacy import RedactionError
from serving.redaction_batcher import RedactionBatcher

NAMES = ["John Smith", "Maria Garcia", "Wei Zhang", "Olu Adeyemi", "Anna Berg", "Ravi Patel"]


def test_batches_are_bounded_by_texts_and_characters(aio, redactor):
    batcher = RedactionBatcher(redactor, max_batch=16, max_texts=8, max_chars=2_000)
    requests = [[f"Patient {name} called about visit {i}."] * 3 for i, name in enumerate(NAMES)]

    async def run():
        return await asyncio.gather(*(batcher.redact(texts, "t") for texts in requests))

    results = aio.run(run())
    starts = [sizes for kind, lane, sizes in batcher.events if kind == "start"]
    assert all(sum(sizes) <= 8 for sizes in starts), starts
    assert any(len(sizes) > 1 for sizes in starts), starts  # still batched across requests
    for texts, result in zip(requests, results, strict=True):
        assert result.restore(result.texts[0]) == texts[0]
        assert not any(name in result.texts[0] for name in NAMES)


def test_a_small_request_is_not_stuck_behind_a_huge_one(aio, redactor):
    batcher = RedactionBatcher(redactor)
    huge = [f"Row {i}: contact Maria Garcia at 617-555-{i % 10000:04d}." for i in range(20_000)]
    small = ["Call John Smith tomorrow."]

    async def run():
        big = asyncio.ensure_future(batcher.redact(huge, "t"))
        while not any(kind == "start" for kind, _, _ in batcher.events):
            await asyncio.sleep(0)  # the huge request's batch is running
        little = await asyncio.gather(*(batcher.redact(small, "t") for _ in range(3)))
        events_when_small_done = list(batcher.events)
        (outcome,) = await asyncio.gather(big, return_exceptions=True)
        return outcome, little, events_when_small_done

    big, little, seen = aio.run(run(), timeout=600)
    # The huge request ran alone; the small ones were batched together in the other lane,
    # started and finished while the huge batch was still running.
    starts = [(lane, sizes) for kind, lane, sizes in batcher.events if kind == "start"]
    assert ("large", (20_000,)) in starts
    assert all(len(sizes) == 1 for lane, sizes in starts if lane == "large")
    assert all(sum(sizes) <= batcher.max_texts for lane, sizes in starts if lane == "small")
    assert ("end", "large", (20_000,)) not in seen  # small requests were done first
    assert [e for e in seen if e[1] == "small"][-1][0] == "end"
    assert all("John Smith" not in r.texts[0] for r in little)
    # The huge request itself may exceed the detection timeout (it fails closed, alone).
    if isinstance(big, RedactionError):
        assert "timeout" in str(big)
    else:
        assert big.restore(big.texts[7]) == huge[7] and "Maria Garcia" not in big.texts[7]
