"""The transformers engine on the same bundled GGUF (dequantized), on CPU here."""

from __future__ import annotations

import pytest

from models.engines import GenerationRequest
from models.engines.transformers import TransformersEngine
from tests.conftest import collect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hf_engine(aio):
    engine = TransformersEngine(
        "smollm2-135m-instruct", "v1", context_length=2048, device="cpu", threads=2
    )
    aio.run(engine.start(), timeout=300)
    yield engine
    aio.run(engine.close())


def test_generates_with_the_models_template(aio, hf_engine, llama_engine):
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = hf_engine.render_chat(messages)
    assert prompt == llama_engine.render_chat(messages)  # same template from the same file
    out = aio.run(collect(hf_engine.generate(GenerationRequest(prompt, 8, temperature=0.0))))
    text = "".join(d.text for d in out)
    assert "Paris" in text
    assert out[-1].usage.prompt_tokens == hf_engine.count_tokens(prompt)
    assert out[-1].usage.completion_tokens <= 8


def test_stop_and_cancel(aio, hf_engine):
    prompt = "1, 2, 3, 4,"
    out = aio.run(collect(hf_engine.generate(GenerationRequest(prompt, 20, 0.0, stop=(" 7",)))))
    assert out[-1].finish_reason == "stop" and "7" not in "".join(d.text for d in out)

    async def partial():
        stream = hf_engine.generate(GenerationRequest(prompt, 500, 0.0))
        async for _ in stream:
            break
        await stream.aclose()
        return [d async for d in hf_engine.generate(GenerationRequest(prompt, 2, 0.0))]

    assert aio.run(partial(), timeout=120)[-1].usage.completion_tokens == 2
