"""Client input that used to reach a 5xx, be coerced, be echoed or cost unbounded work (#15):
each gets an exact OpenAI-style 4xx now. In-process app, real bundled models, no Ray."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serving.api import create_api
from serving.protocol import RequestLimits
from tests.serving.conftest import MODEL, Api

CHAT, COMPLETIONS, EMBEDDINGS = "/v1/chat/completions", "/v1/completions", "/v1/embeddings"
EMBEDDER = "all-minilm-l6-v2"
LONE = "hi \ud800 there"  # a lone surrogate escape: valid JSON, not valid Unicode


def _raw(api: Api, path: str, payload: dict[str, Any], **kwargs: Any) -> Any:
    """POST ``payload`` as ASCII JSON, so a lone surrogate travels as the escape ``\\ud800``."""
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    return api.post(path, content=body, headers=headers, **kwargs)


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def _app(api: Api) -> Any:
    return api.client._transport.app


def _msgs(content: Any = "Hello") -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


@pytest.fixture(scope="module")
def capped(api: Api, aio: Any) -> Api:
    """A second app over the same gateway with small configured caps."""
    app = create_api(max_body_bytes=64 * 1024, limits=RequestLimits(3, 2))
    for name in ("gateway", "audit", "policy_reloader"):
        setattr(app.state, name, getattr(_app(api).state, name))
    return Api(aio, app, api.keys)


# -- lone surrogates: one behaviour everywhere, before redaction --------------------------------


@pytest.mark.parametrize(
    ("path", "payload", "param"),
    [
        (CHAT, {"model": MODEL, "messages": _msgs(LONE)}, "messages.0.content"),
        (CHAT, {"model": MODEL, "messages": _msgs(LONE), "stream": True}, "messages.0.content"),
        (
            CHAT,
            {"model": MODEL, "messages": _msgs([{"type": "text", "text": LONE}])},
            "messages.0.content",
        ),
        (
            CHAT,
            {"model": MODEL, "messages": _msgs(f"Call John Smith at 617-555-0100, {LONE}")},
            "messages.0.content",
        ),
        (CHAT, {"model": MODEL, "messages": _msgs(), "stop": ["x", LONE]}, "stop"),
        (CHAT, {"model": MODEL, "messages": _msgs(), "user": LONE}, "user"),
        (COMPLETIONS, {"model": MODEL, "prompt": LONE}, "prompt"),
        (COMPLETIONS, {"model": MODEL, "prompt": [LONE], "stream": True}, "prompt"),
        (EMBEDDINGS, {"model": EMBEDDER, "input": LONE}, "input"),
        (EMBEDDINGS, {"model": EMBEDDER, "input": ["fine", "\udc00"]}, "input"),
    ],
)
def test_lone_surrogate_is_400_naming_the_field(api, path, payload, param):
    before = _app(api).state.gateway.batcher.batches
    error = _error(_raw(api, path, payload), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert "valid Unicode" in error["message"]
    assert "Smith" not in error["message"] and "617" not in error["message"]
    assert _app(api).state.gateway.batcher.batches == before  # rejected before redaction


def test_valid_surrogate_pair_is_served(api):
    r = _raw(api, CHAT, {"model": MODEL, "messages": _msgs("smile \U0001f600"), "max_tokens": 1})
    assert r.status_code == 200, r.text


# -- empty prompt -------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", [""]])
@pytest.mark.parametrize("stream", [False, True])
def test_empty_prompt_is_400(api, prompt, stream):
    r = api.post(COMPLETIONS, json={"model": MODEL, "prompt": prompt, "stream": stream})
    error = _error(r, 400)
    assert error["param"] == "prompt" and "must not be empty" in error["message"]


# -- strict types where OpenAI is strict --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "extra", "param"),
    [
        (CHAT, {"stream": "yes"}, "stream"),
        (CHAT, {"stream": 1}, "stream"),
        (CHAT, {"frequency_penalty": False}, "frequency_penalty"),
        (CHAT, {"presence_penalty": "0"}, "presence_penalty"),
        (CHAT, {"temperature": "1"}, "temperature"),
        (CHAT, {"top_p": True}, "top_p"),
        (CHAT, {"max_tokens": 5.0}, "max_tokens"),
        (CHAT, {"max_tokens": "5"}, "max_tokens"),
        (CHAT, {"max_completion_tokens": True}, "max_completion_tokens"),
        (CHAT, {"n": True}, "n"),
        (CHAT, {"seed": "1"}, "seed"),
        (CHAT, {"user": 5}, "user"),
        (CHAT, {"model": 5}, "model"),
        (CHAT, {"stream": True, "stream_options": {"include_usage": "yes"}}, None),
        (CHAT, {"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        (CHAT, {"messages": [{"role": "user", "content": "x", "name": 1}]}, "messages.0.name"),
        (COMPLETIONS, {"echo": "false"}, "echo"),
        (EMBEDDINGS, {"dimensions": "3"}, "dimensions"),
        (EMBEDDINGS, {"encoding_format": 1}, "encoding_format"),
        (EMBEDDINGS, {"input": 5}, "input"),
    ],
)
def test_types_are_strict(api, path, extra, param):
    base: dict[str, Any] = {
        CHAT: {"model": MODEL, "messages": _msgs()},
        COMPLETIONS: {"model": MODEL, "prompt": "1, 2,"},
        EMBEDDINGS: {"model": EMBEDDER, "input": "hello"},
    }[path]
    error = _error(api.post(path, json={**base, **extra}), 400)
    if param is None:  # nested: named by its path
        assert error["param"] == "stream_options.include_usage"
    else:
        assert error["param"] == param
    assert error["message"].startswith("invalid value for ")


def test_integers_for_numbers_and_nulls_for_defaults_are_accepted(api):
    payload = {
        "model": MODEL,
        "messages": _msgs(),
        "max_tokens": 1,
        "temperature": 0,
        "top_p": 1,
        "frequency_penalty": 0,
        "presence_penalty": None,
        "n": None,
        "stream": None,
    }
    r = api.post(CHAT, json=payload)
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "chat.completion"


# -- caps: messages and embedding inputs, before any tokenizing or redaction ---------------------


def test_messages_per_request_are_capped_before_redaction(api):
    before = _app(api).state.gateway.batcher.batches
    messages = [{"role": "user", "content": "A"}] * 2049  # compact: under the 64 KiB body limit
    body = json.dumps({"model": MODEL, "messages": messages}, separators=(",", ":")).encode()
    r = api.post(CHAT, content=body, headers={"content-type": "application/json"})
    error = _error(r, 400)
    assert error["param"] == "messages"
    assert "at most 2048 messages" in error["message"]
    assert _app(api).state.gateway.batcher.batches == before


def test_embedding_inputs_per_request_are_capped(api):
    before = _app(api).state.gateway.batcher.batches
    error = _error(api.post(EMBEDDINGS, json={"model": EMBEDDER, "input": ["x"] * 257}), 400)
    assert error["param"] == "input" and "at most 256 inputs" in error["message"]
    assert _app(api).state.gateway.batcher.batches == before


def test_caps_follow_the_configuration(capped):
    error = _error(capped.post(CHAT, json={"model": MODEL, "messages": _msgs() * 4}), 400)
    assert "at most 3 messages" in error["message"]
    r = capped.post(CHAT, json={"model": MODEL, "messages": _msgs() * 3, "max_tokens": 1})
    assert r.status_code == 200, r.text
    error = _error(capped.post(EMBEDDINGS, json={"model": EMBEDDER, "input": ["a"] * 3}), 400)
    assert "at most 2 inputs" in error["message"]
    r = capped.post(EMBEDDINGS, json={"model": EMBEDDER, "input": ["a", "b"]})
    assert r.status_code == 200, r.text


def test_caps_come_from_settings():
    from serving.config import Settings
    from serving.limits import request_limits

    settings = Settings.model_validate(
        {"server": {"max_messages": 10}, "embeddings": {"max_inputs": 7}}
    )
    assert request_limits(settings) == RequestLimits(max_messages=10, max_embedding_inputs=7)
    assert request_limits(Settings()) == RequestLimits(2048, 256)


# -- unknown fields: only names the API defines are echoed --------------------------------------


def test_unknown_field_names_are_not_echoed(api):
    r = api.post(
        CHAT, json={"model": MODEL, "messages": _msgs(), "marguerite_okonkwo_lindqvist": 1}
    )
    error = _error(r, 400)
    assert error["message"] == "1 unrecognized request argument"
    assert error["param"] is None
    assert "marguerite" not in r.text


def test_several_unknown_fields_are_counted(api):
    payload = {"model": MODEL, "messages": _msgs(), "tools": [], "jane_doe": 1, "Jane Doe": 2}
    r = api.post(CHAT, json=payload)
    error = _error(r, 400)
    assert error["message"] == "3 unrecognized request arguments" and error["param"] is None
    assert "jane" not in r.text.lower()


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"model": MODEL, "messages": _msgs(), "logit_bias": {}}, "logit_bias"),
        # (a chat request's `prompt` is Bastion's prompt-template reference, docs/models.md)
        ({"model": MODEL, "suffix": "x", "messages": _msgs()}, "suffix"),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x", "tool_calls": []}]},
            "messages.0.tool_calls",
        ),
    ],
)
def test_fields_the_api_defines_are_named(api, payload, param):
    error = _error(api.post(CHAT, json=payload), 400)
    assert error["message"] == f"unrecognized request argument: {param}"
    assert error["param"] == param


# -- HTTP: chunked bodies, 405 -------------------------------------------------------------------


def test_chunked_body_over_the_limit_is_413_and_not_read_past_it(api):
    chunk = b"x" * 65_536
    sent = 0

    async def body():  # 2 MB, chunked: no content-length
        nonlocal sent
        yield b'{"model": "' + MODEL.encode() + b'", "messages": [{"role": "user", "content": "'
        for _ in range(32):
            sent += 1
            yield chunk
        yield b'"}]}'

    r = api.post(CHAT, content=body(), headers={"content-type": "application/json"})
    error = _error(r, 413)
    assert error["code"] == "request_too_large"
    # The app's limit is 64 KiB: reading stopped at the chunk that crossed it.
    assert sent <= 2, f"{sent} chunks of 64 KiB were read"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", CHAT, "POST"), ("PUT", EMBEDDINGS, "POST"), ("POST", "/v1/models", "GET")],
)
def test_wrong_method_is_405_with_allow(api, method, path, allow):
    r = api.request(method, path, json={})
    _error(r, 405)
    assert r.headers["allow"] == allow


# -- OpenAPI -------------------------------------------------------------------------------------


def test_openapi_needs_a_key_and_describes_requests_and_errors(api, capped):
    assert _error(api.get("/openapi.json", key=None), 401)["code"] == "invalid_api_key"
    r = api.get("/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    schemas = doc["components"]["schemas"]
    assert {"ChatCompletionRequest", "CompletionRequest", "EmbeddingRequest"} <= set(schemas)
    assert schemas["ErrorResponse"]["properties"]["error"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in schemas
    chat = schemas["ChatCompletionRequest"]
    assert chat["properties"]["messages"]["maxItems"] == 2048
    assert chat["additionalProperties"] is False
    prompt = schemas["CompletionRequest"]["properties"]["prompt"]["anyOf"]
    assert {"type": "string", "minLength": 1} in prompt
    post = doc["paths"][CHAT]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ChatCompletionRequest"
    )
    for status in ("400", "401", "403", "404", "413", "422", "503"):
        ref = post["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorResponse"
    assert "422" in post["responses"] and "text/event-stream" in post["responses"]["200"]["content"]
    embed = capped.get("/openapi.json").json()["components"]["schemas"]["EmbeddingRequest"]
    arrays = [o for o in embed["properties"]["input"]["anyOf"] if o["type"] == "array"]
    assert arrays[0]["maxItems"] == 2


def test_openapi_can_be_anonymous(api, aio):
    app = create_api(max_body_bytes=64 * 1024, openapi_public=True)
    for name in ("gateway", "audit", "policy_reloader"):
        setattr(app.state, name, getattr(_app(api).state, name))
    public = Api(aio, app, api.keys)
    r = public.get("/openapi.json", key=None)
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
