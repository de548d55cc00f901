"""The audit page for compliance officers, driven in headless Chromium (Debian's `chromium` and
`chromium-driver`) against the in-process app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from policies.audit import verify_bundle
from serving.audit_api import PAGE_CSP
from tests.serving.test_audit_api import WINDOW, AuditApp, build_audit_app, expected

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
STATIC = Path(__file__).resolve().parents[2] / "serving" / "static"


@pytest.fixture(scope="module")
def env(aio: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditApp]:
    env = build_audit_app(aio, tmp_path_factory.mktemp("audit-page"))
    yield env
    aio.run(env.client.aclose())
    aio.run(env.log.close())


# -- the page as served (no browser) --------------------------------------------------------


@pytest.mark.parametrize("path", ["/audit", "/audit/app.js", "/audit/app.css"])
def test_page_and_assets_load_without_a_key_under_a_strict_csp(env, path):
    r = env.get(path, key=None)
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert "default-src 'self'" in PAGE_CSP and "unsafe" not in PAGE_CSP
    assert "frame-ancestors 'none'" in PAGE_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    kind = {"/audit": "text/html", "/audit/app.js": "text/javascript"}.get(path, "text/css")
    assert r.headers["content-type"].startswith(kind)
    # nothing leaves the host: no absolute or protocol-relative URL in what the page loads
    assert not re.search(r"(https?:)?//[a-z0-9]", r.text, re.IGNORECASE)


def test_page_has_no_inline_script_or_style_and_keeps_the_key_out_of_urls_and_cookies():
    html = (STATIC / "audit.html").read_text()
    js = (STATIC / "audit.js").read_text()
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/audit/app.js" defer>']
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE)  # no inline event handlers
    assert "innerHTML" not in js and "document.write" not in js  # server data is text only
    assert "document.cookie" not in js and "localStorage" not in js
    assert 'credentials: "omit"' in js
    assert js.count("sessionStorage.setItem") == 1


# -- in the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(aio: Any, env: AuditApp) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(env.app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
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


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(downloads: Path) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium "
                    "chromium-driver)")  # fmt: skip
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (dev extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


class Page:
    """The audit page in the browser, by element id."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.d = driver
        self.base_url = base_url

    def open(self) -> None:
        self.d.get(f"{self.base_url}/audit")
        self.d.execute_script("sessionStorage.clear()")
        self.d.get(f"{self.base_url}/audit")
        self.wait(lambda: self.visible("login"))

    def el(self, id_: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.ID, id_)

    def visible(self, id_: str) -> bool:
        return self.el(id_).is_displayed()

    def text(self, id_: str) -> str:
        return self.el(id_).text

    def wait(self, condition: Callable[[], Any], timeout: float = 20) -> Any:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.d, timeout).until(lambda _: condition())
        except TimeoutException:
            state = self.d.execute_script(
                "return ['message', 'login-error', 'page-info'].map("
                "id => id + ': ' + document.getElementById(id).textContent)"
            )
            pytest.fail(f"page state: {state}; console: {self.d.get_log('browser')}")

    def sign_in(self, key: str) -> None:
        field = self.el("api-key")
        field.clear()
        field.send_keys(key)
        self.el("signin").click()

    def choose(self, id_: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.el(id_)).select_by_value(value)

    def set_value(self, id_: str, value: str) -> None:
        self.d.execute_script("arguments[0].value = arguments[1]", self.el(id_), value)

    def rows(self) -> list[dict[str, str]]:
        script = """
            return [...document.querySelectorAll('#records tbody tr')].map(tr => ({
                index: tr.dataset.index,
                event: tr.querySelector('.event').textContent,
                outcome: tr.querySelector('.outcome').textContent,
                tenant: tr.querySelector('.tenant').textContent,
                request_id: tr.querySelector('.request-id').textContent,
            }));"""
        return self.d.execute_script(script)

    def search(self) -> list[dict[str, str]]:
        before = self.text("page-info")
        self.d.execute_script("document.getElementById('page-info').textContent = ''")
        self.el("search").click()
        self.wait(
            lambda: self.text("page-info") != "" or self.text("message") not in ("", "Loading…")
        )
        assert self.text("page-info"), (before, self.text("message"))
        return self.rows()

    def turn(self, button: str) -> list[dict[str, str]]:
        self.d.execute_script("document.getElementById('page-info').textContent = ''")
        self.el(button).click()
        self.wait(lambda: self.text("page-info") != "")
        return self.rows()

    def errors(self) -> list[str]:
        return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture
def page(driver: Any, base_url: str) -> Page:
    p = Page(driver, base_url)
    p.open()
    driver.get_log("browser")  # start each test with an empty console
    return p


def test_sign_in_refuses_unknown_and_non_auditor_keys(page, env):
    page.sign_in("bst_0000000000000000_" + "A" * 43)
    page.wait(lambda: page.visible("login-error"))
    assert "not accepted" in page.text("login-error")
    page.sign_in(env.keys["app"])
    page.wait(lambda: "auditor role" in page.text("login-error"))
    assert not page.visible("app")
    assert page.d.execute_script("return sessionStorage.length") == 0


def test_officer_filters_sees_integrity_pages_and_downloads_a_verified_bundle(
    page, env, downloads, tmp_path
):
    signed = env.aio.run(env.log.checkpoint_now())
    size_before = env.log.size
    page.sign_in(env.keys["operator"])
    page.wait(lambda: page.visible("app") and page.text("cp-key") not in ("", "\u2013"))
    size_after = env.log.size

    # the key is in this tab's session storage only: not in the URL, not in a cookie
    key = env.keys["operator"]
    assert page.d.execute_script("return sessionStorage.getItem('bastion.audit.key')") == key
    assert page.d.execute_script("return document.cookie") == ""
    assert key not in page.d.current_url
    assert "all tenants" in page.text("who-text")

    # integrity: health, log size, and the latest signed checkpoint exactly as the log has it
    assert page.text("health") == "Healthy"
    assert size_before <= int(page.text("log-size")) <= size_after
    cp_size = int(page.text("cp-size"))
    assert signed.tree_size <= cp_size <= size_after
    assert page.text("cp-root") == env.log.root(cp_size).hex()
    assert page.text("cp-key") == page.text("hint-key") == env.log.signer.key_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", page.text("cp-time"))

    # filter by period, event type and outcome: exactly the matching rows
    page.set_value("f-from", "2026-03-01T00:00")
    page.set_value("f-to", "2026-04-01T00:00")
    page.choose("f-event", "inference.embedding")
    page.choose("f-outcome", "success")
    rows = page.search()
    want = expected(**WINDOW, event_type="inference.embedding", outcome="success")
    assert 0 < len(want) < 10
    assert [r["request_id"] for r in rows] == want
    assert {(r["event"], r["outcome"]) for r in rows} == {("inference.embedding", "success")}
    denied = expected(**WINDOW, event_type="inference.embedding", outcome="denied")
    assert denied and not set(denied) & {r["request_id"] for r in rows}

    page.choose("f-outcome", "denied")
    assert [r["request_id"] for r in page.search()] == denied

    # paging through everything in the period, 10 at a time
    page.choose("f-event", "")
    page.choose("f-outcome", "")
    page.choose("f-limit", "10")
    everything = expected(**WINDOW)
    first = [r["request_id"] for r in page.search()]
    assert first == everything[:10] and page.text("page-info").startswith("page 1")
    assert [r["request_id"] for r in page.turn("next")] == everything[10:20]
    assert page.text("page-info").startswith("page 2")
    assert [r["request_id"] for r in page.turn("prev")] == everything[:10]

    # download a bundle for one tenant and event type; it verifies offline
    page.set_value("f-tenant", "acme")
    page.choose("f-event", "inference.chat")
    page.el("download").click()
    page.wait(lambda: page.text("message").startswith("Downloaded"), timeout=30)
    name = "bastion-audit-20260301T000000Z-20260401T000000Z.zip"
    bundle = downloads / name
    page.wait(lambda: bundle.exists() and not list(downloads.glob("*.crdownload")), timeout=30)
    result = verify_bundle(bundle, expected_key_id=env.log.signer.key_id)
    assert result.ok, result.reason
    assert result.records == len(expected(**WINDOW, tenant="acme", event_type="inference.chat"))
    assert f"{result.records} records" in page.text("message")

    shot = tmp_path / "audit-page.png"
    assert page.d.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert page.errors() == []  # no CSP violation, no failed script

    page.el("signout").click()
    page.wait(lambda: page.visible("login"))
    assert page.d.execute_script("return sessionStorage.length") == 0


def test_tenant_auditor_sees_only_their_tenant(page, env):
    page.sign_in(env.keys["auditor"])
    page.wait(lambda: page.visible("app"))
    assert page.el("f-tenant").get_attribute("value") == "acme"
    assert page.el("f-tenant").get_attribute("readonly") is not None
    assert "sees tenant acme" in page.text("who-text")
    page.set_value("f-from", "2026-03-01T00:00")
    page.set_value("f-to", "2026-04-01T00:00")
    page.choose("f-limit", "200")
    rows = page.search()
    assert [r["request_id"] for r in rows] == expected(**WINDOW, tenant="acme")
    assert {r["tenant"] for r in rows} == {"acme"}
    assert page.errors() == []
