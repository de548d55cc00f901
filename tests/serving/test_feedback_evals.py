"""Feedback to eval cases, end to end on the in-process app (real model, redactor, store):
corrected and well-rated answers become cases; identifiers never reach the eval set file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from policies.audit import AuditConfig
from policies.audit.store.base import RecordFilter
from serving.cli import app
from serving.evals.cases import load_cases
from serving.feedback import FEEDBACK_NS, SERVED_NS
from state import open_state
from tests.serving.conftest import MODEL
from tests.serving.test_capture import capture_app  # noqa: F401  (app with captured content)

NAME, MRN, DOB = "Jonathan Quayle", "48213377", "03/14/1961"


def _ask(aio, client, key: str, text: str) -> str:
    r = aio.run(
        client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={
                "model": MODEL,
                "max_tokens": 6,
                "temperature": 0,
                "messages": [{"role": "user", "content": text}],
            },
        )
    )
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"]


def test_from_feedback_round_trip_keeps_identifiers_out(capture_app, tmp_path):  # noqa: F811
    """A deployment with audit.capture: redacted (tests/serving/test_capture.py's app). The
    feedback marker keeps only the message roles; `bastion eval from-feedback` reads the
    redacted texts from the audit log's encrypted captured content, and the read is audited."""
    aio, client, key, log, data = capture_app
    gateway = client._transport.app.state.gateway
    store = gateway.keys.store
    corrected = _ask(aio, client, key, f"Summarise: {NAME}, MRN {MRN}, born {DOB}, pneumonia.")
    liked = _ask(aio, client, key, "How do I reset my online banking password?")
    disliked = _ask(aio, client, key, "What are your opening hours?")
    marker = json.loads(store.get(SERVED_NS, corrected))
    assert marker["roles"] == ["user"] and "messages" not in marker  # no text outside the log
    assert NAME not in json.dumps(marker) and MRN not in json.dumps(marker)

    bodies = [
        {"request_id": corrected, "rating": -1, "corrected_answer": f"{NAME} ({MRN}): pneumonia."},
        {"request_id": liked, "rating": 5},
        {"request_id": disliked, "rating": 1, "scale": "stars"},
    ]
    for body in bodies:
        r = aio.run(
            client.post("/v1/feedback", json=body, headers={"authorization": f"Bearer {key}"})
        )
        assert r.status_code == 200, r.text

    # `bastion eval from-feedback` reads the state store of the data folder: put the stored
    # feedback records (bytes as stored) there, beside the app's audit log and its KEK
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
    reads = aio.run(log.query(RecordFilter(event_type="audit.content_read"), 100, None))
    assert len(reads.records) >= 3  # every captured content it read is in the audit log

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
