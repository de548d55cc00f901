"""Batch lines yield to interactive work at the engine (models/engines/priority.py), on the
bundled model with llama.cpp: a background generation does not start while interactive work is
in flight, pauses after its current token when interactive work arrives (giving the engine up
to it) and resumes to the same answer, and never waits past its bound."""

from __future__ import annotations

import asyncio
from typing import Any

from models.deployment import ModelServer
from models.engines.base import Background, ChatMessage, GenerateRequest, Sampling
from models.engines.priority import GATE

PROMPT = (ChatMessage("user", "Write a long story about a lighthouse keeper and the sea."),)


def _request(rid: str, background: Background | None, max_tokens: int = 120) -> GenerateRequest:
    return GenerateRequest(
        rid, Sampling(max_tokens=max_tokens, temperature=0), PROMPT, background=background
    )


async def _text(server: ModelServer, request: GenerateRequest) -> str:
    return "".join([d.text async for d in server.generate(request)])  # type: ignore[union-attr]


def test_background_waits_for_interactive_work_then_answers_the_same(
    aio: Any, llama_engine: Any
) -> None:
    server = ModelServer(llama_engine, min_chunk_interval_s=0)

    async def go() -> tuple[str, str, list[str], int]:
        alone = await _text(server, _request("alone", None))
        seen: list[str] = []
        GATE.enter()  # interactive work in flight from here on
        try:
            stream = server.generate(_request("bg", Background(600)))
            first = asyncio.ensure_future(anext(stream))
            # an interactive generation runs to its end while the batch line is held back
            interactive = await _text(server, _request("inter", None, 8))
            seen.append("interactive done")
            if first.done():
                seen.append("background produced first")
        finally:
            GATE.leave()
        item = await first
        rest = "".join([d.text async for d in stream])  # type: ignore[union-attr]
        return alone, item.text + rest, seen, len(interactive)  # type: ignore[union-attr]

    alone, background, seen, produced = aio.run(go())
    assert seen == ["interactive done"] and produced > 0
    assert background == alone  # greedy: the held-back line answers exactly as alone
    stats = aio.run(server.stats())
    assert stats["background"] == 1 and stats["interactive"] == 0


def test_a_generating_background_line_pauses_for_interactive_work_and_resumes(
    aio: Any, llama_engine: Any
) -> None:
    server = ModelServer(llama_engine, min_chunk_interval_s=0)

    async def go() -> tuple[str, str, int, int, bool]:
        alone = await _text(server, _request("alone", None))
        pauses = llama_engine.pauses
        stream = server.generate(_request("bg", Background(600)))
        parts = [(await anext(stream)).text]  # type: ignore[union-attr]  # it is generating
        GATE.enter()  # an interactive request arrives
        try:
            interactive = await _text(server, _request("inter", None, 8))
            # the engine was given up: the interactive generation ran while the line paused
            paused = llama_engine.pauses > pauses
        finally:
            GATE.leave()
        parts += [d.text async for d in stream]  # type: ignore[union-attr]
        return alone, "".join(parts), len(interactive), llama_engine.pauses - pauses, paused

    alone, resumed, produced, pauses, paused = aio.run(go())
    assert produced > 0 and paused and pauses >= 1
    assert resumed == alone  # resumed from the prompt plus its tokens: the same answer


def test_background_proceeds_after_its_bound(aio: Any, llama_engine: Any) -> None:
    """Never starved: with interactive work in flight throughout, a background generation
    with a 0.2 s bound still runs to its end."""
    server = ModelServer(llama_engine, min_chunk_interval_s=0)

    async def go() -> tuple[str, str]:
        alone = await _text(server, _request("alone", None, 12))
        GATE.enter()
        try:
            held = await _text(server, _request("bg", Background(0.2), 12))
        finally:
            GATE.leave()
        return alone, held

    alone, held = aio.run(go())
    assert held == alone
