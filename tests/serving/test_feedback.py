"""POST /v1/feedback on the in-process app with the real bundled model, redactor and audit log:
linked to the answered request, redacted before it is stored, recorded, counted per version."""

from __future__ import annotations

import json

import pytest

from policies.audit import RecordFilter
from serving.feedback import FEEDBACK_NS, SERVED_NS, list_feedback
from serving.observability import METRICS
from tests.serving.conftest import MODEL

CHAT = "/v1/chat/completions"
NAME, MRN = "Jonathan Quayle", "48213377"
MODEL_VERSION = f"{MODEL}@v1"


def _answer(api, key: str = "app", stream: bool = False) -> str:
    body = {
        "model": MODEL,
        "max_tokens": 4,
        "temperature": 0,
        "stream": stream,
        "messages": [{"role": "user", "content": f"Summarise: {NAME}, MRN {MRN}, stable."}],
    }
    r = api.post(CHAT, key, json=body)
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"]


def _count(label: str) -> float:
    return METRICS.feedback.labels(MODEL_VERSION, label)._value.get()


def _records(api) -> list:
    out, cursor = [], None
    while True:
        page = api.aio.run(api.audit_log.query(RecordFilter(), 1000, cursor))
        out += [r for _, r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            return out


def _store(api):
    return api.client._transport.app.state.gateway.keys.store


def test_feedback_is_redacted_stored_linked_audited_and_counted(api):
    request_id = _answer(api)
    before = _count("up")
    r = api.post(
        "/v1/feedback",
        json={
            "request_id": request_id,
            "rating": 1,
            "comment": f"Wrong patient, this is {NAME} (MRN {MRN})",
            "corrected_answer": f"{NAME}, MRN {MRN}: stable, discharge home.",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "object": "feedback",
        "request_id": request_id,
        "model_version": MODEL_VERSION,
        "rating": 1,
        "scale": "thumbs",
    }
    assert _count("up") == before + 1

    raw = _store(api).get(FEEDBACK_NS, request_id)
    assert raw is not None
    assert NAME.encode() not in raw and MRN.encode() not in raw
    stored = json.loads(raw)
    assert stored["model_version"] == MODEL_VERSION and stored["tenant"] == "acme"
    assert "[PERSON_1]" in stored["comment"]  # placeholders took the values
    assert "discharge home" in stored["correction"]

    feedback_records = [
        rec
        for rec in _records(api)
        if rec.event_type == "feedback.submitted" and rec.detail["feedback_for"] == request_id
    ]
    (record,) = feedback_records
    assert record.detail["rating"] == "up" and record.detail["correction"] == "yes"
    assert record.detail["model_version"] == MODEL_VERSION
    dumped = record.model_dump_json()
    assert NAME not in dumped and MRN not in dumped
    assert any(f["request_id"] == request_id for f in list_feedback(_store(api)))


def test_streamed_answer_takes_star_ratings(api):
    request_id = _answer(api, stream=True)
    before = _count("4")
    r = api.post("/v1/feedback", json={"request_id": request_id, "rating": 4})
    assert r.status_code == 200, r.text
    assert r.json()["scale"] == "stars"
    assert _count("4") == before + 1


def test_served_marker_holds_no_text_without_capture(api):
    request_id = _answer(api)
    marker = json.loads(_store(api).get(SERVED_NS, request_id))
    assert set(marker) == {"tenant", "model_version", "route", "at"}


def test_unknown_and_foreign_request_ids_are_404(api):
    r = api.post("/v1/feedback", json={"request_id": "0" * 32, "rating": 1})
    assert r.status_code == 404 and r.json()["error"]["type"]
    clinic_answer = _answer(api)  # acme's answer, rated with a key of tenant clinic
    r = api.post("/v1/feedback", "clinic", json={"request_id": clinic_answer, "rating": 1})
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"rating": 7}, "rating"),
        ({"rating": "good"}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": 0, "scale": "stars"}, "rating"),
        ({"rating": -1, "scale": "percent"}, "scale"),
        ({"rating": 1, "comment": 5}, "comment"),
    ],
)
def test_bad_feedback_is_400(api, body, param):
    request_id = _answer(api)
    r = api.post("/v1/feedback", json={"request_id": request_id, **body})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_bad_request_id_and_body_are_400(api):
    assert api.post("/v1/feedback", json={"rating": 1}).status_code == 400
    assert api.post("/v1/feedback", json={"request_id": "a b", "rating": 1}).status_code == 400
    assert api.post("/v1/feedback", content=b"[1]").status_code == 400


def test_feedback_needs_an_app_key(api):
    request_id = _answer(api)
    assert api.post("/v1/feedback", None, json={"request_id": request_id}).status_code == 401
    r = api.post("/v1/feedback", "auditor", json={"request_id": request_id, "rating": 1})
    assert r.status_code == 403
