"""Bad input gets an OpenAI-style 4xx error body, never a 500 (in-process app, real model)."""

from __future__ import annotations

import pytest

from tests.serving.conftest import MODEL

CHAT = "/v1/chat/completions"


def _msg(content: str = "Hello") -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    assert response.headers["x-request-id"]
    return body["error"]


@pytest.mark.parametrize(
    ("payload", "param", "fragment"),
    [
        ({"model": MODEL, "messages": _msg(), "logit_bias": {}}, "logit_bias", "unrecognized"),
        ({"model": MODEL, "messages": _msg(), "temperature": 5}, "temperature", "temperature"),
        ({"model": MODEL, "messages": _msg(), "max_tokens": 0}, "max_tokens", "max_tokens"),
        ({"model": MODEL, "messages": _msg(), "n": 3}, "n", "n"),
        ({"model": MODEL, "messages": []}, "messages", "messages"),
        ({"model": MODEL}, "messages", "missing"),
        (
            {"model": MODEL, "messages": [{"role": "robot", "content": "x"}]},
            "messages.0.role",
            "role",
        ),
        (
            {"model": MODEL, "messages": _msg(), "stream_options": {"include_usage": True}},
            None,
            "stream_options",
        ),
        (
            {"model": MODEL, "messages": _msg(), "response_format": {"type": "xml"}},
            "response_format.type",
            "response_format",
        ),
    ],
)
def test_invalid_parameters_are_400(api, payload, param, fragment):
    error = _error(api.post(CHAT, json=payload), 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]


def test_client_chosen_keys_are_not_echoed(api):
    r = api.post(CHAT, json={"model": MODEL, "messages": _msg(), "John Q. Public": 1})
    error = _error(r, 400)
    assert error["message"] == "1 unrecognized request argument" and error["param"] is None
    assert "Public" not in r.text


def test_malformed_json_is_400(api):
    r = api.post(
        CHAT, content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in _error(r, 400)["message"]


def test_unknown_model_is_404(api):
    error = _error(api.post(CHAT, json={"model": "gpt-9", "messages": _msg()}), 404)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "gpt-9" not in error["message"]


@pytest.mark.parametrize(
    "key", [None, "sk-not-a-bastion-key", "revoked", "bst_0123456789abcdef_" + "A" * 43]
)
def test_missing_bad_or_revoked_key_is_401(api, key):
    error = _error(api.post(CHAT, key=key, json={"model": MODEL, "messages": _msg()}), 401)
    assert error["code"] == "invalid_api_key"


def test_prompt_longer_than_context_is_400(api):
    r = api.post(CHAT, json={"model": MODEL, "messages": _msg("patient note " * 1500)})
    error = _error(r, 400)
    assert error["code"] == "context_length_exceeded"
    assert "patient" not in error["message"]


def test_max_tokens_beyond_context_is_400(api):
    r = api.post(CHAT, json={"model": MODEL, "messages": _msg(), "max_tokens": 4000})
    assert _error(r, 400)["code"] == "context_length_exceeded"


def test_oversized_body_is_413(api):
    r = api.post(CHAT, json={"model": MODEL, "messages": _msg("x" * 70_000)})
    assert _error(r, 413)["code"] == "request_too_large"


def test_unknown_path_and_method(api):
    assert _error(api.get("/v1/nothing-here"), 404)["type"] == "not_found_error"
    assert _error(api.get(CHAT), 405)


def test_embedding_errors(api):
    assert _error(api.post("/v1/embeddings", json={"model": "nope", "input": "a"}), 404)
    assert _error(api.post("/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": []}), 400)
    r = api.post(
        "/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": "a", "dimensions": 10}
    )
    assert _error(r, 400)["param"] == "dimensions"
    r = api.post("/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": "word " * 600})
    assert _error(r, 400)["code"] == "context_length_exceeded"


def test_metrics_require_a_key(api):
    assert _error(api.get("/metrics", key=None), 401)
    r = api.get("/metrics")
    assert r.status_code == 200 and "bastion_requests_total" in r.text


def test_state_store_outage_is_a_503_that_names_no_detail():
    """A state store that cannot be reached (keys, policy) fails closed as a 503, and its own
    message (which may hold a DSN or a host) never reaches the client."""
    from serving.pipeline.errors import error_response
    from state import StateUnavailable

    status, body = error_response(StateUnavailable("postgresql://bastion:secret@db:5432 down"))
    assert status == 503
    assert body["error"]["code"] == "state_unavailable"
    assert "secret" not in body["error"]["message"] and "db:5432" not in body["error"]["message"]
