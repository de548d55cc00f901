"""Constrained decoding per engine (models/engines/constrain.py): llama.cpp's grammar on the
real bundled model; the vLLM parameters and the openai pass-through as constructed values (no
GPU and no vLLM here); the transformers logits processor on the bundled model (slow)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

from models.engines.base import ChatMessage, EngineError, ResponseFormat, Sampling
from models.engines.constrain import _gbnf, llama_grammar, vllm_sampling_kwargs
from models.engines.openai import _response_format
from tests.conftest import collect

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}
SCHEMA = ResponseFormat("json_schema", json.dumps(PERSON), "person", True)
ASK = (ChatMessage("user", "Give a person as JSON with a name, an age and tags."),)


def _text(deltas: list[Any]) -> str:
    return "".join(d.text for d in deltas)


def test_llamacpp_follows_the_schema(aio, llama_engine):
    sampling = Sampling(max_tokens=80, temperature=0, response_format=SCHEMA)
    out = aio.run(collect(llama_engine.chat(ASK, sampling)))
    assert out[-1].finish_reason == "stop"  # the grammar ended the answer
    value = json.loads(_text(out))
    jsonschema.validate(value, PERSON)
    assert len(value["tags"]) <= 3  # unconstrained, this model repeats a tag to max_tokens


def test_llamacpp_json_object_and_text(aio, llama_engine):
    messages = (ChatMessage("user", "Describe a cat."),)
    fmt = Sampling(max_tokens=60, temperature=0, response_format=ResponseFormat("json_object"))
    out = aio.run(collect(llama_engine.chat(messages, fmt)))
    text = _text(out)
    assert text.lstrip().startswith("{")
    if out[-1].finish_reason == "stop":
        assert isinstance(json.loads(text), dict)
    plain = aio.run(collect(llama_engine.chat(messages, Sampling(max_tokens=8, temperature=0))))
    assert not _text(plain).lstrip().startswith("{")  # unconstrained, the model writes prose


def test_grammar_strings_have_no_raw_control_characters():
    grammar = _gbnf("json_schema", json.dumps(PERSON))
    assert 'char ::= [^"\\\\\\x7F\\x00-\\x1F]' in grammar
    assert llama_grammar(ResponseFormat()) is None


def test_engines_that_cannot_enforce_refuse():
    from models.engines.base import Engine

    class Plain(Engine):  # the base class contract, with no constrained decoding
        info = None  # type: ignore[assignment]

        async def start(self) -> None: ...

        def render_chat(self, messages: list[dict[str, str]]) -> str:
            return ""

        def count_tokens(self, text: str) -> int:
            return 0

        def generate(self, request: Any) -> Any:
            raise AssertionError("not reached")

    with pytest.raises(EngineError, match="not supported"):
        Plain().complete("x", Sampling(max_tokens=1, response_format=SCHEMA))


class _Recorded:
    """Stands in for a vLLM structured-output parameter class (vLLM is not installed here and
    needs a GPU): records the keyword arguments it was built with."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


def test_vllm_parameters_new_and_old_api():
    new = SimpleNamespace(StructuredOutputsParams=_Recorded, GuidedDecodingParams=_Recorded)
    made = vllm_sampling_kwargs(SCHEMA, new)
    assert set(made) == {"structured_outputs"}
    assert made["structured_outputs"].kwargs == {"json": PERSON}
    old = SimpleNamespace(GuidedDecodingParams=_Recorded)
    made = vllm_sampling_kwargs(ResponseFormat("json_object"), old)
    assert made["guided_decoding"].kwargs == {"json_object": True}
    assert vllm_sampling_kwargs(ResponseFormat(), new) == {}
    with pytest.raises(RuntimeError):
        vllm_sampling_kwargs(SCHEMA, SimpleNamespace())


def test_openai_upstream_gets_name_schema_and_strict():
    assert _response_format(SCHEMA) == {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": PERSON, "strict": True},
    }
    assert _response_format(ResponseFormat("json_object")) == {"type": "json_object"}


@pytest.mark.slow
def test_transformers_logits_processor(aio):
    from models.engines.transformers import TransformersEngine

    engine = TransformersEngine(
        "smollm2-135m-instruct", "v1", context_length=2048, device="cpu", threads=2
    )
    aio.run(engine.start(), timeout=300)
    try:
        sampling = Sampling(max_tokens=60, temperature=0, response_format=SCHEMA)
        out = aio.run(collect(engine.chat(ASK, sampling)), timeout=300)
        assert out[-1].finish_reason == "stop"
        jsonschema.validate(json.loads(_text(out)), PERSON)
    finally:
        aio.run(engine.close())
