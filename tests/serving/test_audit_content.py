"""Captured content read back and erased through the API and the CLI, on real SQLite and
PostgreSQL audit stores, with the real pipeline (bundled model, real redactor): the
authorization matrix, every read audited without text, shredding a tenant, export with content
and its verification, and a leak sweep over everything a reader can get."""

from __future__ import annotations

import json
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from models.deployment import ModelServer
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, AuditLog, RecordFilter, build_audit_log, verify_bundle
from policies.audit.cli import app as audit_cli
from policies.decide import PolicyEngine
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import Settings
from serving.gateway import Gateway, StaticSites
from tests.policies.audit.conftest import PG_DSN, pg_reachable
from tests.serving.conftest import MODEL, POLICY, Api

# Original identifier values sent in requests: none may appear in anything a reader gets.
NAME = "Theodora Vasquez-Lindqvist"
EMAIL = "theodora.vasquez@klinikum-example.de"
CARD = "4111 1111 1111 1111"
ORIGINALS = (NAME, "Vasquez", "Lindqvist", EMAIL, "klinikum-example", CARD, "4111111111111111")

runner = CliRunner()


@dataclass
class Env:
    api: Api
    log: AuditLog
    data: Path
    backend: str
    cli_args: list[str]
    requests: dict[str, int] = field(default_factory=dict)  # name -> record index
    app: Any = None
    schema: str | None = None  # PostgreSQL schema, dropped at the end


def _leak_free(text: str | bytes) -> None:
    blob = text.decode(errors="replace") if isinstance(text, bytes) else text
    for value in ORIGINALS:
        assert value not in blob, f"an original identifier value leaked: {value[:4]}…"


def _chat(api: Api, key: str, content: str, model: str = MODEL, **headers: str) -> Any:
    r = api.post(
        "/v1/chat/completions",
        key,
        headers=headers,
        json={"model": model, "max_tokens": 6, "messages": [{"role": "user", "content": content}]},
    )
    assert r.status_code == 200, r.text
    return r


async def _index_of(log: AuditLog, request_id: str) -> int:
    page = await log.query(RecordFilter(event_type="inference.chat"), 1000)
    (index,) = [i for i, r in page.records if r.request_id == request_id]
    return index


def build_env(
    aio: Any, llama_engine: Any, redactor: Any, data: Path, backend: str = "sqlite"
) -> Env:
    """A real gateway (bundled model, real redactor) with capture on, over a real audit store,
    and three requests carrying identifiers (two of tenant acme, one of clinic)."""
    (data / "policy.yaml").write_text(POLICY)
    audit: dict[str, Any] = {"capture": "redacted", "batch_max_wait_ms": 1.0}
    if backend == "postgres":
        reason = pg_reachable()
        if reason:
            pytest.skip(reason)
        audit.update(
            store="postgres", dsn=PG_DSN, pg_schema=f"audit_content_{uuid.uuid4().hex[:10]}"
        )
    config_file = data / "bastion.yaml"
    config_file.write_text(yaml.safe_dump({"data_dir": str(data), "audit": audit}))
    store = KeyStore(data / "keys.db")
    keys = {
        "app": store.create("acme", Role.APP)[0],
        "clinic_app": store.create("clinic", Role.APP)[0],
        "auditor": store.create("acme", Role.AUDITOR)[0],
        "clinic_auditor": store.create("clinic", Role.AUDITOR)[0],
        "operator": store.create("default", Role.AUDITOR)[0],
        "admin": store.create("acme", Role.ADMIN)[0],
    }
    server = ModelServer(llama_engine, default_max_tokens=6)
    server.ready = True
    settings = Settings(data_dir=data)
    gateway = Gateway(
        store,
        Registry(settings.models, settings.embeddings),
        PolicyEngine.from_paths([data / "policy.yaml"]),
        StaticSites({"local"}),
        {f"{MODEL}@v1": server},
        None,
        redactor,
        capture=True,
    )
    log = aio.run(build_audit_log(AuditConfig.model_validate(audit), data))
    app = create_api()
    app.state.gateway = gateway
    app.state.audit = LocalAuditClient(log)
    api = Api(aio, app, keys)
    e = Env(
        api,
        log,
        data,
        backend,
        ["--config", str(config_file)],
        app=app,
        schema=audit.get("pg_schema"),
    )
    acme = _chat(api, "app", f"Patient {NAME} ({EMAIL}) asks about the fever.")
    acme2 = _chat(api, "app", f"Charge card {CARD} for {NAME}.")
    clinic = _chat(
        api, "clinic_app", f"Summarize the visit of {NAME}.", "chat-secure",
        **{"x-bastion-purpose": "treatment"},
    )  # fmt: skip
    for name, r in (("acme", acme), ("acme2", acme2), ("clinic", clinic)):
        e.requests[name] = aio.run(_index_of(log, r.headers["x-request-id"]))
    return e


def close_env(e: Env) -> None:
    e.api.aio.run(e.api.client.aclose())
    e.api.aio.run(e.log.close())
    if e.schema is not None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(PG_DSN, autocommit=True) as c:
            c.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(e.schema)))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def env(
    request: pytest.FixtureRequest,
    aio: Any,
    llama_engine: Any,
    redactor: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    e = build_env(
        aio, llama_engine, redactor, tmp_path_factory.mktemp(f"content-{request.param}"),
        request.param,
    )  # fmt: skip
    yield e
    close_env(e)


def _content(env: Env, index: int | str, key: str | None) -> Any:
    return env.api.get(f"/v1/audit/records/{index}/content", key)


def _index(event: Any) -> int | None:
    return (event.detail or {}).get("record_index")


def _events(env: Env, event_type: str) -> list[Any]:
    page = env.api.aio.run(env.log.query(RecordFilter(event_type=event_type), 1000))
    return [r for _, r in page.records]


def test_authorization_matrix(env: Env) -> None:
    acme, clinic = env.requests["acme"], env.requests["clinic"]
    assert _content(env, acme, None).status_code == 401
    # An app key is denied.
    r = _content(env, acme, "app")
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    # A tenant's auditor reads its own tenant's content, not another's (404, like no record).
    assert _content(env, acme, "auditor").status_code == 200
    other = _content(env, clinic, "auditor")
    missing = _content(env, 10**9, "auditor")
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["message"] == missing.json()["error"]["message"]
    assert _content(env, clinic, "clinic_auditor").status_code == 200
    assert _content(env, acme, "clinic_auditor").status_code == 404
    # The operator tenant's auditors, and admins, read every tenant's content.
    for key in ("operator", "admin"):
        assert _content(env, acme, key).status_code == 200
        assert _content(env, clinic, key).status_code == 200
    # Bad input: a clear 400, never a 5xx.
    for bad in ("abc", "-1", "1.5", "99999999999999999999"):
        r = _content(env, bad, "operator")
        assert r.status_code == 400, (bad, r.text)
    assert env.api.get(f"/v1/audit/records/{acme}/content?x=1", "operator").status_code == 400


def test_content_read_returns_the_redacted_exchange_and_is_audited_without_text(env: Env) -> None:
    acme = env.requests["acme"]
    r = _content(env, acme, "auditor")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    view = r.json()
    assert view["index"] == acme and view["object"] == "audit.content"
    assert view["record"]["actor"]["tenant"] == "acme"
    assert view["commitment"] == view["record"]["content"]
    (text,) = view["content"]["input"]
    assert "PERSON_1" in text and "EMAIL" in text and "fever" in text
    assert isinstance(view["content"]["output"], str)
    _leak_free(r.text)
    reads = [
        e
        for e in _events(env, "audit.content_read")
        if (e.detail or {}).get("record_index") == acme
    ]
    assert reads and reads[-1].detail["status"] == "read"
    assert reads[-1].detail["content_tenant"] == "acme" and reads[-1].actor.role == "auditor"
    body = reads[-1].canonical_bytes()
    assert b"fever" not in body and b"PERSON" not in body  # the index, never the text
    # A denied read (another tenant's) is audited too.
    _content(env, env.requests["clinic"], "auditor")
    last = _events(env, "audit.content_read")[-1]
    assert last.detail["status"] == "not_found" and last.outcome == "failure"
    assert "content_tenant" not in last.detail  # nothing about the other tenant is revealed


def test_cli_reads_content_by_index_and_request_id(env: Env) -> None:
    acme = env.requests["acme"]
    res = runner.invoke(audit_cli, ["content", str(acme), *env.cli_args])
    assert res.exit_code == 0, res.output
    view = json.loads(res.output)
    assert view["index"] == acme and "PERSON_1" in view["content"]["input"][0]
    _leak_free(res.output)
    rid = view["record"]["request_id"]
    res = runner.invoke(audit_cli, ["content", "--request-id", rid, *env.cli_args])
    assert res.exit_code == 0 and json.loads(res.output)["index"] == acme
    res = runner.invoke(audit_cli, ["content", "--request-id", "no-such-id", *env.cli_args])
    assert res.exit_code == 2
    reads = [e for e in _events(env, "audit.content_read") if e.actor.key_id.startswith("cli:")]
    assert [_index(e) for e in reads][-2:] == [acme, acme]


def test_api_export_with_content_is_tenant_scoped_verifies_and_is_audited(env: Env) -> None:
    r = env.api.get("/v1/audit/export", "auditor", params={"with_content": "true"})
    assert r.status_code == 200, r.text
    bundle = env.data / "api-with-content.zip"
    bundle.write_bytes(r.content)
    result = verify_bundle(bundle)
    assert result.ok, result.reason
    assert result.content is not None and result.content.verified == 2  # acme's two, not clinic's
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        assert sorted(n for n in names if n.startswith("content/")) == sorted(
            f"content/{env.requests[k]}.json" for k in ("acme", "acme2")
        )
        for name in names:
            _leak_free(z.read(name))
    (event,) = [e for e in _events(env, "audit.exported") if e.actor.role == "auditor"]
    assert event.detail["contents"] == 2 and event.detail["filter_tenant"] == "acme"
    bad = env.api.get("/v1/audit/export", "auditor", params={"with_content": "yes"})
    assert bad.status_code == 400


def test_shred_a_tenant_then_410_and_the_export_with_content_verifies(env: Env) -> None:
    acme, acme2, clinic = (env.requests[k] for k in ("acme", "acme2", "clinic"))
    url = "/v1/admin/audit/shred"
    assert env.api.post(url, "auditor", json={"tenant": "acme"}).status_code == 403
    assert env.api.post(url, "app", json={"tenant": "acme"}).status_code == 403
    for bad in ({}, {"tenant": "ACME!"}, {"tenant": "acme", "x": 1}, [1]):
        assert env.api.post(url, "admin", json=bad).status_code == 400
    assert env.api.post(url, "admin", content=b"{not json").status_code == 400

    r = env.api.post(url, "admin", json={"tenant": "acme"})
    assert r.status_code == 200, r.text
    assert r.json()["keys_destroyed"] >= 1 and r.json()["contents_unreadable"] >= 2
    attempts = _events(env, "audit.content_shredded")
    assert [e.outcome for e in attempts] == ["denied", "denied"] + ["failure"] * 5 + ["success"]
    event = attempts[-1]
    assert event.detail["tenant"] == "acme" and event.actor.role == "admin"
    assert event.detail["contents_unreadable"] == r.json()["contents_unreadable"]

    for index in (acme, acme2):
        gone = _content(env, index, "auditor")
        assert gone.status_code == 410, gone.text
        assert gone.json()["error"]["code"] == "content_shredded"
        assert "shredded" in gone.json()["error"]["message"]
    assert _content(env, clinic, "operator").status_code == 200  # other tenants keep theirs
    res = runner.invoke(audit_cli, ["content", str(acme), *env.cli_args])
    assert res.exit_code == 3 and "shredded" in res.output

    # New export with content, then verify: shredded content is reported, not a failure.
    out = env.data / "with-content.zip"
    res = runner.invoke(audit_cli, ["export", "--out", str(out), "--with-content", *env.cli_args])
    assert res.exit_code == 0, res.output
    assert "shredded" in res.output
    res = runner.invoke(audit_cli, ["verify", str(out)])
    assert res.exit_code == 0, res.output
    assert "shredded" in res.output and "verified" in res.output
    result = verify_bundle(out)
    assert result.ok and result.content is not None
    assert result.content.shredded >= 2 and result.content.verified >= 1
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            _leak_free(z.read(name))
    exported = [e for e in _events(env, "audit.exported") if "contents" in (e.detail or {})]
    assert exported and exported[-1].detail["contents"] == result.content.verified


def test_cli_shred_counts_and_audits(env: Env) -> None:
    res = runner.invoke(audit_cli, ["shred", "--tenant", "clinic", *env.cli_args], input="n\n")
    assert res.exit_code != 0  # declined: nothing destroyed
    assert _content(env, env.requests["clinic"], "operator").status_code == 200
    res = runner.invoke(audit_cli, ["shred", "--tenant", "clinic", "--yes", *env.cli_args])
    assert res.exit_code == 0, res.output
    assert "1 captured content(s) now unreadable" in res.output
    assert _content(env, env.requests["clinic"], "operator").status_code == 410
    # The running log notices the destroyed key: new clinic content is readable.
    r = _chat(env.api, "clinic_app", "Follow-up note.", "chat-secure",
              **{"x-bastion-purpose": "treatment"})  # fmt: skip
    index = env.api.aio.run(_index_of(env.log, r.headers["x-request-id"]))
    assert _content(env, index, "clinic_auditor").status_code == 200
    event = _events(env, "audit.content_shredded")[-1]
    assert (
        event.outcome == "success"
        and event.detail["tenant"] == "clinic"
        and event.actor.key_id.startswith("cli:")
    )


def test_export_with_content_needs_capture(aio: Any, tmp_path: Path) -> None:
    from tests.serving.test_audit_api import build_audit_app

    plain = build_audit_app(aio, tmp_path / "no-capture")  # audit.capture: none
    try:
        r = plain.get("/v1/audit/export", "auditor", with_content="true")
        assert r.status_code == 400, r.text
        assert "capture" in r.json()["error"]["message"]
        assert plain.get("/v1/audit/export", "auditor", with_content="false").status_code == 200
    finally:
        aio.run(plain.client.aclose())
        aio.run(plain.log.close())
