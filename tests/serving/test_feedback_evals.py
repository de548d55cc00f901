"""Feedback to eval cases, end to end on the in-process app (real model, redactor, store):
corrected and well-rated answers become cases; identifiers never reach the eval set file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from policies.audit import AuditConfig
from serving.cli import app
from serving.evals.cases import load_cases
from serving.feedback import FEEDBACK_NS, SERVED_NS
from state import open_state
from tests.serving.conftest import MODEL

NAME, MRN, DOB = "Jonathan Quayle", "48213377", "03/14/1961"


@pytest.fixture
def capture(api):
    """This deployment keeps redacted content (audit.capture: redacted) for the marker."""
    gateway = api.client._transport.app.state.gateway
    before = gateway.capture
    gateway.capture = True
    yield gateway
    gateway.capture = before


def _ask(api, text: str) -> str:
    r = api.post(
        "/v1/chat/completions",
        json={
            "model": MODEL,
            "max_tokens": 6,
            "temperature": 0,
            "messages": [{"role": "user", "content": text}],
        },
    )
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"]


def test_from_feedback_round_trip_keeps_identifiers_out(api, capture, tmp_path):
    store = capture.keys.store
    corrected = _ask(api, f"Summarise: {NAME}, MRN {MRN}, born {DOB}, pneumonia, improving.")
    liked = _ask(api, "How do I reset my online banking password?")
    disliked = _ask(api, "What are your opening hours?")
    marker = json.loads(store.get(SERVED_NS, corrected))
    assert marker["messages"][0]["role"] == "user"
    assert NAME not in json.dumps(marker) and MRN not in json.dumps(marker)

    bodies = [
        {"request_id": corrected, "rating": -1, "corrected_answer": f"{NAME} ({MRN}): pneumonia."},
        {"request_id": liked, "rating": 5},
        {"request_id": disliked, "rating": 1, "scale": "stars"},
    ]
    for body in bodies:
        assert api.post("/v1/feedback", json=body).status_code == 200

    # `bastion eval from-feedback` reads the configured state store of a data folder: put the
    # stored feedback records (bytes as stored) into one
    data = tmp_path / "data"
    data.mkdir()
    target = open_state(AuditConfig(), data)
    for rid in (corrected, liked, disliked):
        target.put(FEEDBACK_NS, rid, store.get(FEEDBACK_NS, rid))
    target.close()
    out = tmp_path / "from-feedback.jsonl"
    cli = CliRunner().invoke(
        app,
        ["eval", "from-feedback", "--since", "1d", "--out", str(out), "--data-dir", str(data)],
        env={"BASTION_CONFIG": ""},
    )
    assert cli.exit_code == 0, cli.output
    assert "2 cases from 3 feedback records" in cli.output
    assert "1 skipped: neither corrected nor rated well" in cli.output

    raw = out.read_text()
    for value in (NAME, "Quayle", MRN, DOB):
        assert value not in raw
    cases = {c.id: c for c in load_cases(out)}
    case = cases[f"feedback-{corrected}"]
    assert "[PERSON_1]" in case.messages[0]["content"] and "pneumonia" in case.expected
    assert set(case.tags) == {"feedback", "corrected", "rating:down"}
    assert cases[f"feedback-{liked}"].tags == ["feedback", "rated", "rating:5"]
    assert case.checks == [{"type": "similarity"}]

    future = CliRunner().invoke(
        app,
        [
            "eval",
            "from-feedback",
            "--since",
            "2999-01-01",
            "--out",
            str(out),
            "--data-dir",
            str(data),
        ],
        env={"BASTION_CONFIG": ""},
    )
    assert future.exit_code == 0 and "0 cases from 0" in future.output


def test_eval_run_against_a_server_with_url_and_key(api, tmp_path):
    """`bastion eval run --url --key`: the openai SDK over TCP to the app served by uvicorn
    (on the test loop, where the model lives); the answers are then rated through feedback."""
    import asyncio
    import socket
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app_ = api.client._transport.app
    server = uvicorn.Server(uvicorn.Config(app_, host="127.0.0.1", port=port, log_level="error"))
    running = asyncio.run_coroutine_threadsafe(server.serve(), api.aio.loop)
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        evalset = tmp_path / "set.jsonl"
        case = {
            "id": "hello",
            "tags": ["smoke"],
            "messages": [{"role": "user", "content": "Say hello."}],
            "checks": [{"type": "regex", "pattern": "."}],
            "max_tokens": 4,
        }
        evalset.write_text(json.dumps(case) + "\n")
        out = tmp_path / "r.json"
        args = ["eval", "run", str(evalset), "--model", MODEL, "--url", f"http://127.0.0.1:{port}"]
        args += ["--key", api.keys["app"], "--out", str(out), "--no-progress"]
        cli = CliRunner().invoke(app, args)
        assert cli.exit_code == 0, cli.output
        result = json.loads(out.read_text())
        (answered,) = result["cases"]
        assert answered["status"] == 200 and answered["model_version"] == f"{MODEL}@v1"
        assert result["target"] == f"http://127.0.0.1:{port}"
        # the result's request id is the server's: it can be rated
        body = {"request_id": answered["request_id"], "rating": 1}
        assert api.post("/v1/feedback", json=body).status_code == 200
        args[args.index("--key") + 1] = "sk-wrong"
        wrong_key = CliRunner().invoke(app, args)
        assert wrong_key.exit_code == 2  # a refused key is a usage error, not a score
        assert "refused the key" in wrong_key.output
    finally:
        server.should_exit = True
        running.result(30)
