"""The typed wire between the ingress and a model server: picklable dataclasses in and out, chat
messages rendered by the engine, errors as typed values (bundled model, no Ray)."""

from __future__ import annotations

import pickle

import pytest

from models.deployment import ModelServer
from models.engines.base import (
    ChatMessage,
    Delta,
    EngineFailure,
    FailureKind,
    GenerateRequest,
    ResponseFormat,
    Sampling,
    Usage,
)
from tests.conftest import collect

GREEDY = Sampling(max_tokens=6, temperature=0.0, stop=("\n\n",))
MESSAGES = (ChatMessage("system", "Be brief."), ChatMessage("user", "Name a colour."))


@pytest.mark.parametrize(
    "value",
    [
        GenerateRequest("r1", GREEDY, messages=MESSAGES),
        GenerateRequest("r2", Sampling(response_format=ResponseFormat("json_object")), prompt="x"),
        Delta("text", "stop", Usage(3, 1)),
        EngineFailure(FailureKind.CONTEXT_LENGTH, "too long"),
    ],
)
def test_wire_values_pickle_round_trip(value):
    assert pickle.loads(pickle.dumps(value)) == value


def test_a_request_has_messages_or_a_prompt():
    with pytest.raises(ValueError):
        GenerateRequest("r", GREEDY)
    with pytest.raises(ValueError):
        GenerateRequest("r", GREEDY, messages=MESSAGES, prompt="x")


def test_chat_is_the_rendered_prompt_completed(aio, llama_engine):
    chat = aio.run(collect(llama_engine.chat(MESSAGES, GREEDY)))
    prompt = llama_engine.render_chat([m.as_dict() for m in MESSAGES])
    plain = aio.run(collect(llama_engine.complete(prompt, GREEDY)))
    assert "".join(d.text for d in chat) == "".join(d.text for d in plain)
    assert chat[-1].usage == plain[-1].usage and chat[-1].finish_reason is not None


def test_model_server_streams_deltas_and_typed_failures(aio, llama_engine):
    server = ModelServer(llama_engine, default_max_tokens=4)
    items = aio.run(collect(server.generate(GenerateRequest("r3", GREEDY, messages=MESSAGES))))
    assert all(isinstance(i, Delta) for i in items) and items[-1].usage is not None
    too_long = GenerateRequest("r4", Sampling(max_tokens=4000), prompt="Hi")
    (failure,) = aio.run(collect(server.generate(too_long)))
    assert failure.kind is FailureKind.CONTEXT_LENGTH
    # llama.cpp enforces response_format (a grammar); an engine that cannot refuses it
    # (tests/models/test_structured_engines.py)
    constrained = Sampling(max_tokens=2, response_format=ResponseFormat("json_object"))
    items = aio.run(collect(server.generate(GenerateRequest("r5", constrained, prompt="x"))))
    assert all(isinstance(i, Delta) for i in items)
    assert "".join(i.text for i in items).lstrip().startswith("{")
