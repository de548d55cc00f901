"""An in-process Bastion (FastAPI app + gateway + real bundled models), no Ray."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from models.deployment import ModelServer
from models.registry import Registry
from policies.access import KeyStore, Role
from serving.api import create_api
from serving.config import Settings
from serving.gateway import Gateway

MODEL = "smollm2-135m-instruct"


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
    return Settings(data_dir=tmp_path_factory.mktemp("bastion-data"))


@pytest.fixture(scope="session")
def api(aio: Any, llama_engine: Any, embedder: Any, settings: Settings) -> Api:
    store = KeyStore(settings.data_dir / "keys.db")
    keys = {
        "app": store.create("acme", Role.APP)[0],
        "auditor": store.create("acme", Role.AUDITOR)[0],
        "admin": store.create("acme", Role.ADMIN)[0],
    }
    revoked, info = store.create("acme", Role.APP)
    store.revoke(info.key_id)
    keys["revoked"] = revoked
    server = ModelServer(llama_engine, default_max_tokens=32)
    server.ready = True
    gateway = Gateway(store, Registry(settings.models), {f"{MODEL}@v1": server}, embedder)
    app = create_api(max_body_bytes=64 * 1024)
    app.state.gateway = gateway
    return Api(aio, app, keys)
