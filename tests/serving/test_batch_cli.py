"""``bastion batch submit --wait`` / status / cancel / download against the in-process app. The
CLI's openai client is bound to the app through a synchronous bridge over httpx's ASGI transport
(the one substitution: there is no HTTP server in this process); everything behind it is real."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from typer.testing import CliRunner

from serving.batch import BatchSettings
from serving.batch import cli as batch_cli
from serving.batch.service import attach_batch
from serving.cli import app as bastion

MODEL = "smollm2-135m-instruct"


class _Bridge(httpx.BaseTransport):
    """A sync transport that runs the ASGI app on the test's event loop thread."""

    def __init__(self, aio: Any, app: Any) -> None:
        self.aio = aio
        self.inner = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def go() -> tuple[int, Any, bytes]:
            req = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            resp = await self.inner.handle_async_request(req)
            return resp.status_code, resp.headers, await resp.aread()

        status, headers, content = self.aio.run(go())
        headers = [(k, v) for k, v in headers.items() if k.lower() != "content-encoding"]
        return httpx.Response(status, headers=headers, content=content)


@pytest.fixture()
def cli(api: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    app = api.client._transport.app
    attach_batch(app, BatchSettings(poll_s=0.05), settings.data_dir / "audit-kek.key")

    def client(url: str, key: str) -> openai.OpenAI:
        http = httpx.Client(transport=_Bridge(api.aio, app), timeout=120)
        return openai.OpenAI(base_url=url + "/v1", api_key=key, http_client=http, max_retries=0)

    monkeypatch.setattr(batch_cli, "_client", client)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(
            bastion, ["batch", *args, "--url", "http://bastion.test", "--key", api.keys["app"]]
        )

    yield run
    if app.state.batch is not None:
        api.aio.run(app.state.batch.worker.stop())


def test_prepare_wraps_bare_lines() -> None:
    data = b'{"messages": [{"role": "user", "content": "hi"}]}\nplain text\n\n'
    lines = [
        json.loads(x) for x in batch_cli.prepare(data, "m", "/v1/chat/completions").splitlines()
    ]
    assert [x["custom_id"] for x in lines] == ["line-1", "line-2"]
    assert all(x["body"]["model"] == "m" and x["url"] == "/v1/chat/completions" for x in lines)
    assert lines[1]["body"]["messages"] == [{"role": "user", "content": "plain text"}]


def test_submit_wait_status_download(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"messages": [{"role": "user", "content": f"Say {w}."}], "max_tokens": 3})
            for w in ("yes", "no", "maybe")
        )
    )
    out = tmp_path / "out.jsonl"
    result = cli("submit", str(src), "--model", MODEL, "--wait", "--out", str(out))
    assert result.exit_code == 0, result.output
    batch_id = re.search(r"batch_[0-9a-f]{32}", result.output).group(0)
    assert "completed 3 ok, 0 failed of 3" in result.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["custom_id"] for r in rows) == ["line-1", "line-2", "line-3"]
    status = cli("status", batch_id)
    assert status.exit_code == 0 and "completed" in status.output
    again = tmp_path / "again.jsonl"
    assert cli("download", batch_id, "--out", str(again)).exit_code == 0
    assert again.read_text() == out.read_text()
    cancel = cli("cancel", batch_id)  # already finished: stays completed
    assert cancel.exit_code == 0 and "completed" in cancel.output


def test_bad_file_exits_1(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"custom_id": "a", "body": {"messages": []}, "url": "/v1/x"}))
    result = cli("submit", str(src), "--model", MODEL, "--endpoint", "/v1/nope")
    assert result.exit_code == 1
    assert "error 400" in result.output
