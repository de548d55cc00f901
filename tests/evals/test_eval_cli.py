"""`bastion eval run` in-process on a tiny set with the bundled model (SmolLM2 on CPU): the
result file, the HTML report, the release gate, and a baseline regression that exits 1."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from serving.cli import app
from serving.evals.gate import passed

POLICY = """
label: eval-test
sites:
  - {id: local, jurisdiction: DE, region: EU}
models:
  - id: smollm2-135m-instruct@v1
    site: local
    approved_data_classes: [PHI, PCI, PII]
  - id: all-minilm-l6-v2@v1
    site: local
    approved_data_classes: [PHI, PCI, PII]
tenants:
  - id: acme
    sites: [local]
    models: [smollm2-135m-instruct, all-minilm-l6-v2]
"""

CASES = [
    {
        "id": "bank-password",
        "tags": ["bank"],
        "messages": [{"role": "user", "content": "How do I reset my online banking password?"}],
        "checks": [{"type": "max_latency_ms", "value": 600000}, {"type": "max_cost", "value": 1}],
        "max_tokens": 8,
    },
    {
        "id": "impossible",
        "tags": ["format"],
        "messages": [{"role": "user", "content": "Say hello."}],
        "checks": [{"type": "exact", "value": "zz-never-said-zz"}],
        "max_tokens": 4,
    },
]
VERSION = "smollm2-135m-instruct@v1"


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    data = tmp_path_factory.mktemp("eval-data")
    (data / "policy.yaml").write_text(POLICY)
    evalset = data / "tiny.jsonl"
    evalset.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    out, html = data / "r1.json", data / "r1.html"
    args = ["eval", "run", str(evalset), "--model", "smollm2-135m-instruct", "--out", str(out)]
    args += ["--html", str(html), "--data-dir", str(data), "--no-progress"]
    result = CliRunner().invoke(app, args, env={"BASTION_CONFIG": ""})
    return data, evalset, result, out, html


def test_run_in_process_writes_result_and_report(first):
    _, _, cli, out, html = first
    assert cli.exit_code == 0, cli.output
    assert "1/2 cases passed" in cli.output
    result = json.loads(out.read_text())
    assert result["model_versions"] == [VERSION] and result["passed"] is True
    by_id = {c["id"]: c for c in result["cases"]}
    assert by_id["bank-password"]["status"] == 200 and by_id["bank-password"]["answer"]
    assert by_id["bank-password"]["score"] == 1.0  # max_cost skipped: no cost reported
    assert by_id["bank-password"]["checks"][1]["passed"] is None
    assert by_id["impossible"]["score"] == 0.0
    assert result["scores"]["overall"] == 0.5 and result["scores"]["tag:format"] == 0.0
    page = html.read_text()
    assert "<svg" in page and "tag:" not in page.split("<svg")[1].split("</svg>")[0]
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert passed(out, VERSION) is True
    assert passed(out, "smollm2-135m-instruct@v2") is False


def test_regression_against_a_baseline_exits_1(first):
    data, evalset, _, out, _ = first
    baseline = json.loads(out.read_text())
    # the baseline of an earlier version, which answered the format case right
    baseline["scores"]["tag:format"] = 1.0
    baseline["scores"]["overall"] = 1.0
    base = data / "baseline.json"
    base.write_text(json.dumps(baseline))
    out2, html2 = data / "r2.json", data / "r2.html"
    args = ["eval", "run", str(evalset), "--model", VERSION, "--baseline", str(base)]
    args += ["--out", str(out2), "--html", str(html2), "--data-dir", str(data), "--no-progress"]
    cli = CliRunner().invoke(app, args, env={"BASTION_CONFIG": ""})
    assert cli.exit_code == 1, cli.output
    assert "REGRESSION tag:format" in cli.output
    result = json.loads(out2.read_text())
    assert result["passed"] is False
    assert {r["score"] for r in result["regressions"]} == {"overall", "tag:format"}
    assert passed(out2, VERSION) is False
    assert 'class="bad"' in html2.read_text()


def test_bad_inputs_exit_2(first):
    data, evalset, *_ = first
    bad = data / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    runner = CliRunner()
    args = ["eval", "run", str(bad), "--model", VERSION, "--data-dir", str(data)]
    assert runner.invoke(app, args, env={"BASTION_CONFIG": ""}).exit_code == 2
    args = ["eval", "run", str(evalset), "--model", VERSION, "--url", "http://127.0.0.1:9"]
    assert runner.invoke(app, args, env={"BASTION_API_KEY": ""}).exit_code == 2
    unreachable = runner.invoke(app, [*args, "--key", "k", "--no-progress"])
    assert unreachable.exit_code == 2 and "cannot reach" in unreachable.output
    not_result = data / "tiny.jsonl"
    args = ["eval", "run", str(evalset), "--model", VERSION, "--baseline", str(not_result)]
    assert runner.invoke(app, args, env={"BASTION_CONFIG": ""}).exit_code == 2
