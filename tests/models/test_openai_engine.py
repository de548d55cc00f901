"""Engine `openai` against real upstreams started by the tests.

- A recording upstream: a real HTTP server (uvicorn, in a thread) that records every request it
  receives and answers as each test tells it (stream, fail with 5xx, stall, redirect...). It is a
  test double only for faults a real model server cannot be made to produce on demand.
- llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`) on the bundled
  GGUF (marked slow).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from models.engines import ContextLengthExceeded, EngineUnavailable, create_engine
from models.engines.base import ChatMessage, Sampling
from models.engines.openai import (
    OpenAIEngine,
    OpenAIUpstream,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    check_upstream_hosts,
)
from serving.config import ModelConfig
from tests.conftest import collect

PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*_\d+\]")
SECRET = "Jonathan Whitfield-Okafor, MRN 4471093, jw.okafor@stmarys-example.org"


# -- a recording upstream --------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Recorder:
    """An OpenAI-compatible upstream that records what arrives. ``script`` holds the behaviour of
    the next requests (then ``answer``): "answer", ("status", code, body), ("sleep", seconds),
    "cut" (stream ends without finishing), "error_event", ("redirect", url), "gated" (the second
    chunk waits for ``gate``). An answer repeats the request's placeholders, like a model would."""

    received: list[Received] = field(default_factory=list)
    script: list[Any] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    usage: bool = True

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(scope["path"], headers, body))
        action = self.script.pop(0) if self.script else "answer"
        kind = action[0] if isinstance(action, tuple) else action
        if kind == "status":
            await _respond(send, action[1], action[2].encode())
            return
        if kind == "redirect":
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [(b"location", action[1].encode())],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if kind == "sleep":
            await asyncio.sleep(action[1])
        chat = scope["path"].endswith("/chat/completions")
        placeholders = PLACEHOLDER.findall(body.decode())
        words = ["Noted", *[f" {p}" for p in placeholders], "."]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for i, word in enumerate(words):
            if kind == "gated" and i == 1:
                await asyncio.to_thread(self.gate.wait, 30)
            if kind == "error_event" and i == 1:
                await _event(send, {"error": {"message": f"failed on: {body.decode()}"}})
                await _event(send, "[DONE]", last=True)
                return
            piece = {"delta": {"content": word}} if chat else {"text": word}
            await _event(send, {"choices": [{"index": 0, **piece, "finish_reason": None}]})
            if kind == "cut" and i == 0:
                await send({"type": "http.response.body", "body": b""})
                return
        done = {"delta": {}} if chat else {"text": ""}
        await _event(send, {"choices": [{"index": 0, **done, "finish_reason": "stop"}]})
        if self.usage:
            usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 0}
            await _event(send, {"choices": [], "usage": usage})
        await _event(send, "[DONE]", last=True)


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _event(send: Any, data: Any, last: bool = False) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    await send(
        {"type": "http.response.body", "body": f"data: {text}\n\n".encode(), "more_body": not last}
    )


class ThreadServer:
    """A uvicorn server on a free loopback port, in a daemon thread (``tls``: uvicorn's ssl
    options, and the URL is https)."""

    def __init__(self, app: Any, **tls: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.scheme = "https" if tls else "http"
        config = uvicorn.Config(
            app, log_level="warning", log_config=None, lifespan="off", timeout_keep_alive=30, **tls
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "recording upstream did not start"
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, ThreadServer]]:
    rec = Recorder()
    server = ThreadServer(rec)
    yield rec, server
    rec.gate.set()
    server.stop()


def make_engine(aio: Any, base_url: str, **options: Any) -> OpenAIEngine:
    options.setdefault("retry_backoff_s", 0.01)
    upstream = OpenAIUpstream(base_url=base_url, model="upstream-model", **options)
    engine = OpenAIEngine("proxied", "v1", upstream, context_length=2048)
    aio.run(engine.start())
    return engine


HELLO = (ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello to [PERSON_1]."))


# -- streaming and whole answers -------------------------------------------------------------------


def test_chat_streams_delta_by_delta(aio: Any, recorder: Any) -> None:
    rec, server = recorder
    rec.script = ["gated"]
    engine = make_engine(aio, server.url)

    async def first_then_rest() -> tuple[Any, list[Any]]:
        stream = engine.chat(HELLO, Sampling(max_tokens=20))
        first = await stream.__anext__()  # arrives while the upstream holds the rest back
        rec.gate.set()
        return first, await collect(stream)

    first, rest = aio.run(first_then_rest())
    assert first.text == "Noted" and first.finish_reason is None
    assert "".join(d.text for d in rest) == " [PERSON_1]."
    assert rest[-1].finish_reason == "stop" and rest[-1].usage.prompt_tokens == 11
    assert rest[-1].usage.completion_tokens == 3
    aio.run(engine.close())


def test_what_arrives_upstream(aio: Any, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rec, server = recorder
    monkeypatch.setenv("UPSTREAM_TEST_KEY", "sk-test-123")
    engine = make_engine(aio, server.url, api_key_env="UPSTREAM_TEST_KEY")
    sampling = Sampling(max_tokens=7, temperature=0.0, top_p=0.5, stop=("\n",), seed=3)
    aio.run(collect(engine.chat(HELLO, sampling)))
    aio.run(collect(engine.complete("Once upon", Sampling())))
    chat, plain = rec.received
    assert chat.path == "/v1/chat/completions" and plain.path == "/v1/completions"
    assert chat.headers["authorization"] == "Bearer sk-test-123"
    assert chat.json() == {
        "model": "upstream-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello to [PERSON_1]."},
        ],
        "max_tokens": 7,
        "temperature": 0.0,
        "top_p": 0.5,
        "stop": ["\n"],
        "seed": 3,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert plain.json()["prompt"] == "Once upon"
    assert plain.json()["max_tokens"] == engine.default_max_tokens  # none asked: the default
    aio.run(engine.close())


def test_completion_text_and_usage(aio: Any, recorder: Any) -> None:
    _, server = recorder
    engine = make_engine(aio, server.url)
    out = aio.run(collect(engine.complete("Continue: [EMAIL_1]", Sampling(max_tokens=5))))
    assert "".join(d.text for d in out) == "Noted [EMAIL_1]."
    assert out[-1].usage.prompt_tokens == 11 and out[-1].finish_reason == "stop"
    aio.run(engine.close())


def test_usage_estimated_when_the_upstream_reports_none(aio: Any, recorder: Any) -> None:
    rec, server = recorder
    rec.usage = False
    engine = make_engine(aio, server.url, stream_usage=False)
    out = aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
    assert "stream_options" not in rec.received[0].json()
    usage = out[-1].usage
    assert usage.completion_tokens == 3  # three content chunks
    assert usage.prompt_tokens >= engine.count_tokens("Be brief.Say hello to [PERSON_1].")
    aio.run(engine.close())


# -- failures ------------------------------------------------------------------------------------


def test_upstream_500_is_typed_and_does_not_echo(aio: Any, recorder: Any) -> None:
    rec, server = recorder
    rec.script = [("status", 500, json.dumps({"error": {"message": f"boom on {SECRET}"}}))]
    engine = make_engine(aio, server.url)
    with pytest.raises(UpstreamFailed) as caught:
        aio.run(collect(engine.chat((ChatMessage("user", SECRET),), Sampling(max_tokens=5))))
    assert str(caught.value) == "the upstream model server failed (HTTP 500)"
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert len(rec.received) == 1  # a 500 is not retried
    aio.run(engine.close())


def test_502_503_504_are_retried_before_any_byte(aio: Any, recorder: Any) -> None:
    rec, server = recorder
    rec.script = [("status", 503, "{}"), ("status", 502, "{}"), "answer"]
    engine = make_engine(aio, server.url, max_retries=2)
    out = aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
    assert out[-1].finish_reason == "stop" and len(rec.received) == 3
    rec.script = [("status", 504, "{}")] * 3
    with pytest.raises(UpstreamUnavailable, match=r"^the upstream model server is unavailable"):
        aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
    assert len(rec.received) == 6
    aio.run(engine.close())


def test_upstream_timeout(aio: Any, recorder: Any) -> None:
    rec, server = recorder
    rec.script = [("sleep", 3.0)]
    engine = make_engine(aio, server.url, read_timeout_s=0.3)
    with pytest.raises(UpstreamTimeout):
        aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
    assert len(rec.received) == 1  # a read timeout is not retried (the upstream may be working)
    aio.run(engine.close())


def test_unreachable_upstream_is_retried_then_unavailable(aio: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    engine = make_engine(aio, f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(UpstreamUnavailable, match="unreachable"):
        aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
    aio.run(engine.close())


@pytest.mark.parametrize(
    ("action", "error"),
    [("cut", UpstreamFailed), ("error_event", UpstreamFailed)],
)
def test_broken_streams(aio: Any, recorder: Any, action: str, error: type) -> None:
    rec, server = recorder
    rec.script = [action]
    engine = make_engine(aio, server.url)
    with pytest.raises(error) as caught:
        aio.run(collect(engine.chat((ChatMessage("user", SECRET),), Sampling(max_tokens=5))))
    assert "Whitfield" not in str(caught.value) and caught.value.__context__ is None
    aio.run(engine.close())


@pytest.mark.parametrize(
    ("body", "numbers"),
    [
        (
            "This model's maximum context length is 2048 tokens. However, you requested 2100 "
            "tokens (2000 in the messages, 100 in the completion). " + SECRET,
            (2048, 2000, 100),
        ),
        (  # llama-cpp-python's server
            "This model's maximum context length is 2048 tokens, however you requested 2113 "
            "tokens (2101 in your prompt; 12 for the completion). Please reduce your prompt.",
            (2048, 2101, 12),
        ),
        ("Requested tokens (2100) exceed context window of 2048", (2048, 2100, 0)),
    ],
)
def test_context_length_errors_keep_only_numbers(
    aio: Any, recorder: Any, body: str, numbers: tuple[int, int, int]
) -> None:
    rec, server = recorder
    rec.script = [("status", 400, json.dumps({"error": {"message": body}}))]
    engine = make_engine(aio, server.url)
    with pytest.raises(ContextLengthExceeded) as caught:
        aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=100))))
    exc = caught.value
    assert (exc.context_length, exc.prompt_tokens, exc.max_tokens) == numbers
    assert "Whitfield" not in str(exc)
    aio.run(engine.close())


def test_other_4xx_is_rejected_without_echo(aio: Any, recorder: Any) -> None:
    rec, server = recorder
    rec.script = [("status", 422, json.dumps({"detail": SECRET}))]
    engine = make_engine(aio, server.url)
    with pytest.raises(UpstreamRejected) as caught:
        aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
    assert str(caught.value) == "the upstream model server rejected the request (HTTP 422)"
    aio.run(engine.close())


def test_redirects_and_environment_proxies_are_never_followed(
    aio: Any, recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, server = recorder
    elsewhere = Recorder()
    other = ThreadServer(elsewhere)
    try:
        # An HTTP proxy from the environment would receive the request: it must not.
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{other.port}")
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{other.port}")
        monkeypatch.setenv("NO_PROXY", "")
        engine = make_engine(aio, server.url)
        aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
        assert len(rec.received) == 1 and elsewhere.received == []
        rec.script = [("redirect", other.url + "/chat/completions")]
        with pytest.raises(UpstreamFailed, match="redirected"):
            aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
        assert elsewhere.received == []
        aio.run(engine.close())
    finally:
        other.stop()


def test_response_format_only_when_the_upstream_enforces_it(aio: Any, recorder: Any) -> None:
    from models.engines.base import EngineError, ResponseFormat

    rec, server = recorder
    schema = Sampling(
        max_tokens=5,
        response_format=ResponseFormat("json_schema", json.dumps({"type": "object"})),
    )
    refusing = make_engine(aio, server.url)
    with pytest.raises(EngineError, match="not supported"):
        aio.run(collect(refusing.chat(HELLO, schema)))
    assert rec.received == []
    enforcing = make_engine(aio, server.url, response_format=True)
    aio.run(collect(enforcing.chat(HELLO, schema)))
    assert rec.received[0].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}},
    }
    for engine in (refusing, enforcing):
        aio.run(engine.close())


def make_pki(folder: Path) -> dict[str, Path]:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def build(subject: str, key: Any, issuer_key: Any, ca: bool) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name("Bastion test CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        build("Bastion test CA", ca_key, ca_key, True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca": folder / "ca.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            build(f"bastion-{role}", key, ca_key, False)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), False)
            .sign(ca_key, hashes.SHA256())
        )
        files[role] = folder / f"{role}.pem"
        files[role].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{role}_key"] = folder / f"{role}.key"
        files[f"{role}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return files


def test_mutual_tls_with_a_ca_bundle_and_a_client_certificate(aio: Any, tmp_path: Path) -> None:
    import ssl

    pki = make_pki(tmp_path)
    rec = Recorder()
    server = ThreadServer(
        rec,
        ssl_certfile=str(pki["server"]),
        ssl_keyfile=str(pki["server_key"]),
        ssl_ca_certs=str(pki["ca"]),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    try:
        assert server.url.startswith("https://")
        engine = make_engine(
            aio,
            server.url,
            ca_bundle=pki["ca"],
            client_cert=pki["client"],
            client_key=pki["client_key"],
        )
        out = aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
        assert out[-1].finish_reason == "stop" and len(rec.received) == 1
        aio.run(engine.close())
        # Without the CA bundle the server is not trusted; without a client certificate the
        # server refuses the connection. Nothing arrives either way.
        for options, error in (
            ({}, UpstreamUnavailable),  # certificate verify failed: no connection
            # TLS 1.3: the server drops the connection once it sees no certificate, as the
            # client reads (broken stream) or before any answer (unreachable).
            ({"ca_bundle": pki["ca"]}, (UpstreamFailed, UpstreamUnavailable)),
        ):
            engine = make_engine(aio, server.url, max_retries=0, **options)
            with pytest.raises(error):
                aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
            aio.run(engine.close())
        assert len(rec.received) == 1
    finally:
        server.stop()


def test_unreadable_tls_files_fail_at_start(aio: Any, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    upstream = OpenAIUpstream(
        base_url="https://127.0.0.1:9/v1", model="m", ca_bundle=tmp_path / "ca.pem"
    )
    with pytest.raises(EngineUnavailable, match="TLS files"):
        aio.run(OpenAIEngine("m", "v1", upstream).start())


# -- configuration ---------------------------------------------------------------------------------


def test_api_key_from_a_file(aio: Any, recorder: Any, tmp_path: Path) -> None:
    rec, server = recorder
    (tmp_path / "key").write_text("sk-from-file\n")
    engine = make_engine(aio, server.url, api_key_file=tmp_path / "key")
    aio.run(collect(engine.chat(HELLO, Sampling(max_tokens=5))))
    assert rec.received[0].headers["authorization"] == "Bearer sk-from-file"
    aio.run(engine.close())


def test_missing_key_source_fails_at_start(aio: Any, tmp_path: Path) -> None:
    os.environ.pop("BASTION_TEST_ABSENT_KEY", None)
    for options in ({"api_key_env": "BASTION_TEST_ABSENT_KEY"}, {"api_key_file": tmp_path / "x"}):
        upstream = OpenAIUpstream(base_url="http://127.0.0.1:9/v1", model="m", **options)
        with pytest.raises(EngineUnavailable):
            aio.run(OpenAIEngine("m", "v1", upstream).start())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api_key": "sk-live-abcdef"}, "must not be written in the configuration"),
        ({"api_key_env": "sk-live-abcdef"}, "name of an environment variable"),
        ({"base_url": "http://gpu1.internal:8000/v1"}, "plain http"),
        ({"base_url": "https://user:pw@gpu1.internal/v1"}, "credentials"),
        ({"base_url": "ftp://gpu1.internal/v1"}, "http"),
        ({"base_url": "https://gpu1.internal/v1?key=x"}, "query"),
        ({"client_key": "/k.pem"}, "client_key needs client_cert"),
        ({"api_key_env": "A", "api_key_file": "/k"}, "not both"),
    ],
)
def test_configuration_is_checked(options: dict[str, Any], message: str) -> None:
    data = {"base_url": "https://gpu1.internal/v1", "model": "m", **options}
    with pytest.raises(ValidationError) as caught:
        OpenAIUpstream(**data)
    text = str(caught.value)
    assert message in text
    assert "sk-live" not in re.sub(r"input_value=.*", "", text)  # the message never names it


def test_plain_http_needs_loopback_or_an_explicit_choice() -> None:
    assert OpenAIUpstream(base_url="http://localhost:8000/v1", model="m").port == 8000
    assert OpenAIUpstream(base_url="http://[::1]:8000/v1", model="m").host == "::1"
    explicit = OpenAIUpstream(base_url="http://gpu1.internal/v1", model="m", allow_plain_http=True)
    assert (explicit.host, explicit.port) == ("gpu1.internal", 80)
    assert OpenAIUpstream(base_url="https://gpu1.internal/v1", model="m").port == 443


def test_model_config_engine_openai_needs_upstream() -> None:
    upstream = {"base_url": "https://gpu1.internal/v1", "model": "llama"}
    config = ModelConfig(name="llama", engine="openai", site="fra", upstream=upstream)
    assert config.upstream is not None and config.upstream.model == "llama"
    with pytest.raises(ValidationError, match="upstream"):
        ModelConfig(name="llama", engine="openai")
    with pytest.raises(ValidationError, match="upstream"):
        ModelConfig(name="llama", engine="llamacpp", upstream=upstream)


# -- end to end: a client, Bastion (in-process: HTTP routes, pipeline, real redaction, policy and
#    audit), engine openai, a real upstream -------------------------------------------------------

TEXT = (
    "Patient Maria Gonzalez (MRN 4471093), email maria.gonzalez@stmarys-example.org, phone "
    "+1 415 555 0142, card 4111 1111 1111 1111, asked about her results."
)
IDENTIFIERS = (
    "Maria Gonzalez",
    "4471093",
    "maria.gonzalez@stmarys-example.org",
    "+1 415 555 0142",
    "4111 1111 1111 1111",
)
FRAGMENTS = ("Maria", "Gonzalez", "gonzalez", "4471093", "stmarys", "555 0142", "4111")


def leaks(text: str) -> list[str]:
    return [fragment for fragment in FRAGMENTS if fragment in text]


class Bastion:
    """Bastion in this process, forwarding each model to its upstream; `client` is the official
    openai SDK over HTTP to the ASGI app."""

    def __init__(self, aio: Any, folder: Path, upstreams: dict[str, OpenAIUpstream]) -> None:
        from openai import AsyncOpenAI

        from models.deployment import ModelServer
        from models.registry import Registry
        from policies.access import KeyStore, Role
        from policies.audit import AuditConfig, build_audit_log
        from policies.decide import PolicyEngine
        from serving.api import create_api
        from serving.audit_client import LocalAuditClient
        from serving.gateway import Gateway, StaticSites

        self.aio = aio
        policy = folder / "policy.yaml"
        versions = "".join(
            f"  - {{id: {name}@v1, site: local, approved_data_classes: [PHI, PCI, PII]}}\n"
            for name in upstreams
        )
        policy.write_text(
            "sites:\n  - {id: local, jurisdiction: DE, region: EU, upstream_hosts: [127.0.0.1]}\n"
            f"tenants:\n  - {{id: acme, sites: [local], models: [{', '.join(upstreams)}]}}\n"
            f"models:\n{versions}"
        )
        configs = [
            ModelConfig(name=name, engine="openai", upstream=up) for name, up in upstreams.items()
        ]
        policy_engine = PolicyEngine.from_paths([policy])
        assert check_upstream_hosts(configs, policy_engine.policy_set) == []
        servers = {}
        self.engines = []
        for config in configs:
            engine = create_engine(config)
            aio.run(engine.start())
            self.engines.append(engine)
            server = ModelServer(engine, default_max_tokens=16)
            server.ready = True
            servers[config.key] = server
        store = KeyStore(folder / "keys.db")
        self.key = store.create("acme", Role.APP)[0]
        gateway = Gateway(
            store,
            Registry(configs),
            policy_engine,
            StaticSites({"local"}),
            servers,
            None,
            _shared_redactor(),
        )
        app = create_api()
        app.state.gateway = gateway
        self.audit_log = aio.run(build_audit_log(AuditConfig(), folder / "data"))
        app.state.audit = LocalAuditClient(self.audit_log)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5555)), timeout=120
        )
        self.client = AsyncOpenAI(
            base_url="http://bastion.test/v1",
            api_key=self.key,
            http_client=self.http,
            max_retries=0,
        )

    def chat(self, model: str, stream: bool, content: str = TEXT) -> tuple[str, Any]:
        """The answer's text and its usage (streamed answers: collected by the client)."""

        async def run() -> tuple[str, Any]:
            messages = [
                {"role": "system", "content": "You are a clinic assistant."},
                {"role": "user", "content": content},
            ]
            common = {"model": model, "messages": messages, "max_tokens": 20, "temperature": 0}
            if not stream:
                answer = await self.client.chat.completions.create(**common)
                return answer.choices[0].message.content or "", answer.usage
            parts, usage = [], None
            events = await self.client.chat.completions.create(
                **common, stream=True, stream_options={"include_usage": True}
            )
            async for event in events:
                if event.choices and event.choices[0].delta.content:
                    parts.append(event.choices[0].delta.content)
                usage = event.usage or usage
            return "".join(parts), usage

        return self.aio.run(run())

    def complete(self, model: str, stream: bool, prompt: str = TEXT) -> str:
        async def run() -> str:
            common = {"model": model, "prompt": prompt, "max_tokens": 20, "temperature": 0}
            if not stream:
                answer = await self.client.completions.create(**common)
                return answer.choices[0].text
            events = await self.client.completions.create(**common, stream=True)
            return "".join([e.choices[0].text async for e in events if e.choices])

        return self.aio.run(run())

    def audit_records(self) -> list[str]:
        from policies.audit import RecordFilter

        page = self.aio.run(self.audit_log.query(RecordFilter(), 1000, None))
        return [json.dumps(record.__dict__, default=str) for _, record in page.records]

    def close(self) -> None:
        for engine in self.engines:
            self.aio.run(engine.close())
        self.aio.run(self.http.aclose())
        self.aio.run(self.audit_log.close())


_REDACTOR: list[Any] = []


def _shared_redactor() -> Any:
    if not _REDACTOR:
        from privacy import PrivacyConfig, Redactor

        redactor = Redactor(PrivacyConfig())
        redactor.warmup()
        _REDACTOR.append(redactor)
    return _REDACTOR[0]


@pytest.fixture(scope="module")
def e2e(aio: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bastion, Recorder]]:
    rec = Recorder()
    server = ThreadServer(rec)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    up = {"model": "upstream-model", "retry_backoff_s": 0.01}
    bastion = Bastion(
        aio,
        tmp_path_factory.mktemp("bastion-openai"),
        {
            "proxied": OpenAIUpstream(base_url=server.url, **up),
            "proxied-slow": OpenAIUpstream(base_url=server.url, read_timeout_s=0.3, **up),
            "proxied-down": OpenAIUpstream(base_url=f"http://127.0.0.1:{closed_port}/v1", **up),
        },
    )
    yield bastion, rec
    bastion.close()
    server.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_end_to_end_only_redacted_text_reaches_the_upstream(e2e: Any, stream: bool) -> None:
    bastion, rec = e2e
    rec.received.clear()
    text, usage = bastion.chat("proxied", stream)
    (arrived,) = rec.received
    raw = arrived.path + json.dumps(arrived.headers) + arrived.body.decode()
    assert leaks(raw) == []
    sent = arrived.json()["messages"][1]["content"]
    placeholders = PLACEHOLDER.findall(sent)
    assert len(set(placeholders)) == len(IDENTIFIERS)  # e.g. "Patient [PERSON_1] (MRN [MRN_1])"
    assert "authorization" not in arrived.headers  # no key configured: none sent (not Bastion's)
    # The upstream answered with the placeholders; the client gets its own values back.
    assert text == "Noted " + " ".join(IDENTIFIERS) + "."
    assert usage.prompt_tokens == 11 and usage.completion_tokens == len(placeholders) + 2
    assert all(leaks(record) == [] for record in bastion.audit_records())


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_end_to_end_completions(e2e: Any, stream: bool) -> None:
    bastion, rec = e2e
    rec.received.clear()
    text = bastion.complete("proxied", stream, "Contact maria.gonzalez@stmarys-example.org")
    (arrived,) = rec.received
    assert arrived.path == "/v1/completions" and leaks(arrived.body.decode()) == []
    assert arrived.json()["prompt"] == "Contact [EMAIL_1]"
    assert text == "Noted maria.gonzalez@stmarys-example.org."


UPSTREAM_TEXT = "UPSTREAM-SAID-THIS"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("model", "script", "status", "message"),
    [
        (
            "proxied",
            ("status", 500, json.dumps({"error": {"message": UPSTREAM_TEXT}})),
            503,
            "the model failed to generate",
        ),
        ("proxied-slow", ("sleep", 3.0), 503, "the model failed to generate"),
        ("proxied-down", None, 503, "the upstream model server is unreachable"),
        (
            "proxied",
            (
                "status",
                400,
                json.dumps(
                    {
                        "error": {
                            "message": "This model's maximum context length is 2048 tokens, "
                            "however you requested 2113 tokens (2101 in your prompt; 12 for "
                            f"the completion). {UPSTREAM_TEXT}"
                        }
                    }
                ),
            ),
            400,
            "This model's maximum context length is 2048 tokens.",
        ),
    ],
    ids=["500", "timeout", "unreachable", "context-length"],
)
def test_end_to_end_upstream_errors(
    e2e: Any, stream: bool, model: str, script: Any, status: int, message: str
) -> None:
    import openai

    bastion, rec = e2e
    rec.script = [script] if script else []
    with pytest.raises(openai.APIStatusError) as caught:
        bastion.chat(model, stream)
    rec.script = []
    body = caught.value.response.text
    assert caught.value.status_code == status
    assert json.loads(body)["error"]["message"].startswith(message), body
    assert UPSTREAM_TEXT not in body and leaks(body) == []
    if status == 400:
        assert caught.value.code == "context_length_exceeded"


# -- llama-cpp-python's own OpenAI-compatible server ---------------------------------------------

LLAMA_MODEL = "smollm2-upstream"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on the bundled GGUF; yields its base URL (…/v1)."""
    from models.weights import bundled_gguf

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                *(
                    sys.executable,
                    "-m",
                    "models.engines.ggml_cpu",
                    "llama_cpp.server",
                    "--model",
                    str(bundled_gguf()),
                ),
                *("--model_alias", LLAMA_MODEL, "--host", "127.0.0.1", "--port", str(port)),
                *("--n_ctx", "2048", "--n_threads", "2", "--interrupt_requests", "False"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "llama_cpp.server did not start"
            try:
                if httpx.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


@pytest.fixture(scope="module")
def llama_engine_openai(aio: Any, llama_server: str) -> Iterator[OpenAIEngine]:
    engine = OpenAIEngine("smol", "v1", OpenAIUpstream(base_url=llama_server, model=LLAMA_MODEL))
    aio.run(engine.start())
    yield engine
    aio.run(engine.close())


COLORS = (ChatMessage("user", "Name three colors."),)


@pytest.mark.slow
def test_llama_server_stream_is_its_whole_answer(
    aio: Any, llama_server: str, llama_engine_openai: OpenAIEngine
) -> None:
    from openai import OpenAI

    deltas = aio.run(
        collect(llama_engine_openai.chat(COLORS, Sampling(max_tokens=24, temperature=0.0)))
    )
    direct = OpenAI(base_url=llama_server, api_key="unused", max_retries=0)
    whole = direct.chat.completions.create(
        model=LLAMA_MODEL,
        messages=[{"role": "user", "content": "Name three colors."}],
        max_tokens=24,
        temperature=0,
    )
    assert len([d for d in deltas if d.text]) > 3  # passed through delta by delta
    assert "".join(d.text for d in deltas) == whole.choices[0].message.content
    assert deltas[-1].finish_reason == whole.choices[0].finish_reason
    # llama-cpp-python reports no usage in streams: one chunk per token is counted instead.
    assert deltas[-1].usage.completion_tokens == whole.usage.completion_tokens


@pytest.mark.slow
def test_llama_server_plain_completion_and_length(
    aio: Any, llama_engine_openai: OpenAIEngine
) -> None:
    out = aio.run(
        collect(llama_engine_openai.complete("Once upon a time", Sampling(4, temperature=0.0)))
    )
    assert out[-1].finish_reason == "length" and out[-1].usage.completion_tokens == 4
    assert "".join(d.text for d in out).strip()


@pytest.mark.slow
def test_llama_server_prompt_too_long_is_a_typed_error(
    aio: Any, llama_engine_openai: OpenAIEngine
) -> None:
    """llama-cpp-python's server starts a stream before it checks the prompt's length, then ends
    it without an answer: a typed failure with a fixed message (servers that check first, like
    vLLM, answer 400 and give ContextLengthExceeded: see test_context_length_errors_...)."""
    long = (ChatMessage("user", "word " * 2100),)
    with pytest.raises(UpstreamFailed) as caught:
        aio.run(collect(llama_engine_openai.chat(long, Sampling(max_tokens=12))))
    assert str(caught.value) == "the upstream model server ended the stream early"


@pytest.mark.slow
def test_end_to_end_through_bastion_to_llama_server(
    aio: Any, llama_server: str, tmp_path: Path
) -> None:
    bastion = Bastion(
        aio, tmp_path, {"smol": OpenAIUpstream(base_url=llama_server, model=LLAMA_MODEL)}
    )
    try:
        whole, whole_usage = bastion.chat("smol", stream=False, content="Name three colors.")
        streamed, stream_usage = bastion.chat("smol", stream=True, content="Name three colors.")
        assert whole and whole == streamed  # greedy: the same answer both ways
        assert whole_usage.completion_tokens == stream_usage.completion_tokens > 0
        # Identifiers go through redaction and come back restored where the model repeats them.
        answer, _ = bastion.chat("smol", stream=True, content="Repeat exactly: Maria Gonzalez")
        assert "[PERSON_1]" not in answer
    finally:
        bastion.close()
