"""The HTML report of one eval result: scores against the baseline, a plot of the score per tag
(inline SVG, drawn in the page: no script, nothing fetched) and the per-case check table.
Answers are not in the report (they are in the result file)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

__all__ = ["render_html", "tag_plot"]

_CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3;text-align:left}.pass{color:#17692b}.fail{color:#b00020;font-weight:600}
.skip{color:#777}.bad{background:#fde7ea}h1{font-size:20px}h2{font-size:16px;margin-top:24px}
"""


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def tag_plot(scores: dict[str, float], baseline: dict[str, float]) -> str:
    """Horizontal bars: the score of each tag (dark) and its baseline (light), 0 to 1."""
    tags = [k.removeprefix("tag:") for k in scores if k.startswith("tag:")]
    if not tags:
        return "<p>No tags.</p>"
    row, left, width = 26, 170, 420
    height = row * len(tags) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" '
        f'height="{height}" role="img" aria-label="score per tag">'
    ]
    for x in (0.0, 0.5, 1.0):
        gx = left + x * width
        parts.append(
            f'<line x1="{gx}" y1="0" x2="{gx}" y2="{height - 20}" stroke="#ddd"/>'
            f'<text x="{gx}" y="{height - 6}" font-size="11" text-anchor="middle">{x:g}</text>'
        )
    for i, tag in enumerate(tags):
        y = i * row + 4
        now = scores[f"tag:{tag}"]
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{escape(tag)}</text>"
        )
        before = baseline.get(f"tag:{tag}")
        if before is not None:
            parts.append(
                f'<rect x="{left}" y="{y}" width="{before * width:.1f}" height="20" '
                f'fill="#c9d7ea"><title>baseline {before:.3f}</title></rect>'
            )
        parts.append(
            f'<rect x="{left}" y="{y + 5}" width="{now * width:.1f}" height="10" '
            f'fill="#2c5d9e"><title>{escape(tag)} {now:.3f}</title></rect>'
            f'<text x="{left + width + 6}" y="{y + 14}" font-size="12">{now:.3f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _check_cell(check: dict[str, Any]) -> str:
    state = {True: ("pass", "pass"), False: ("fail", "FAIL"), None: ("skip", "skip")}
    cls, word = state[check["passed"]]
    extra = f" {check['value']}" if "value" in check else ""
    note = f" ({escape(check['note'])})" if check.get("note") else ""
    return f'<span class="{cls}">{escape(check["type"])}: {word}{extra}{note}</span>'


def render_html(result: dict[str, Any]) -> str:
    scores = result["scores"]
    base = (result.get("baseline") or {}).get("scores") or {}
    regressed = {r["score"] for r in result["regressions"]}
    verdict = "PASSED" if result["passed"] else "FAILED: regressions beyond the tolerance"
    rows = []
    for name, now in scores.items():
        before = base.get(name)
        delta = None if before is None else now - before
        cls = ' class="bad"' if name in regressed else ""
        rows.append(
            f"<tr{cls}><td>{escape(name)}</td><td>{_fmt(now)}</td><td>{_fmt(before)}</td>"
            f"<td>{'-' if delta is None else f'{delta:+.3f}'}</td></tr>"
        )
    cases = []
    for c in result["cases"]:
        checks = "<br>".join(_check_cell(ch) for ch in c["checks"])
        cls = "" if c["passed"] else ' class="bad"'
        cases.append(
            f"<tr{cls}><td>{escape(c['id'])}</td><td>{escape(', '.join(c['tags']))}</td>"
            f"<td>{c['score']:.3f}</td><td>{checks}</td><td>{c['status']}</td>"
            f"<td>{c['latency_ms']:.0f}</td><td>{escape(str(c.get('model_version') or '-'))}"
            "</td></tr>"
        )
    versions = ", ".join(result.get("model_versions") or []) or "-"
    baseline_note = (
        f"Baseline: {escape(str(result['baseline']['path']))} "
        f"({escape(', '.join(result['baseline'].get('model_versions') or []) or '-')}), "
        f"tolerance {result['tolerance']}"
        if result.get("baseline")
        else "No baseline."
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Bastion eval: {escape(result["model"])}</title><style>{_CSS}</style></head><body>
<h1>Eval {escape(Path(result["evalset"]).name)} on {escape(result["model"])}</h1>
<p>Versions served: {escape(versions)}. Target: {escape(result["target"])}.
Finished {escape(result["finished_at"])}. {baseline_note}</p>
<p class="{"pass" if result["passed"] else "fail"}">{verdict}</p>
<h2>Scores</h2>
<table><tr><th>score</th><th>now</th><th>baseline</th><th>change</th></tr>{"".join(rows)}</table>
<h2>Score per tag</h2>
{tag_plot(scores, base)}
<h2>Cases</h2>
<table><tr><th>case</th><th>tags</th><th>score</th><th>checks</th><th>HTTP</th>
<th>latency ms</th><th>version</th></tr>{"".join(cases)}</table>
</body></html>
"""
