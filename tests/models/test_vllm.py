"""vLLM engine: runs only where vllm and a CUDA GPU are present; skipped (with the reason) here."""

from __future__ import annotations

import pytest

from models.engines import EngineUnavailable, GenerationRequest
from models.engines.vllm import VLLMEngine, vllm_available
from tests.conftest import collect

AVAILABLE, WHY = vllm_available()


def test_vllm_module_imports_without_vllm():
    engine = VLLMEngine("m", path="/nonexistent")
    assert engine.info.engine == "vllm"


@pytest.mark.skipif(AVAILABLE, reason="vllm is available; the unavailable path is not testable")
def test_start_fails_clearly_without_vllm_or_gpu(aio):
    with pytest.raises(EngineUnavailable, match="vLLM engine unavailable"):
        aio.run(VLLMEngine("m").start())


@pytest.mark.gpu
@pytest.mark.skipif(not AVAILABLE, reason=f"vLLM test skipped: {WHY}")
def test_vllm_generates_the_bundled_gguf(aio):
    engine = VLLMEngine("smollm2-135m-instruct", context_length=2048, gpu_memory_utilization=0.3)
    aio.run(engine.start(), timeout=600)
    prompt = engine.render_chat([{"role": "user", "content": "What is the capital of France?"}])
    out = aio.run(collect(engine.generate(GenerationRequest(prompt, 8, temperature=0.0))))
    assert "Paris" in "".join(d.text for d in out)
    assert out[-1].usage.completion_tokens <= 8
