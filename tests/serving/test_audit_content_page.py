"""The audit page's "view content" action in headless Chromium (Debian's `chromium` and
`chromium-driver`), against the real pipeline's captured content served by uvicorn on
127.0.0.1: content shown as text (never parsed as HTML), each read audited, shredded content
explained, and no original identifier value anywhere on the page."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from policies.audit import RecordFilter
from tests.policies.audit.conftest import make_record
from tests.serving.test_audit_content import ORIGINALS, Env, build_env, close_env
from tests.serving.test_audit_page import Page, downloads, driver  # noqa: F401 (fixtures)

HOSTILE_INPUT = '<img src="x" onerror="document.title=\'pwned\'"> [PERSON_1]'
HOSTILE_OUTPUT = "<script>window.pwned = 1</script><b>bold</b>"


@pytest.fixture(scope="module")
def env(aio: Any, llama_engine: Any, redactor: Any, tmp_path_factory: Any) -> Iterator[Env]:
    e = build_env(aio, llama_engine, redactor, tmp_path_factory.mktemp("content-page"))
    # Captured content that looks like markup (a model can answer anything).
    hostile = json.dumps({"input": [HOSTILE_INPUT], "output": HOSTILE_OUTPUT})
    e.requests["hostile"] = aio.run(
        e.log.append(make_record(0, tenant="acme", request_id="hostile-1"), content=hostile)
    )
    yield e
    close_env(e)


@pytest.fixture(scope="module")
def base_url(aio: Any, env: Env) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(env.app, log_level="warning", lifespan="off"))
    # Served on the test loop, where the audit log lives (its writer task and futures).
    done = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), aio.loop)
    deadline = time.monotonic() + 20
    while not server.started:
        assert not done.done(), done.exception()
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    done.result(20)
    sock.close()


def _view(page: Page, index: int) -> dict[str, Any]:
    """Click the row's "view content" and return what the page then shows."""
    script = """
        const row = document.querySelector(`#records tbody tr[data-index="${arguments[0]}"]`);
        const button = row && row.querySelector('button.view-content');
        if (!button) return null;
        row.querySelector('pre.content-text').textContent = '';
        button.click();
        return true;"""
    assert page.d.execute_script(script, index), f"row {index} has no view content action"
    read = """
        const pre = document.querySelector(
            `#records tbody tr[data-index="${arguments[0]}"] pre.content-text`);
        return {text: pre.textContent, hidden: pre.hidden, children: pre.children.length,
                error: pre.classList.contains('error')};"""
    page.wait(lambda: page.d.execute_script(read, index)["text"] != "")
    return page.d.execute_script(read, index)


def _reads(env: Env) -> list[Any]:
    page = env.api.aio.run(env.log.query(RecordFilter(event_type="audit.content_read"), 1000))
    return [r for _, r in page.records]


def test_view_content_shows_text_audits_each_read_and_leaks_nothing(
    env: Env,
    base_url: str,
    driver: Any,  # noqa: F811
) -> None:
    page = Page(driver, base_url)
    page.open()
    page.sign_in(env.api.keys["operator"])
    page.wait(lambda: page.visible("app") and page.text("page-info") != "")
    rows = page.rows()
    with_action = driver.execute_script(
        "return [...document.querySelectorAll('#records tbody tr')]"
        ".filter(tr => tr.querySelector('button.view-content')).map(tr => tr.dataset.index);"
    )
    # Exactly the records with captured content carry the action.
    expected = {str(env.requests[k]) for k in ("acme", "acme2", "clinic", "hostile")}
    assert set(with_action) == expected, (with_action, rows)

    before = len(_reads(env))
    shown = _view(page, env.requests["acme"])
    assert not shown["error"] and shown["children"] == 0
    assert "Input (redacted):" in shown["text"] and "PERSON_1" in shown["text"]
    assert "fever" in shown["text"] and "Answer (redacted):" in shown["text"]

    # Markup in captured content is shown as text: no element is created, nothing runs.
    hostile = _view(page, env.requests["hostile"])
    assert HOSTILE_INPUT in hostile["text"] and HOSTILE_OUTPUT in hostile["text"]
    assert hostile["children"] == 0
    assert driver.execute_script("return document.querySelectorAll('#records img').length") == 0
    assert driver.execute_script("return window.pwned === undefined && document.title") != "pwned"
    assert driver.title != "pwned"

    # Each read is audited with the index, by the officer's key, never with the text.
    reads = _reads(env)[before:]
    assert [r.detail["record_index"] for r in reads] == [
        env.requests["acme"],
        env.requests["hostile"],
    ]
    assert all(r.actor.tenant == "default" and r.actor.role == "auditor" for r in reads)
    assert all(b"PERSON" not in r.canonical_bytes() for r in reads)

    # Shredded content: the page says so (410), the row stays.
    env.api.aio.run(env.log.erase_tenant("acme"))
    gone = _view(page, env.requests["acme2"])
    assert gone["error"] and "shredded" in gone["text"]
    clinic = _view(page, env.requests["clinic"])
    assert not clinic["error"] and "PERSON_1" in clinic["text"]

    # Leak sweep over everything the page shows and holds.
    html = driver.page_source
    for value in ORIGINALS:
        assert value not in html, f"an original identifier value is on the page: {value[:4]}…"
    assert page.errors() == [] or all("410" in e for e in page.errors())
