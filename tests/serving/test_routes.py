"""OpenAI-compatible routes served in-process (the same app the Ray Ingress hosts)."""

from __future__ import annotations

import json

from tests.serving.conftest import MODEL


def _events(response) -> list:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_chat_completion(api):
    r = api.post(
        "/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
            "temperature": 0,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == MODEL
    assert body["id"] == "chatcmpl-" + r.headers["x-request-id"]
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert usage["completion_tokens"] <= 8 and usage["prompt_tokens"] > 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_streaming_matches_non_streaming_and_reports_usage(api):
    payload = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "List two fruits."}],
        "max_completion_tokens": 12,
        "temperature": 0,
        "seed": 7,
    }
    whole = api.post("/v1/chat/completions", json=payload).json()
    r = api.post(
        "/v1/chat/completions",
        json={**payload, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == whole["choices"][0]["message"]["content"]
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finals) == 1
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]


def test_text_completion_and_stop(api):
    r = api.post(
        "/v1/completions",
        json={
            "model": MODEL,
            "prompt": "1, 2, 3, 4,",
            "max_tokens": 20,
            "temperature": 0,
            "stop": [" 7"],
        },
    )
    body = r.json()
    assert r.status_code == 200 and body["object"] == "text_completion"
    assert "5" in body["choices"][0]["text"] and "7" not in body["choices"][0]["text"]
    assert body["choices"][0]["finish_reason"] == "stop"


def test_streamed_text_completion(api):
    r = api.post(
        "/v1/completions",
        json={
            "model": f"{MODEL}@v1",
            "prompt": "The capital of France is",
            "max_tokens": 5,
            "temperature": 0,
            "stream": True,
        },
    )
    events = _events(r)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] in {"stop", "length"}
    assert "".join(e["choices"][0]["text"] for e in events[:-1])


def test_embeddings_float_and_base64(api):
    r = api.post(
        "/v1/embeddings",
        json={
            "model": "all-minilm-l6-v2",
            "input": ["heart attack", "myocardial infarction", "quarterly bank statement"],
        },
    )
    body = r.json()
    assert r.status_code == 200 and len(body["data"]) == 3
    vecs = [d["embedding"] for d in body["data"]]
    assert len(vecs[0]) == 384

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(vecs[0], vecs[1]) > dot(vecs[0], vecs[2])
    assert body["usage"]["prompt_tokens"] > 3
    b64 = api.post(
        "/v1/embeddings",
        json={"model": "all-minilm-l6-v2", "input": "x", "encoding_format": "base64"},
    ).json()
    assert isinstance(b64["data"][0]["embedding"], str)


def test_models_listing(api):
    body = api.get("/v1/models").json()
    ids = {m["id"] for m in body["data"]}
    assert {MODEL, f"{MODEL}@v1", "all-minilm-l6-v2"} <= ids


def test_health_is_anonymous_and_ready(api):
    assert api.get("/healthz", key=None).json() == {"status": "ok"}
    r = api.get("/readyz", key=None)
    assert r.status_code == 200 and r.json()["models"][f"{MODEL}@v1"] == "ready"
