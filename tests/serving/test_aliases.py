"""Aliases, A/B splits, rollback and prompt templates through the in-process pipeline (real
bundled model, real SQLite state store and audit log), called with the official openai SDK:
the split is sticky per end user, the response header and the audit record name the version and
the prompt template served, rollback moves everyone at once, and policy still decides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from models.deployment import ModelServer
from models.engines.base import Delta, EngineFailure, GenerateRequest
from models.prompts import PromptTemplate
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, RecordFilter, build_audit_log
from policies.decide import PolicyEngine
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import ModelConfig
from serving.gateway import Gateway, StaticSites
from state.sqlite import SqliteStateStore

MODEL = "smollm2-135m-instruct"
V1, V2 = f"{MODEL}@v1", f"{MODEL}@v2"

# acme may use every version of the model; `limited` only v1; v2 is not approved for PII, and
# acme's requests for it that carry PII are rerouted to the version behind `chat-stable`.
POLICY = f"""
sites:
  - {{id: local, jurisdiction: DE, region: EU}}
models:
  - {{id: {V1}, site: local, approved_data_classes: [PHI, PCI, PII], aliases: [chat-stable]}}
  - {{id: {V2}, site: local, approved_data_classes: []}}
tenants:
  - id: acme
    sites: [local]
    models: [{MODEL}, chat-stable]
    reroute: {{"{V2}": [chat-stable]}}
  - {{id: limited, sites: [local], models: ["{V1}"]}}
"""

PROMPTS = [
    PromptTemplate(
        name="greet",
        version="1",
        template="You greet {{ who }} in {{ language }}. Reply with one word.",
        variables={"who": None, "language": "English"},
    ),
    PromptTemplate(name="greet", version="2", template="Reply with one word: {{ who }}.",
                   variables={"who": None}),
]  # fmt: skip


class Recording:
    """The real model server, with each request's messages kept for the test to read."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.seen: list[GenerateRequest] = []

    def generate(self, request: GenerateRequest) -> AsyncIterator[Delta | EngineFailure]:
        self.seen.append(request)
        return self.server.generate(request)

    async def info(self) -> dict[str, Any]:
        return await self.server.info()

    async def stats(self) -> dict[str, int]:
        return await self.server.stats()


class Site:
    def __init__(self, aio: Any, app: Any, keys: dict[str, str], audit: Any, model: Recording):
        self.aio, self.app, self.keys, self.audit, self.model = aio, app, keys, audit, model

    def http(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 5555))
        return httpx.AsyncClient(transport=transport, base_url="http://bastion.test", timeout=120)

    def chat(self, who: str = "app", model: str = "prod", **extra: Any) -> Any:
        """A chat through the openai SDK; returns the raw response (headers and parsed body)."""

        async def call() -> Any:
            client = openai.AsyncOpenAI(
                base_url="http://bastion.test/v1",
                api_key=self.keys[who],
                http_client=self.http(),
                max_retries=0,
            )
            extra.setdefault("messages", [{"role": "user", "content": "Say hi."}])
            return await client.chat.completions.with_raw_response.create(
                model=model, max_tokens=1, temperature=0, **extra
            )

        return self.aio.run(call())

    def served(self, **extra: Any) -> str:
        return self.chat(**extra).headers["x-bastion-model-version"]

    def admin(self, action: str, **body: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            async with self.http() as client:
                return await client.post(
                    f"/v1/admin/aliases/{action}",
                    json=body,
                    headers={"authorization": f"Bearer {self.keys['admin']}"},
                )

        return self.aio.run(call())

    def records(self, event_type: str | None = None) -> list[Any]:
        page = self.aio.run(self.audit.query(RecordFilter(), 1000, None))
        out = [r for _, r in page.records]
        return [r for r in out if event_type is None or r.event_type == event_type]


@pytest.fixture(scope="module")
def site(aio: Any, llama_engine: Any, redactor: Any, tmp_path_factory: Any) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("aliases")
    (data / "policy.yaml").write_text(POLICY)
    store = KeyStore(data / "keys.db")
    keys = {
        "app": store.create("acme", Role.APP)[0],
        "limited": store.create("limited", Role.APP)[0],
        "admin": store.create("acme", Role.ADMIN)[0],
    }
    policy = PolicyEngine.from_paths([data / "policy.yaml"])
    registry = Registry(
        [ModelConfig(name=MODEL), ModelConfig(name=MODEL, version="v2")],
        policy=policy.policy_set,
        prompts=PROMPTS,
    )
    state = SqliteStateStore(data / "state.db")
    registry.follow(state, initial={"prod": {V1: 100}}, start=False)
    server = ModelServer(llama_engine, default_max_tokens=8)
    server.ready = True
    model = Recording(server)
    gateway = Gateway(
        store, registry, policy, StaticSites({"local"}), {V1: model, V2: model}, None, redactor
    )
    app = create_api(max_body_bytes=64 * 1024)
    app.state.gateway = gateway
    audit_log = aio.run(build_audit_log(AuditConfig(), data))
    app.state.audit = LocalAuditClient(audit_log)
    app.state.policy_reloader = None
    yield Site(aio, app, keys, audit_log, model)
    aio.run(audit_log.close())
    state.close()


def test_an_alias_serves_its_version_and_says_which(site: Site) -> None:
    raw = site.chat()
    assert raw.headers["x-bastion-model-version"] == V1
    assert "x-bastion-prompt-version" not in raw.headers
    body = raw.parse()
    assert body.choices[0].message is not None  # a real answer through the SDK
    (record,) = [r for r in site.records() if r.request_id == raw.headers["x-request-id"]]
    assert (record.resource.model, record.resource.version) == (MODEL, "v1")
    assert record.detail["variant"] == f"prod/{V1}"


def test_split_is_sticky_per_end_user_and_rollback_moves_everyone(site: Site) -> None:
    r = site.admin("split", alias="prod", weights={V1: 50, V2: 50})
    assert r.status_code == 200, r.text
    users = [f"user-{i}" for i in range(12)]
    first = {u: site.served(user=u) for u in users}
    assert set(first.values()) == {V1, V2}  # both arms serve
    assert {u: site.served(user=u) for u in users} == first  # and each user stays on one
    # The header names the user too when the body does not; else the key decides.
    by_header = [site.served(extra_headers={"x-bastion-user": u}) for u in users[:4]]
    assert by_header == [first[u] for u in users[:4]]
    assert len({site.served() for _ in range(3)}) == 1

    r = site.admin("rollback", alias="prod")
    assert r.status_code == 200, r.text
    assert r.json()["after.0"] == f"{V1}:100"
    assert {site.served(user=u) for u in users} == {V1}  # everyone at once
    rollback = site.records("models.alias_rolled_back")[-1]
    assert rollback.actor.role == "admin" and rollback.actor.tenant == "acme"
    assert rollback.detail["before.0"] == f"{V1}:50"
    assert rollback.detail["before.1"] == f"{V2}:50"
    assert rollback.detail["after.0"] == f"{V1}:100"


def test_policy_still_decides_which_versions_a_tenant_reaches(site: Site) -> None:
    assert site.admin("promote", alias="prod", version=V2).status_code == 200
    try:
        with pytest.raises(openai.PermissionDeniedError) as denied:
            site.chat("limited")
        error = denied.value.response.json()["error"]
        assert error["code"] == "policy_denied" and "tenant/model-not-allowed" in error["message"]
        assert site.served() == V2
        # PII is not approved on v2: acme's request is rerouted to the stable version.
        pii = site.chat(messages=[{"role": "user", "content": "Email jane.doe@example.com"}])
        assert pii.headers["x-bastion-model-version"] == V1
    finally:
        assert site.admin("rollback", alias="prod").status_code == 200
    assert site.served(who="limited") == V1


def test_prompt_templates_render_before_redaction(site: Site) -> None:
    site.model.seen.clear()
    raw = site.chat(
        extra_body={"prompt": {"id": "greet@1", "variables": {"who": "Jonathan Quayle"}}}
    )
    assert raw.headers["x-bastion-prompt-version"] == "greet@1"
    (request,) = site.model.seen
    system, user = request.messages
    assert system.role == "system" and system.content.startswith("You greet [PERSON_")
    assert "Jonathan" not in system.content and system.content.endswith("one word.")
    assert user.content == "Say hi."
    (record,) = [r for r in site.records() if r.request_id == raw.headers["x-request-id"]]
    assert record.detail["prompt_version"] == "greet@1"
    assert "PERSON" in record.entity_counts
    # By name: the newest version.
    newest = site.chat(extra_body={"prompt": {"id": "greet", "variables": {"who": "you"}}})
    assert newest.headers["x-bastion-prompt-version"] == "greet@2"


def test_a_prompt_alias_is_split_and_rolled_back_like_a_model_alias(site: Site) -> None:
    assert site.admin("promote", alias="greet-prod", version="greet@1").status_code == 200
    r = site.admin("split", alias="greet-prod", weights={"greet@1": 50, "greet@2": 50})
    assert r.status_code == 200, r.text
    ref = {"id": "greet-prod", "variables": {"who": "you"}}

    def version(user: str) -> str:
        raw = site.chat(user=user, extra_body={"prompt": ref})
        return raw.headers["x-bastion-prompt-version"]

    users = [f"u{i}" for i in range(10)]
    seen = {u: version(u) for u in users}
    assert set(seen.values()) == {"greet@1", "greet@2"}
    assert {u: version(u) for u in users} == seen
    assert site.admin("rollback", alias="greet-prod").status_code == 200
    assert {version(u) for u in users} == {"greet@1"}


@pytest.mark.parametrize(
    ("prompt", "param", "code"),
    [
        ({"id": "nope@1"}, "prompt", "prompt_not_found"),
        ({"id": "greet@1"}, "prompt.variables", None),  # `who` is required
        ({"id": "greet@1", "variables": {"who": "x", "extra": "y"}}, "prompt.variables", None),
        ({"id": "greet@1", "junk": 1}, None, None),
    ],
)
def test_bad_prompt_references_are_400(site: Site, prompt: dict, param: str, code: str) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        site.chat(extra_body={"prompt": prompt})
    error = bad.value.response.json()["error"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert "nope" not in str(error)  # client text is never echoed


def test_admin_changes_are_validated_and_need_the_admin_role(site: Site) -> None:
    before = site.records("models.alias_promoted")
    bad = site.admin("promote", alias="prod", version="smollm2-135m-instruct@v9")
    assert bad.status_code == 400
    assert site.admin("split", alias="prod", weights={V1: 0}).status_code == 400
    assert site.admin("promote", alias=MODEL, version=V1).status_code == 400  # a model name

    async def as_app() -> httpx.Response:
        async with site.http() as client:
            return await client.post(
                "/v1/admin/aliases/promote",
                json={"alias": "prod", "version": V2},
                headers={"authorization": f"Bearer {site.keys['app']}"},
            )

    assert site.aio.run(as_app()).status_code == 403
    assert site.served() == V1  # nothing moved

    async def view() -> httpx.Response:
        async with site.http() as client:
            return await client.get(
                "/v1/admin/registry", headers={"authorization": f"Bearer {site.keys['admin']}"}
            )

    listing = site.aio.run(view()).json()
    assert {m["id"] for m in listing["models"]} == {V1, V2}
    assert {p["id"] for p in listing["prompts"]} == {"greet@1", "greet@2"}
    assert listing["aliases"]["prod"]["targets"] == {V1: 100}
    # every refused attempt is recorded too, as what it was
    refused = site.records("models.alias_promoted")[len(before) :]
    assert [(r.status_code, r.outcome) for r in refused] == [
        (400, "failure"),
        (400, "failure"),
        (403, "denied"),
    ]


def test_the_model_list_shows_aliases_a_tenant_can_reach_whole(site: Site) -> None:
    async def listed(who: str) -> dict[str, dict]:
        client = openai.AsyncOpenAI(
            base_url="http://bastion.test/v1",
            api_key=site.keys[who],
            http_client=site.http(),
            max_retries=0,
        )
        return {m.id: m.model_dump() async for m in client.models.list()}

    models = site.aio.run(listed("app"))
    assert models["prod"]["alias_of"] == {V1: 100}
    assert "prod" in site.aio.run(listed("limited"))  # v1 only: limited may use it
    assert site.admin("split", alias="prod", weights={V1: 50, V2: 50}).status_code == 200
    try:
        assert site.aio.run(listed("app"))["prod"]["alias_of"] == {V1: 50, V2: 50}
        assert "prod" not in site.aio.run(listed("limited"))  # v2 is not the tenant's
    finally:
        assert site.admin("rollback", alias="prod").status_code == 200
