"""The auditor API (serving/audit_api.py) over a real SQLite audit log, real keys, no models."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import (
    Actor,
    AuditConfig,
    AuditLog,
    AuditRecord,
    Checkpoint,
    PolicyRef,
    Resource,
    Tokens,
    build_audit_log,
    verify_bundle,
)
from policies.audit.signer import key_id_for
from policies.decide import PolicyEngine
from serving.api import create_api
from serving.audit_api import add_audit_routes
from serving.audit_client import LocalAuditClient
from serving.gateway import Gateway, StaticSites
from serving.pipeline import RequestState
from tests.serving.conftest import POLICY

T0 = datetime(2026, 3, 1, tzinfo=UTC)
# Every count below is taken inside this window: records written at "now" (e.g. by the request
# middleware auditing these very queries) stay out of it.
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


def _record(i: int) -> AuditRecord:
    tenant = None if i % 10 == 9 else ("acme", "clinic")[i % 2]
    event = (
        "auth.failed" if tenant is None else ("inference.chat", "inference.embedding")[i % 3 == 2]
    )
    outcome = "denied" if i % 5 == 3 else "failure" if i % 7 == 6 else "success"
    if tenant is None:
        outcome = "failure"
    return AuditRecord(
        event_type=event,
        time=T0 + timedelta(hours=i),
        outcome=outcome,
        actor=Actor(key_id=f"{i:016x}", role="app", tenant=tenant),
        origin="10.0.0.7",
        request_id=f"req-{i:04d}",
        resource=Resource(model="smollm2-135m-instruct", version="v1", site="local"),
        policy=PolicyRef(
            outcome="deny" if outcome == "denied" else "allow", rule_id="r1", version="test"
        ),
        status_code={"success": 200, "denied": 403, "failure": 401}[outcome],
        tokens=Tokens(prompt=3, completion=5),
        data_classes=("PHI",),
        entity_counts={"PERSON": 1},
    )


RECORDS = [_record(i) for i in range(45)]


def _at(t: str) -> datetime:
    parsed = datetime.fromisoformat(t.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expected(**f: str | None) -> list[str]:
    """Request ids of RECORDS matching filters, computed independently of the store."""
    start = _at(f.get("from") or "2000-01-01T00:00:00Z")
    end = _at(f.get("to") or "2100-01-01T00:00:00Z")

    def keep(r: AuditRecord) -> bool:
        return (
            start <= _at(r.time) < end
            and f.get("tenant") in (None, r.actor.tenant)
            and f.get("event_type") in (None, r.event_type)
            and f.get("outcome") in (None, r.outcome)
        )

    return [r.request_id for r in RECORDS if keep(r)]  # type: ignore[misc]


class CaptureCtx:
    """Outer ASGI wrapper keeping each request's RequestState (to check ``state.detail``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.contexts: list[RequestState] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["state"] = state = {}
            try:
                await self.app(scope, receive, send)
            finally:
                self.contexts.append(state["ctx"])
        else:
            await self.app(scope, receive, send)


@dataclass
class AuditApp:
    aio: Any
    app: Any
    log: AuditLog
    keys: dict[str, str]
    capture: CaptureCtx
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.capture, client=("127.0.0.1", 5555)),
            base_url="http://bastion.test",
            timeout=60,
        )

    def get(self, path: str, key: str | None = "auditor", **params: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.keys.get(key, key)}"} if key else {}
        return self.aio.run(self.client.get(path, params=params, headers=headers))

    def last_detail(self) -> dict[str, Any] | None:
        return self.capture.contexts[-1].detail


def build_audit_app(aio: Any, root: Path) -> AuditApp:
    """A FastAPI app with the audit routes, a real gateway (no models) and a seeded audit log."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(POLICY)
    store = KeyStore(root / "keys.db")
    keys = {
        "app": store.create("acme", Role.APP)[0],
        "auditor": store.create("acme", Role.AUDITOR)[0],
        "clinic_auditor": store.create("clinic", Role.AUDITOR)[0],
        "operator": store.create("default", Role.AUDITOR)[0],
        "admin": store.create("acme", Role.ADMIN)[0],
    }
    gateway = Gateway(
        store,
        Registry([]),
        PolicyEngine.from_paths([root / "policy.yaml"]),
        StaticSites(set()),
        {},
        None,
        None,  # no redactor: these tests send no model requests
    )
    log = aio.run(build_audit_log(AuditConfig(), root / "audit"))
    for record in RECORDS:
        aio.run(log.append(record))
    app = create_api()
    app.state.gateway = gateway
    app.state.audit = LocalAuditClient(log)
    if not any(getattr(route, "path", None) == "/v1/audit/records" for route in app.routes):
        add_audit_routes(app)  # (unless create_api already mounts them)
    return AuditApp(aio, app, log, keys, CaptureCtx(app))


@pytest.fixture(scope="module")
def audit_app(aio: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    env = build_audit_app(aio, tmp_path_factory.mktemp("audit-api"))
    yield env
    aio.run(env.client.aclose())
    aio.run(env.log.close())


ROUTES = ["/v1/audit/records", "/v1/audit/export", "/v1/audit/checkpoint", "/v1/audit/status"]


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["record"]["request_id"] for item in body["data"]]


@pytest.mark.parametrize("path", ROUTES)
def test_missing_or_unknown_key_is_401(audit_app, path):
    for key in (None, "bst_0000000000000000_" + "A" * 43):
        r = audit_app.get(path, key=key)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["type"] == "authentication_error"
    # authentication comes before parameter checks: no hints without a key
    assert audit_app.get(path, key=None, limit="0", bogus="1").status_code == 401


@pytest.mark.parametrize("path", ROUTES)
def test_app_role_is_403(audit_app, path):
    r = audit_app.get(path, key="app")
    assert r.status_code == 403, r.text
    assert r.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize("key", ["auditor", "operator", "admin"])
@pytest.mark.parametrize("path", ROUTES)
def test_auditor_and_admin_roles_are_allowed(audit_app, key, path):
    assert audit_app.get(path, key=key).status_code == 200


def test_records_shape_and_canonical_content(audit_app):
    r = audit_app.get("/v1/audit/records", key="operator", limit=5, **WINDOW)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and len(body["data"]) == 5
    assert [item["index"] for item in body["data"]] == [0, 1, 2, 3, 4]
    assert body["next_cursor"] == 4
    # each record is exactly what was appended (its canonical form)
    first = AuditRecord.model_validate(body["data"][0]["record"])
    assert first.canonical_bytes() == RECORDS[0].canonical_bytes()
    assert audit_app.last_detail() == {
        "records": 5,
        "filter_start": "2026-03-01T00:00:00.000Z",
        "filter_end": "2026-04-01T00:00:00.000Z",
    }


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"event_type": "inference.embedding"},
        {"event_type": "auth.failed"},
        {"outcome": "denied"},
        {"outcome": "failure", "tenant": "clinic"},
        {"event_type": "inference.chat", "outcome": "success", "tenant": "acme"},
        {"from": "2026-03-01T05:00:00Z", "to": "2026-03-01T12:00:00Z"},  # [05:00, 12:00)
        {"from": "2026-03-02", "to": "2026-03-02T03:30:00+01:00"},  # date = midnight UTC; offset
        {"from": "2026-03-01T05:00:00", "to": "2026-03-01T07:00:00"},  # no offset: UTC
        {"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},  # `to` is exclusive
        {"to": "2026-03-01T00:00:00.001Z"},  # `from` is inclusive: exactly the first record
    ],
)
def test_filters_select_exactly_the_matching_records(audit_app, filters):
    query = {**WINDOW, **filters}
    r = audit_app.get("/v1/audit/records", key="operator", limit=1000, **query)
    assert r.status_code == 200, r.text
    assert _ids(r.json()) == expected(**query)
    assert r.json()["next_cursor"] is None


def test_filters_cover_every_kind_of_record(audit_app):
    """Guard the table above: the fixture has rows that each filter keeps and drops."""
    for f in ({"outcome": "denied"}, {"event_type": "auth.failed"}, {"tenant": "clinic"}):
        assert 0 < len(expected(**WINDOW, **f)) < len(RECORDS)


def test_pagination_walks_every_record_once_in_order(audit_app):
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {**WINDOW, "limit": 7, **({"cursor": cursor} if cursor is not None else {})}
        body = audit_app.get("/v1/audit/records", key="admin", **params).json()
        seen += [item["index"] for item in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(body["data"]) == 7 and cursor == seen[-1]
    assert seen == list(range(len(RECORDS)))
    assert pages == -(-len(RECORDS) // 7)  # no empty trailing page


def test_pagination_with_filters(audit_app):
    want = expected(**WINDOW, tenant="acme", event_type="inference.chat")
    got: list[str] = []
    cursor = None
    while True:
        params = {**WINDOW, "tenant": "acme", "event_type": "inference.chat", "limit": 4}
        if cursor is not None:
            params["cursor"] = cursor
        body = audit_app.get("/v1/audit/records", key="operator", **params).json()
        got += _ids(body)
        if (cursor := body["next_cursor"]) is None:
            break
    assert got == want and len(want) > 8


def test_auditor_sees_only_their_tenant(audit_app):
    body = audit_app.get("/v1/audit/records", key="auditor", limit=1000, **WINDOW).json()
    assert _ids(body) == expected(**WINDOW, tenant="acme")
    assert {item["record"]["actor"]["tenant"] for item in body["data"]} == {"acme"}
    assert audit_app.last_detail()["filter_tenant"] == "acme"
    own = audit_app.get("/v1/audit/records", key="auditor", tenant="acme", limit=1000, **WINDOW)
    assert _ids(own.json()) == _ids(body)
    clinic = audit_app.get("/v1/audit/records", key="clinic_auditor", limit=1000, **WINDOW).json()
    assert _ids(clinic) == expected(**WINDOW, tenant="clinic")


@pytest.mark.parametrize("path", ["/v1/audit/records", "/v1/audit/export"])
def test_auditor_may_not_read_another_tenant(audit_app, path):
    r = audit_app.get(path, key="auditor", tenant="clinic", **WINDOW)
    assert r.status_code == 403
    assert "own tenant" in r.json()["error"]["message"]
    assert "clinic" not in r.text


@pytest.mark.parametrize("key", ["operator", "admin"])
def test_operator_auditor_and_admin_see_all_tenants(audit_app, key):
    body = audit_app.get("/v1/audit/records", key=key, limit=1000, **WINDOW).json()
    assert _ids(body) == expected(**WINDOW)
    tenants = {item["record"]["actor"].get("tenant") for item in body["data"]}
    assert tenants == {"acme", "clinic", None}
    clinic = audit_app.get("/v1/audit/records", key=key, tenant="clinic", limit=1000, **WINDOW)
    assert _ids(clinic.json()) == expected(**WINDOW, tenant="clinic")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01T00:00:00Z"}, "to"),
        ({"from": "2026-03-01T00:00:00+25:00"}, "from"),
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"cursor": "-1"}, "cursor"),
        ({"cursor": "abc"}, "cursor"),
        ({"outcome": "maybe"}, "outcome"),
        ({"event_type": "inference chat"}, "event_type"),
        ({"event_type": "Inference.Chat"}, "event_type"),
        ({"tenant": "Jane Doe"}, "tenant"),
        ({"tenatn": "acme"}, None),  # a misspelt filter must not silently widen the query
    ],
)
def test_bad_parameters_are_400_without_echo(audit_app, params, param):
    r = audit_app.get("/v1/audit/records", key="operator", **params)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    for value in params.values():
        assert len(value) < 3 or value not in error["message"]


@pytest.mark.parametrize(
    "params",
    [{"format": "xml"}, {"outcome": "denied"}, {"from": "soon"}, {"limit": "5"}],
)
def test_export_rejects_bad_or_unsupported_parameters(audit_app, params):
    r = audit_app.get("/v1/audit/export", key="operator", **params)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    ("key", "fmt", "filters", "tenant"),
    [
        ("operator", "jsonl", {}, None),
        ("auditor", "jsonl", {"event_type": "inference.chat"}, "acme"),  # scoped to acme
        ("admin", "csv", {"tenant": "clinic", "from": "2026-03-01T06:00:00Z"}, "clinic"),
    ],
)
def test_export_bundle_verifies_offline(audit_app, tmp_path, key, fmt, filters, tenant):
    query = {**WINDOW, **filters, "format": fmt}
    r = audit_app.get("/v1/audit/export", key=key, **query)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    start = query["from"].replace("-", "").replace(":", "")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="bastion-audit-{start}-20260401T000000Z.zip"'
    )
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(r.content)
    result = verify_bundle(bundle, expected_key_id=audit_app.log.signer.key_id)
    assert result.ok, result.reason
    want = expected(**{**query, "tenant": tenant})
    assert result.records == len(want) > 0

    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        records_file = json.loads(z.read("manifest.json"))["records_file"]
        assert records_file == f"records.{fmt}"
        data = z.read(records_file).decode()
    if fmt == "csv":
        lines = [row["record"] for row in csv.DictReader(io.StringIO(data))]
    else:
        lines = data.splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == want

    digest = "sha256:" + hashlib.sha256(r.content).hexdigest()
    assert r.headers["x-bastion-audit-bundle-sha256"] == digest
    assert r.headers["x-bastion-audit-records"] == str(len(want))
    # the facts the middleware writes into the audit.exported record
    detail = audit_app.last_detail()
    assert detail is not None
    assert detail["records"] == len(want) and detail["bundle_sha256"] == digest
    assert detail["format"] == fmt and detail.get("filter_tenant") == tenant

    # the bundle is the file the verifier checks: one altered record byte is detected
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == records_file:
                data = data.replace(b"10.0.0.7", b"10.0.0.8", 1)
            dst.writestr(item, data)
    assert not verify_bundle(tampered).ok


def test_export_without_period_is_named_by_open_ends(audit_app):
    r = audit_app.get("/v1/audit/export", key="operator", event_type="key.revoked")
    assert r.status_code == 200
    assert 'filename="bastion-audit-start-end.zip"' in r.headers["content-disposition"]
    assert r.headers["x-bastion-audit-records"] == "0"


def test_checkpoint_signature_verifies_with_the_public_key(audit_app):
    r = audit_app.get("/v1/audit/checkpoint")
    assert r.status_code == 200
    body = r.json()
    pem = body["public_key_pem"].encode()
    assert body["key_id"] == key_id_for(pem) == audit_app.log.signer.key_id
    cp = Checkpoint.from_json({"body": body["body"], "signature": body["signature"]})
    assert cp.verify(pem)
    assert cp.tree_size == body["tree_size"] >= len(RECORDS)
    assert cp.root_hash.hex() == body["root_hash"] == audit_app.log.root(cp.tree_size).hex()
    assert cp.time == body["time"] and cp.key_id == body["key_id"]
    forged = Checkpoint.from_json(
        {
            "body": body["body"].replace('"tree_size":', '"tree_size":1'),
            "signature": body["signature"],
        }
    )
    assert not forged.verify(pem)
    assert audit_app.last_detail() == {"tree_size": body["tree_size"]}


def test_status_reports_health_size_and_scope(audit_app):
    # (the request middleware may append this request's own record, and the log may sign a
    # checkpoint meanwhile: compare with the log before and after)
    size_before, cp_before = audit_app.log.size, audit_app.log.latest_checkpoint()
    body = audit_app.get("/v1/audit/status", key="auditor").json()
    size_after, cp_after = audit_app.log.size, audit_app.log.latest_checkpoint()
    assert body["healthy"] is True and body["error"] is None
    assert len(RECORDS) <= size_before <= body["tree_size"] <= size_after
    assert body["latest_checkpoint"] in [
        {
            "tree_size": cp.tree_size,
            "root_hash": cp.root_hash.hex(),
            "time": cp.time,
            "key_id": cp.key_id,
        }
        for cp in (cp_before, cp_after)
        if cp is not None
    ]
    assert "inference.chat" in body["event_types"]
    assert body["tenant_scope"] == "acme"
    assert audit_app.get("/v1/audit/status", key="operator").json()["tenant_scope"] is None


def test_routes_answer_503_when_the_audit_log_is_absent(aio, tmp_path):
    env = build_audit_app(aio, tmp_path)
    try:
        env.app.state.audit = None
        r = env.get("/v1/audit/records", key="auditor")
        assert r.status_code == 503
        assert r.json()["error"]["type"] == "service_unavailable_error"
    finally:
        aio.run(env.client.aclose())
        aio.run(env.log.close())
