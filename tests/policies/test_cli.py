"""`bastion policy check|explain|test` through Typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from policies.cli import app
from tests.policies.policy_docs import ALL, write_policy, write_split

runner = CliRunner()


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path)


def test_check_accepts_valid_documents(tmp_path: Path) -> None:
    files = write_split(tmp_path)
    result = runner.invoke(app, ["check", *map(str, files)])
    assert result.exit_code == 0, result.output
    assert "4 sites, 3 tenants, 5 model versions, 8 deny rules" in result.output
    assert "version 2026-11-a+sha256:" in result.output


def test_check_reports_file_line_and_field(tmp_path: Path) -> None:
    good = write_policy(tmp_path, ALL, "good.yaml")
    bad = write_policy(
        tmp_path,
        "tenants:\n  - id: clinic\n    sites: [de-fra-1]\n    models: [chat]\n    budget: 10\n",
        "bad.yaml",
    )
    result = runner.invoke(app, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:5: tenants[0].budget: Extra inputs are not permitted" in result.output
    assert "1 problem(s); documents rejected" in result.output


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--tenant", "hospital", "--model", "gpt-4o", "--classes", "PHI"],
            [
                "outcome: reroute",
                "rule: reroute/approved-alias",
                "model_version: llama-3.1-8b@q4-2024-07",
                "site: de-fra-1",
            ],
        ),
        (
            [
                "--tenant",
                "bank-fra",
                "--model",
                "mistral-7b",
                "--classes",
                "PCI,PII",
                "--purpose",
                "support",
            ],
            [
                "outcome: deny",
                "rule: deny/pci-not-on-ber",
                "reason: PCI data is never processed in Berlin",
                "model_version: -",
            ],
        ),
        (
            ["--tenant", "research", "--model", "llama-3.1-70b"],
            ["outcome: allow", "rule: allow/approved", "site: us-east-1"],
        ),
        (
            ["--tenant", "research", "--model", "llama-3.1-70b", "--role", "auditor"],
            ["outcome: deny", "rule: deny/auditors-do-not-infer"],
        ),
    ],
    ids=["reroute", "deny", "allow", "role"],
)
def test_explain(policy: Path, args: list[str], expected: list[str]) -> None:
    result = runner.invoke(app, ["explain", *args, "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    for line in expected:
        assert line in result.output.splitlines()
    assert "policy_version: 2026-11-a+sha256:" in result.output


def test_explain_reads_policy_from_the_environment(policy: Path) -> None:
    result = runner.invoke(
        app,
        ["explain", "--tenant", "research", "--model", "mistral-7b"],
        env={"BASTION_POLICY_FILES": str(policy)},
    )
    assert result.exit_code == 0, result.output
    assert "rule: tenant/model-not-allowed" in result.output


def test_explain_without_policy_is_a_usage_error() -> None:
    result = runner.invoke(
        app, ["explain", "--tenant", "t", "--model", "m"], env={"BASTION_POLICY_FILES": ""}
    )
    assert result.exit_code == 2
    assert "no policy documents" in result.output


def test_explain_with_an_invalid_policy_exits_1(tmp_path: Path) -> None:
    bad = write_policy(tmp_path, ALL.replace("region: NA}", "regoin: NA}"))
    result = runner.invoke(app, ["explain", "--tenant", "t", "--model", "m", "--policy", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:6: sites[2].regoin:" in result.output


CASES = """\
policy: [policy.yaml]
cases:
  - name: hospital PHI to the external model is rerouted
    tenant: hospital
    model: gpt-4o
    classes: [PHI]
    expect: {outcome: reroute, rule: reroute/approved-alias, site: de-fra-1}
  - name: bank PCI never in Berlin
    tenant: bank-fra
    model: mistral-7b
    classes: [PCI]
    purpose: support
    expect: {outcome: deny, rule: deny/pci-not-on-ber}
  - name: auditors do not infer
    tenant: research
    model: llama-3.1-70b
    role: auditor
    expect: {outcome: deny}
"""


def test_cases_pass(policy: Path) -> None:
    cases = policy.parent / "cases.yaml"
    cases.write_text(CASES)
    result = runner.invoke(app, ["test", str(cases)])
    assert result.exit_code == 0, result.output
    assert "3 passed, 0 failed" in result.output


def test_a_failing_case_exits_1_and_says_why(policy: Path) -> None:
    cases = policy.parent / "cases.yaml"
    cases.write_text(CASES.replace("rule: deny/pci-not-on-ber", "rule: deny/pci-not-in-na"))
    result = runner.invoke(app, ["test", str(cases), "--policy", str(policy)])
    assert result.exit_code == 1
    assert "FAIL bank PCI never in Berlin" in result.output
    assert "rule: expected deny/pci-not-in-na, got deny/pci-not-on-ber" in result.output
    assert "2 passed, 1 failed" in result.output


def test_a_malformed_cases_file_names_the_line(policy: Path) -> None:
    cases = policy.parent / "cases.yaml"
    cases.write_text(
        CASES.replace("    expect: {outcome: deny}\n", "    expect: {outcome: maybe}\n")
    )
    result = runner.invoke(app, ["test", str(cases)])
    assert result.exit_code == 1
    assert f"{cases}:18: cases[2].expect.outcome: Input should be" in result.output
