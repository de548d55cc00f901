"""Structured output (response_format) end to end in-process: the official openai SDK against
the ASGI app (no Ray), the real bundled SmolLM2 under llama.cpp with grammar-constrained
decoding, whole and streamed answers and ``beta.chat.completions.parse`` with a pydantic model;
validation failures (422, or one stream error event), the bounded retry, and JSON-safe restore
of identifiers inside JSON strings."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from models.engines.base import Delta, GenerateRequest, Usage
from policies.audit import RecordFilter
from privacy.redactor import RedactionResult
from serving import protocol
from serving.observability import METRICS
from serving.pipeline.errors import StructuredOutputInvalid
from serving.pipeline.restore import Restore
from serving.pipeline.state import RequestState, Route
from tests.serving.conftest import MODEL

CHAT = "/v1/chat/completions"
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
STRICT = {
    "type": "json_schema",
    "json_schema": {"name": "person", "strict": True, "schema": PERSON},
}
ASK = [{"role": "user", "content": "Give a person as JSON with a name and an age."}]


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture(scope="module")
def client(api: Any) -> openai.AsyncOpenAI:
    app = api.client._transport.app
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5555)),
        base_url="http://bastion.test/v1",
        timeout=120,
    )
    return openai.AsyncOpenAI(
        api_key=api.keys["app"], base_url="http://bastion.test/v1", http_client=http, max_retries=0
    )


def _records(api: Any, request_id: str) -> list[Any]:
    page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, None))
    out = [r for _, r in page.records]
    while page.next_cursor is not None:
        page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, page.next_cursor))
        out += [r for _, r in page.records]
    return [r for r in out if r.request_id == request_id]


def _verdicts(verdict: str) -> float:
    return METRICS.guardrail_verdicts.labels("acme", "structured", verdict)._value.get()


# -- the real model, through the SDK ---------------------------------------------------------------


def test_json_schema_strict_whole(api, client):
    async def run() -> Any:
        return await client.chat.completions.create(
            model=MODEL, messages=ASK, response_format=STRICT, max_tokens=48, temperature=0
        )

    before = _verdicts("pass")
    answer = api.aio.run(run())
    value = json.loads(answer.choices[0].message.content)
    jsonschema.validate(value, PERSON)
    assert _verdicts("pass") == before + 1


def test_json_schema_streamed(api, client):
    async def run() -> list[Any]:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=ASK,
            response_format=STRICT,
            max_tokens=48,
            temperature=0,
            stream=True,
        )
        return [chunk async for chunk in stream]

    chunks = api.aio.run(run())
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 1  # it streamed
    jsonschema.validate(json.loads("".join(pieces)), PERSON)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_parse_with_a_pydantic_model(api, client):
    async def run() -> Any:
        return await client.beta.chat.completions.parse(
            model=MODEL, messages=ASK, response_format=Person, max_tokens=48, temperature=0
        )

    answer = api.aio.run(run())
    parsed = answer.choices[0].message.parsed
    assert isinstance(parsed, Person) and parsed.name


def test_json_object(api):
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Describe a cat in JSON."}],
        "response_format": {"type": "json_object"},
        "max_tokens": 64,
        "temperature": 0,
    }
    r = api.post(CHAT, json=body)
    # a JSON object, or (cut by max_tokens) a clear 422: never invalid JSON as if valid
    if r.status_code == 200:
        assert isinstance(json.loads(r.json()["choices"][0]["message"]["content"]), dict)
    else:
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_structured_output"


@pytest.mark.parametrize(
    ("response_format", "fragment"),
    [
        ({"type": "json_schema"}, "json_schema is required"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 7}}}, "valid"),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "x",
                    "strict": True,
                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                },
            },
            "additionalProperties",
        ),
        (
            {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"$ref": "https://example.org/schema.json"}},
            },
            "nothing is fetched",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/$defs/y"}}},
            "points nowhere",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$schema": [1]}}},
            "valid",
        ),
        ({"type": "json_object", "json_schema": {"name": "x"}}, "only allowed"),
    ],
)
def test_unusable_response_format_is_400(api, response_format, fragment):
    r = api.post(CHAT, json={"model": MODEL, "messages": ASK, "response_format": response_format})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"].startswith("response_format") and fragment in error["message"]


# -- failures: a scripted model -------------------------------------------------------------------


class ScriptedClient:
    """Test double for a model server: the bundled model under a grammar cannot be made to
    produce invalid JSON on demand. Each call answers the next script entry; ``{P}`` is
    replaced by the first placeholder in the (redacted) request it received."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.requests: list[GenerateRequest] = []

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        self.requests.append(request)
        seen = " ".join(m.content for m in request.messages or ())
        found = re.search(r"\[[A-Z_]+_\d+\]", seen)
        pieces = self.answers.pop(0)
        for i, text in enumerate(pieces):
            text = text.replace("{P}", found.group() if found else "")
            last = i == len(pieces) - 1
            yield Delta(text, "stop" if last else None, Usage(10, 7) if last else None)

    async def info(self) -> dict[str, Any]:
        return {}

    async def stats(self) -> dict[str, int]:
        return {}


@contextmanager
def scripted(api: Any, client: ScriptedClient) -> Iterator[None]:
    models = api.client._transport.app.state.gateway.models
    key = f"{MODEL}@v1"
    real = models[key]
    models[key] = client
    try:
        yield
    finally:
        models[key] = real


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": ASK, "response_format": STRICT, **extra}


def test_invalid_answer_is_retried_once_then_422(api):
    model = ScriptedClient(['{"name": "Ann", '], ['{"name": "Ann"}'])
    before = _verdicts("block")
    with scripted(api, model):
        r = api.post(CHAT, json=_body(seed=5))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_structured_output" and error["param"] == "response_format"
    assert "Ann" not in r.text  # no answer content in the error
    assert len(model.requests) == 2  # one retry (the default)
    assert [q.sampling.seed for q in model.requests] == [5, 6]
    assert _verdicts("block") == before + 1
    (record,) = _records(api, r.headers["x-request-id"])
    assert record.detail["stage"] == "structured" and record.status_code == 422
    assert record.error_type == "invalid_structured_output"


def test_a_retry_that_succeeds_is_served_with_both_attempts_counted(api):
    model = ScriptedClient(['{"name": "kettle", "age": "x"}'], ['{"name": "kettle", ', '"age": 7}'])
    before = _verdicts("flag")
    with scripted(api, model):
        r = api.post(CHAT, json=_body())
    assert r.status_code == 200, r.text
    body = r.json()
    assert json.loads(body["choices"][0]["message"]["content"]) == {"name": "kettle", "age": 7}
    assert body["usage"]["completion_tokens"] == 14  # 7 + 7
    assert _verdicts("flag") == before + 1


def test_invalid_stream_ends_with_one_error_event(api):
    model = ScriptedClient(['{"name": ', '"Ann"}'])
    with scripted(api, model):
        r = api.post(CHAT, json=_body(stream=True))
    assert r.status_code == 200
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == "invalid_structured_output"
    chunks = [json.loads(e) for e in events[:-2]]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)  # never "finished"
    assert len(model.requests) == 1  # a streamed answer is not retried
    (record,) = _records(api, r.headers["x-request-id"])
    assert record.detail["stage"] == "structured" and record.stream is True
    assert record.error_type == "invalid_structured_output"


def test_text_requests_are_not_validated(api):
    model = ScriptedClient(["{not json"])
    with scripted(api, model):
        r = api.post(CHAT, json={"model": MODEL, "messages": ASK})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "{not json"


def test_identifier_is_restored_inside_the_json_string(api):
    schema = {
        "type": "object",
        "properties": {"email": {"type": "string", "format": "email"}},
        "required": ["email"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "c", "strict": True, "schema": schema}}
    messages = [{"role": "user", "content": "My email is jane.porter@example.org, as JSON."}]
    model = ScriptedClient(['{"email": "{P}"}'])
    with scripted(api, model):
        r = api.post(CHAT, json={"model": MODEL, "messages": messages, "response_format": fmt})
    assert r.status_code == 200, r.text
    assert "jane.porter" not in json.dumps([m.content for m in model.requests[0].messages])
    value = json.loads(r.json()["choices"][0]["message"]["content"])
    assert value == {"email": "jane.porter@example.org"}  # valid per format, after restore


# -- the restore stage: JSON escaping -------------------------------------------------------------

TRICKY = 'Ann "Nan" O\\Neil\n\t'  # a quote, a backslash and control characters


def _restore(pieces: list[str], stream: bool) -> tuple[str, RequestState]:
    body = {"model": MODEL, "messages": ASK, "response_format": STRICT, "stream": stream}
    state = RequestState(request_id="req-structured-restore", route=Route.CHAT)
    state.request = protocol.ChatCompletionRequest.model_validate(body)
    state.redaction = RedactionResult(
        texts=["x"],
        entity_counts={"PERSON": 1},
        data_classes=frozenset({"PII"}),
        spans=[[]],
        _mapping={"PERSON_1": TRICKY},
    )

    async def items() -> AsyncIterator[Delta]:
        for i, text in enumerate(pieces):
            last = i == len(pieces) - 1
            yield Delta(text, "stop" if last else None, Usage(1, 1) if last else None)

    async def run() -> str:
        return "".join([d.text async for d in Restore().wrap(state, items())])

    import asyncio

    return asyncio.run(run()), state


@pytest.mark.parametrize(
    "pieces",
    [
        ['{"name": "[PERSON_1]", "age": 40}'],
        ['{"name": "[PER', "SON_1]", '", "age": 40}'],  # split inside the placeholder
        ['{"name": "Dr. [PERSON_1] ([PERSON_1])",', ' "age": 40}'],
    ],
)
def test_restored_values_are_escaped_inside_json_strings(pieces):
    text, state = _restore(pieces, stream=True)
    value = json.loads(text)  # still valid JSON
    assert TRICKY in value["name"]
    assert "".join(state.output) == "".join(pieces)  # capture keeps the placeholder form


def test_restored_answer_is_checked_again():
    # a placeholder outside any JSON string (as output redaction could leave it) never passes
    with pytest.raises(StructuredOutputInvalid):
        _restore(['{"name": "Ann", "age": [PERSON_1]}'], stream=False)
