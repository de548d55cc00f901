"""An in-process Bastion (FastAPI app + gateway + real bundled models), no Ray."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from models.deployment import ModelServer
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, build_audit_log
from policies.decide import PolicyEngine
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import ModelConfig, Settings
from serving.gateway import Gateway, StaticSites
from serving.policy_reload import PolicyReloader

MODEL = "smollm2-135m-instruct"

# Two sites; this in-process "cluster" has capacity only in `local`. Tenant acme may use the
# bundled model (approved for everything) and the embedder; `clinic` must name a purpose and
# may only send PII-free requests to a model at the remote site.
POLICY = """
label: test
sites:
  - {id: local, jurisdiction: DE, region: EU}
  - {id: remote, jurisdiction: DE, region: EU}
models:
  - id: smollm2-135m-instruct@v1
    site: local
    approved_data_classes: [PHI, PCI, PII]
    aliases: [chat-secure]
  - id: all-minilm-l6-v2@v1
    site: local
    approved_data_classes: [PHI, PCI, PII]
  - id: remote-model@v1
    site: remote
    approved_data_classes: []
  - id: pii-only@v1
    site: local
    approved_data_classes: [PII]
tenants:
  - id: acme
    sites: [local]
    models: [smollm2-135m-instruct, all-minilm-l6-v2]
  - id: clinic
    sites: [local, remote]
    models: [remote-model, chat-secure]
    purposes: [treatment]
    default_data_classes: []
  - id: bank
    sites: [local]
    models: [pii-only]
"""


class Api:
    """Synchronous facade over an httpx client bound to the ASGI app on the test loop."""

    def __init__(self, aio: Any, app: Any, keys: dict[str, str]) -> None:
        self.aio = aio
        self.keys = keys
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5555)),
            base_url="http://bastion.test",
            timeout=120,
        )

    def request(self, method: str, path: str, key: str | None = "app", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["authorization"] = f"Bearer {self.keys.get(key, key)}"
        return self.aio.run(self.client.request(method, path, headers=headers, **kwargs))

    def post(self, path: str, key: str | None = "app", **kwargs: Any) -> Any:
        return self.request("POST", path, key, **kwargs)

    def get(self, path: str, key: str | None = "app", **kwargs: Any) -> Any:
        return self.request("GET", path, key, **kwargs)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("bastion-data")
    (data / "policy.yaml").write_text(POLICY)
    models = [
        ModelConfig(name=MODEL),
        ModelConfig(name="remote-model", site="remote"),
        ModelConfig(name="pii-only"),  # same engine, another version id, approved for PII only
    ]
    return Settings(data_dir=data, models=models)


@pytest.fixture(scope="session")
def redactor() -> Any:
    from privacy import PrivacyConfig, Redactor

    instance = Redactor(PrivacyConfig())
    instance.warmup()
    return instance


@pytest.fixture(scope="session")
def api(
    aio: Any, llama_engine: Any, embedder: Any, redactor: Any, settings: Settings
) -> Iterator[Api]:
    store = KeyStore(settings.data_dir / "keys.db")
    keys = {
        "app": store.create("acme", Role.APP)[0],
        "clinic": store.create("clinic", Role.APP)[0],
        "stranger": store.create("nobody", Role.APP)[0],
        "bank": store.create("bank", Role.APP)[0],
        "auditor": store.create("acme", Role.AUDITOR)[0],
        "admin": store.create("acme", Role.ADMIN)[0],
    }
    revoked, info = store.create("acme", Role.APP)
    store.revoke(info.key_id)
    keys["revoked"] = revoked
    server = ModelServer(llama_engine, default_max_tokens=32)
    server.ready = True
    policy = PolicyEngine.from_paths(settings.policy_files())
    gateway = Gateway(
        store,
        Registry(settings.models, settings.embeddings),
        policy,
        StaticSites({"local"}),
        # remote-model@v1 is configured at a site absent here, so it has no replica
        {f"{MODEL}@v1": server, "pii-only@v1": server},
        embedder,
        redactor,
    )
    app = create_api(max_body_bytes=64 * 1024)
    app.state.gateway = gateway
    audit_log = aio.run(build_audit_log(AuditConfig(), settings.data_dir))
    app.state.audit = LocalAuditClient(audit_log)
    app.state.policy_reloader = PolicyReloader(
        policy, settings.policy_files(), settings.data_dir, every_s=0.01
    )
    api = Api(aio, app, keys)
    api.audit_log = audit_log
    yield api
    aio.run(audit_log.close())
