"""The audit page's summary panel and chart, driven in headless Chromium (as
tests/serving/test_audit_page.py drives the page) against the in-process app over a real SQLite
audit log: the tables and the bars show exactly the store's counts for the chosen period and
tenant, drawn by the page itself (inline SVG, no CDN, no external script)."""

# ruff: noqa: F811  (the imported browser fixtures are requested by name as parameters)
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from policies.audit.record import parse_time
from tests.serving.test_audit_api import AuditApp, build_audit_app

# The browser fixtures of the page test (they use this module's ``env``).
from tests.serving.test_audit_page import (  # noqa: F401
    Page,
    base_url,
    downloads,
    driver,
    page,
)
from tests.serving.test_audit_summary import RECORDS, WINDOW, oracle


@pytest.fixture(scope="module")
def env(aio: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditApp]:
    env = build_audit_app(aio, tmp_path_factory.mktemp("audit-summary-page"))
    for record in RECORDS:
        aio.run(env.log.append(record))
    yield env
    aio.run(env.client.aclose())
    aio.run(env.log.close())


def table(page: Page, id_: str) -> dict[str, int]:
    rows = page.d.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} tr[data-key]`)]"
        ".map(tr => [tr.dataset.key, tr.querySelector('.count').textContent]);",
        id_,
    )
    return {k: int(v) for k, v in rows}


def bars(page: Page) -> dict[str, dict[str, int]]:
    script = """
        return [...document.querySelectorAll('#sum-svg g.chart-bar')].map(g => [
            g.dataset.start, Number(g.dataset.records),
            Object.fromEntries([...g.querySelectorAll('rect')].map(
                r => [r.dataset.outcome, Number(r.dataset.count)])),
            g.querySelector('title').textContent]);"""
    out = {}
    for start, records, segments, title in page.d.execute_script(script):
        assert f"{records} records" in title
        out[start] = {"records": records, **segments}
    return out


def summarized(page: Page, start: str, end: str) -> None:
    page.set_value("f-from", start)
    page.set_value("f-to", end)
    page.d.execute_script("document.getElementById('summary-info').textContent = ''")
    page.el("search").click()
    page.wait(
        lambda: (
            page.text("summary-info") != "" or "error" in page.el("message").get_attribute("class")
        )
    )


def errors(page: Page) -> list[str]:
    """Console errors, but for the browser's own favicon request (404: the page has none)."""
    return [e for e in page.errors() if "favicon.ico" not in e]


def expect(page: Page, want: dict[str, Any]) -> None:
    assert table(page, "sum-outcomes") == want["by_outcome"]
    assert table(page, "sum-classes") == want["data_classes"]
    assert table(page, "sum-denials") == want["denials_by_rule"]
    verdicts = {f"{g} · {v}": n for g, by in want["guardrails"].items() for v, n in by.items()}
    assert table(page, "sum-guardrails") == verdicts
    assert table(page, "sum-tokens") == want["tokens"]
    drawn = bars(page)
    assert len(drawn) == len(want["points"])
    for start, bar in drawn.items():
        point = want["points"][int(parse_time(start).timestamp())]
        assert bar["records"] == point["records"]
        assert {o: n for o, n in bar.items() if o != "records"} == {
            o: point[o] for o in ("success", "failure", "denied") if point[o]
        }


def test_officer_sees_the_summary_and_chart_of_the_period(page, env, tmp_path):
    page.sign_in(env.keys["operator"])
    page.wait(lambda: page.visible("app"))
    summarized(page, "2026-05-04T00:00", "2026-05-06T00:00")
    want = oracle(WINDOW, 900)  # two days: 15-minute bars
    assert page.text("summary-info") == f"{want['records']} records · all tenants · bars of 15 min"
    expect(page, want)
    # every bar lies inside the plot, the tallest as tall as the plot
    heights = page.d.execute_script(
        "return [...document.querySelectorAll('#sum-svg g.chart-bar')].map("
        "g => [...g.querySelectorAll('rect')].reduce((h, r) => h + r.height.baseVal.value, 0));"
    )
    assert max(heights) == pytest.approx(152, abs=0.01) and min(heights) > 0
    # the counts came from the summary route; the records list stays one page
    urls = page.d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    assert any("/v1/audit/summary?" in u for u in urls)
    assert all("limit=50" in u for u in urls if "/v1/audit/records?" in u)
    assert errors(page) == []  # no CSP violation, no failed script
    page.d.execute_script("document.getElementById('summary').scrollIntoView()")
    shot = tmp_path / "audit-summary.png"
    assert page.d.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a shorter period: narrower bars, the same counts as the store
    summarized(page, "2026-05-04T06:00", "2026-05-04T09:00")
    want = oracle({"from": "2026-05-04T06:00:00Z", "to": "2026-05-04T09:00:00Z"}, 60)
    assert page.text("summary-info").endswith("bars of 1 min")
    expect(page, want)


def test_tenant_auditor_sees_their_tenant_only(page, env):
    page.sign_in(env.keys["auditor"])
    page.wait(lambda: page.visible("app"))
    summarized(page, "2026-05-04T00:00", "2026-05-06T00:00")
    want = oracle({**WINDOW, "tenant": "acme"}, 900)
    assert page.text("summary-info") == f"{want['records']} records · tenant acme · bars of 15 min"
    expect(page, want)
    assert errors(page) == []


def test_an_empty_period_draws_no_bar(page, env):
    page.sign_in(env.keys["operator"])
    page.wait(lambda: page.visible("app"))
    summarized(page, "2027-01-01T00:00", "2027-01-02T00:00")
    assert page.text("summary-info").startswith("0 records")
    assert bars(page) == {}
    assert table(page, "sum-outcomes") == {"success": 0, "failure": 0, "denied": 0}
    assert page.text("sum-denials") == "no denial"
    assert errors(page) == []
