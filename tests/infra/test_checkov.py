"""checkov over infra/terraform with Bastion's custom checks, and proof that each check bites.

Run: .venv/bin/pytest tests/infra/test_checkov.py
(needs .venv-infra: bash scripts/install-infra-tools.sh)
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra.conftest import CHECKS, FIXTURES, INFRA, run_checkov


def _custom_check_ids() -> set[str]:
    ids: set[str] = set()
    for path in CHECKS.glob("*.py"):
        ids.update(re.findall(r'id="(CKV2?_BASTION_\d+)"', path.read_text(encoding="utf-8")))
    for path in CHECKS.glob("*.yaml"):
        ids.update(
            re.findall(r"^\s+id:\s*(CKV2?_BASTION_\d+)", path.read_text(encoding="utf-8"), re.M)
        )
    return ids


CUSTOM_IDS = _custom_check_ids()
P, F = "passed", "failed"

# (check, fixture resource, expected outcome). Every bad_* fixture resource appears here.
EXPECTED: list[tuple[str, str, str]] = [
    # Helm releases pin an exact chart version.
    ("CKV_BASTION_1", "helm_release.good_exact", P),
    ("CKV_BASTION_1", "helm_release.good_v_prefix", P),
    ("CKV_BASTION_1", "helm_release.bad_no_version", F),
    ("CKV_BASTION_1", "helm_release.bad_tilde_range", F),
    ("CKV_BASTION_1", "helm_release.bad_caret_range", F),
    ("CKV_BASTION_1", "helm_release.bad_wildcard", F),
    ("CKV_BASTION_1", "helm_release.bad_latest", F),
    ("CKV_BASTION_1", "helm_release.bad_version_from_unset_variable", F),
    # Workloads require the site node affinity (site label + node-restriction label).
    ("CKV_BASTION_2", "kubernetes_manifest.good_rayservice", P),
    ("CKV_BASTION_2", "kubernetes_manifest.bad_rayservice_worker_without_affinity", F),
    ("CKV_BASTION_2", "kubernetes_manifest.bad_rayservice_head_site_label_only", F),
    ("CKV_BASTION_2", "kubernetes_manifest.bad_rayservice_for_expression_without_affinity", F),
    ("CKV_BASTION_2", "kubernetes_manifest.bad_rayservice_no_worker_groups", F),
    ("CKV_BASTION_2", "kubernetes_deployment_v1.good_deployment", P),
    ("CKV_BASTION_2", "kubernetes_deployment_v1.bad_deployment_no_affinity", F),
    ("CKV_BASTION_2", "kubernetes_deployment_v1.bad_deployment_preferred_only", F),
    ("CKV_BASTION_2", "kubernetes_deployment_v1.bad_deployment_not_in", F),
    # Nothing in the default namespace, explicitly or by omission.
    ("CKV_BASTION_3", "helm_release.good_exact", P),
    ("CKV_BASTION_3", "helm_release.bad_no_namespace", F),
    ("CKV_BASTION_3", "helm_release.bad_default_namespace", F),
    ("CKV_BASTION_3", "kubernetes_config_map_v1.good_namespaced", P),
    ("CKV_BASTION_3", "kubernetes_config_map_v1.bad_no_namespace", F),
    ("CKV_BASTION_3", "kubernetes_service_v1.bad_default_namespace", F),
    ("CKV_BASTION_3", "kubernetes_manifest.bad_manifest_default_namespace", F),
    ("CKV_BASTION_3", "kubernetes_manifest.bad_manifest_no_namespace", F),
    # Every namespace has NetworkPolicies attached.
    ("CKV2_BASTION_4", "kubernetes_namespace_v1.good_with_default_deny", P),
    ("CKV2_BASTION_4", "kubernetes_namespace_v1.bad_without_policy", F),
    ("CKV2_BASTION_4", "kubernetes_namespace_v1.bad_policy_not_attached", F),
    # No secret value in code or state.
    ("CKV_BASTION_5", "kubernetes_secret_v1.bad_literal_data", F),
    ("CKV_BASTION_5", "kubernetes_secret_v1.bad_data_from_variable", F),
    ("CKV_BASTION_5", "kubernetes_manifest.bad_manifest_secret", F),
    ("CKV_BASTION_5", "kubernetes_manifest.good_external_secret", P),
    ("CKV_BASTION_5", "kubernetes_deployment_v1.bad_env_literal_password", F),
    ("CKV_BASTION_5", "kubernetes_deployment_v1.good_env_from_secret", P),
    ("CKV_BASTION_5", "kubernetes_manifest.bad_rayservice_env_literal_token", F),
    ("CKV_BASTION_5", "kubernetes_manifest.bad_rayservice_env_literal_dsn", F),
    ("CKV_BASTION_5", "kubernetes_manifest.bad_rayservice_serve_config_dsn", F),
    ("CKV_BASTION_5", "kubernetes_manifest.good_rayservice_dsn_from_secret", P),
    ("CKV_BASTION_5", "helm_release.bad_sensitive_literal", F),
    ("CKV_BASTION_5", "helm_release.good_exact", P),
]


def _outcomes(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    results = report["results"]
    outcomes: dict[tuple[str, str], str] = {}
    for key, outcome in (("passed_checks", P), ("failed_checks", F)):
        for item in results.get(key, []):
            outcomes[(item["check_id"], item["resource"])] = outcome
    return outcomes


@pytest.fixture(scope="module")
def tree_report() -> dict[str, Any]:
    # All of checkov's built-in terraform checks plus ours.
    return run_checkov(INFRA)


@pytest.fixture(scope="module")
def fixture_report() -> dict[str, Any]:
    return run_checkov(FIXTURES / "checkov", "--check", ",".join(sorted(CUSTOM_IDS)))


def test_the_five_custom_checks_are_declared() -> None:
    assert {
        "CKV_BASTION_1",
        "CKV_BASTION_2",
        "CKV_BASTION_3",
        "CKV2_BASTION_4",
        "CKV_BASTION_5",
    } <= CUSTOM_IDS


def test_infra_tree_passes_every_check(tree_report: dict[str, Any]) -> None:
    summary = tree_report["summary"]
    failed = [
        f"{item['check_id']} {item['resource']} ({item['file_path']}): {item['check_name']}"
        for item in tree_report["results"].get("failed_checks", [])
    ]
    assert summary["parsing_errors"] == 0
    assert failed == []
    assert summary["resource_count"] > 0


def test_every_custom_check_ran_on_the_tree(tree_report: dict[str, Any]) -> None:
    # checkov silently skips a check that fails to load: prove each one evaluated something.
    ran = {item["check_id"] for item in tree_report["results"].get("passed_checks", [])}
    assert ran >= CUSTOM_IDS, f"custom checks that never ran: {sorted(CUSTOM_IDS - ran)}"


def test_site_affinity_check_saw_the_rayservice(tree_report: dict[str, Any]) -> None:
    outcomes = _outcomes(tree_report)
    address = "module.bastion_rayservice.kubernetes_manifest.rayservice"
    assert outcomes.get(("CKV_BASTION_2", address)) == P


@pytest.mark.parametrize(("check_id", "resource", "expected"), EXPECTED)
def test_fixture_outcome(
    fixture_report: dict[str, Any], check_id: str, resource: str, expected: str
) -> None:
    outcome = _outcomes(fixture_report).get((check_id, resource))
    assert outcome == expected, f"{check_id} on {resource}: {outcome}, expected {expected}"


def test_every_custom_check_has_a_failing_fixture() -> None:
    failing = {check for check, _, expected in EXPECTED if expected == F}
    assert failing == CUSTOM_IDS


def test_every_bad_fixture_is_expected_to_fail() -> None:
    declared = set()
    for path in (FIXTURES / "checkov").glob("*.tf"):
        for rtype, name in re.findall(r'^resource "(\w+)" "(bad_\w+)"', path.read_text(), re.M):
            declared.add(f"{rtype}.{name}")
    expected_bad = {resource for _, resource, expected in EXPECTED if expected == F}
    assert declared == expected_bad
