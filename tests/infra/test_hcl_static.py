"""Static tests of infra/terraform with python-hcl2 (no terraform binary needed).

Run: .venv/bin/pytest tests/infra/test_hcl_static.py
(needs .venv-infra-hcl2: bash scripts/install-infra-tools.sh)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import (
    INFRA,
    directory_blocks,
    locals_of,
    resources,
)

MODULES = ["gpu-operator", "kuberay-operator", "bastion-namespace", "bastion-rayservice"]
ROOTS = [f"modules/{m}" for m in MODULES] + ["envs/example-site"]
EXAMPLE = "envs/example-site"

# Variables that take free-form values, with the reason no validation block applies.
FREE_FORM = {
    f"{EXAMPLE}:kubeconfig_path": "a file path on the operator's machine",
    f"{EXAMPLE}:kube_context": "any context name in that kubeconfig",
}
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


def _unwrap(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _terraform_block(hcl: dict[str, Any], root: str) -> dict[str, Any]:
    found = [
        _unwrap(parsed["terraform"])
        for path, parsed in hcl.items()
        if str(Path(path).parent) == root and "terraform" in parsed
    ]
    assert len(found) == 1, f"{root}: expected exactly one terraform block, found {len(found)}"
    return found[0]


def _providers(hcl: dict[str, Any], root: str) -> dict[str, dict[str, str]]:
    return _unwrap(_terraform_block(hcl, root).get("required_providers", {}))


def test_all_roots_and_modules_exist(hcl: dict[str, Any]) -> None:
    dirs = {str(Path(p).parent) for p in hcl if p.endswith(".tf")}
    assert set(ROOTS) <= dirs


@pytest.mark.parametrize("root", ROOTS)
def test_required_version_is_bounded(hcl: dict[str, Any], root: str) -> None:
    constraint = _terraform_block(hcl, root)["required_version"]
    parts = [c.strip() for c in constraint.split(",")]
    assert any(p.startswith(">=") and EXACT_VERSION.match(p[2:].strip()) for p in parts), constraint
    assert any(p.startswith("<") and not p.startswith("<=") for p in parts), constraint
    # terraform test with mock providers needs >= 1.7 (tofu 1.8); we declare >= 1.9.
    lower = next(p[2:].strip() for p in parts if p.startswith(">="))
    assert tuple(int(x) for x in lower.split(".")) >= (1, 9, 0)


def test_required_version_is_the_same_everywhere(hcl: dict[str, Any]) -> None:
    versions = {root: _terraform_block(hcl, root)["required_version"] for root in ROOTS}
    assert len(set(versions.values())) == 1, versions


@pytest.mark.parametrize("root", ROOTS)
def test_providers_are_pinned_exactly(hcl: dict[str, Any], root: str) -> None:
    providers = _providers(hcl, root)
    assert providers, f"{root} declares no required_providers"
    for name, spec in providers.items():
        assert spec["source"] == f"hashicorp/{name}", (root, name, spec)
        assert EXACT_VERSION.match(spec["version"]), f"{root}: {name} not pinned: {spec['version']}"


def test_provider_versions_agree(hcl: dict[str, Any]) -> None:
    seen: dict[str, set[str]] = {}
    for root in ROOTS:
        for name, spec in _providers(hcl, root).items():
            seen.setdefault(name, set()).add(spec["version"])
    assert seen.keys() == {"kubernetes", "helm"}
    assert all(len(v) == 1 for v in seen.values()), seen


@pytest.mark.parametrize("root", ROOTS)
def test_modules_declare_the_providers_they_use(hcl: dict[str, Any], root: str) -> None:
    used = {name.split("_", 1)[0] for name in resources(hcl, root)}
    assert used <= set(_providers(hcl, root)), (root, used)


def _all_variables() -> list[tuple[str, str]]:
    return [(root, name) for root in ROOTS for name in _variable_names(root)]


def _variable_names(root: str) -> list[str]:
    names = []
    for path in (INFRA / root).glob("*.tf"):
        names += re.findall(r'^variable "(\w+)"', path.read_text(encoding="utf-8"), re.M)
    return sorted(names)


@pytest.mark.parametrize(("root", "name"), _all_variables())
def test_variable_is_described_typed_and_validated(
    hcl: dict[str, Any], root: str, name: str
) -> None:
    var = directory_blocks(hcl, root, "variable")[name]
    assert len(var.get("description", "").strip()) >= 15, f"{root}: {name} needs a description"
    assert "type" in var, f"{root}: {name} needs a type"
    if var["type"] == "bool" or f"{root}:{name}" in FREE_FORM:
        return
    validations = var.get("validation", [])
    assert validations, f"{root}: variable {name} takes constrained values but has no validation"
    for rule in validations:
        assert rule.get("condition") and rule.get("error_message"), (root, name, rule)


def test_free_form_list_names_real_variables() -> None:
    for key in FREE_FORM:
        root, name = key.split(":")
        assert name in _variable_names(root), key


@pytest.mark.parametrize("root", ROOTS)
def test_outputs_are_described(hcl: dict[str, Any], root: str) -> None:
    for name, out in directory_blocks(hcl, root, "output").items():
        assert out.get("description"), f"{root}: output {name} needs a description"


def test_example_outputs_endpoint_and_namespace(hcl: dict[str, Any]) -> None:
    outputs = directory_blocks(hcl, EXAMPLE, "output")
    assert outputs["endpoint"]["value"] == "${module.bastion_rayservice.endpoint}"
    assert outputs["namespace"]["value"] == "${module.bastion_namespace.name}"


# --- The example composes the modules as designed. ---


def _example_modules(hcl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return directory_blocks(hcl, EXAMPLE, "module")


def test_example_uses_each_module_once(hcl: dict[str, Any]) -> None:
    sources = {name: m["source"] for name, m in _example_modules(hcl).items()}
    assert sources == {
        "gpu_operator": "../../modules/gpu-operator",
        "kuberay_operator": "../../modules/kuberay-operator",
        "bastion_namespace": "../../modules/bastion-namespace",
        "bastion_rayservice": "../../modules/bastion-rayservice",
    }


def test_example_wiring(hcl: dict[str, Any]) -> None:
    mods = _example_modules(hcl)
    ray = mods["bastion_rayservice"]
    assert ray["namespace"] == "${module.bastion_namespace.name}"
    assert ray["service_account_name"] == "${module.bastion_namespace.service_account_name}"
    assert ray["audit_signing_key_secret"] == "${module.bastion_namespace.audit_signing_key_secret}"
    assert ray["database_url_secret"] == "${module.bastion_namespace.database_url_secret}"
    assert ray["serve_config_yaml"] == '${file("${path.module}/serve-config.yaml")}'
    assert ray["sites"] == "${var.sites}"
    assert set(ray["depends_on"]) == {"${module.kuberay_operator}", "${module.gpu_operator}"}
    kuberay = mods["kuberay_operator"]
    assert kuberay["watch_namespaces"] == ["${module.bastion_namespace.name}"]
    # The namespace lets exactly the operator's namespace reach the Ray head.
    assert mods["bastion_namespace"]["operator_namespace"] == kuberay["namespace"]
    assert mods["gpu_operator"]["driver_enabled"] == "${var.install_gpu_driver}"


@pytest.mark.parametrize("module", MODULES)
def test_example_passes_only_known_and_all_required_inputs(
    hcl: dict[str, Any], module: str
) -> None:
    name = module.replace("-", "_")
    call = _example_modules(hcl)[name]
    variables = directory_blocks(hcl, f"modules/{module}", "variable")
    meta = {"source", "depends_on", "providers", "count", "for_each", "version"}
    passed = set(call) - meta
    assert passed <= set(variables), f"unknown inputs to {module}: {passed - set(variables)}"
    required = {v for v, body in variables.items() if "default" not in body}
    assert required <= passed, f"required inputs of {module} not passed: {required - passed}"


def test_example_tfvars_define_two_sites(hcl: dict[str, Any]) -> None:
    tfvars = hcl[f"{EXAMPLE}/terraform.tfvars"]
    variables = directory_blocks(hcl, EXAMPLE, "variable")
    assert set(tfvars) <= set(variables), set(tfvars) - set(variables)
    required = {v for v, body in variables.items() if "default" not in body}
    assert required <= set(tfvars), required - set(tfvars)
    sites = tfvars["sites"]
    assert set(sites) == {"de-fra-1", "de-muc-1"}
    assert all(DNS_LABEL.match(site) for site in sites)
    assert tfvars["head_site"] in sites
    for site, spec in sites.items():
        assert spec["gpus_per_worker"] >= 1, site
        assert spec["weights"]["storage_class"], site
    storage_classes = [spec["weights"]["storage_class"] for spec in sites.values()]
    assert len(set(storage_classes)) == len(storage_classes), "each site uses its own StorageClass"


# --- The namespace module locks the namespace down. ---

NS = "modules/bastion-namespace"


def test_namespace_enforces_pod_security_restricted(hcl: dict[str, Any]) -> None:
    ns = resources(hcl, NS)["kubernetes_namespace_v1.this"]
    labels = _unwrap(ns["metadata"])["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "${var.pod_security_version}"


def _policies(hcl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: _unwrap(v["spec"])
        for k, v in resources(hcl, NS).items()
        if k.startswith("kubernetes_network_policy_v1.")
    }


def test_namespace_has_default_deny_for_both_directions(hcl: dict[str, Any]) -> None:
    deny = [
        spec
        for spec in _policies(hcl).values()
        if not _unwrap(spec.get("pod_selector"))
        and sorted(spec["policy_types"]) == ["Egress", "Ingress"]
        and "ingress" not in spec
        and "egress" not in spec
    ]
    assert len(deny) == 1


def test_every_allow_rule_names_its_peers(hcl: dict[str, Any]) -> None:
    # An ingress rule without `from` or an egress rule without `to` allows everyone.
    for name, spec in _policies(hcl).items():
        for rule in spec.get("ingress", []):
            assert rule.get("from") or rule.get("dynamic"), f"{name}: ingress rule without from"
        for rule in spec.get("egress", []):
            assert rule.get("to"), f"{name}: egress rule without to"


def test_egress_goes_only_to_dns_the_audit_database_and_ray_pods(hcl: dict[str, Any]) -> None:
    ip_blocks = []
    for spec in _policies(hcl).values():
        for rule in spec.get("egress", []):
            for peer in rule["to"]:
                if "ip_block" in peer:
                    ip_blocks.append(_unwrap(peer["ip_block"])["cidr"])
                else:
                    assert "pod_selector" in peer or "namespace_selector" in peer, peer
    assert ip_blocks == ["${var.audit_database.cidr}"]


def test_client_policy_is_not_created_without_clients(hcl: dict[str, Any]) -> None:
    clients = resources(hcl, NS)["kubernetes_network_policy_v1.clients"]
    assert clients["count"].startswith(
        "${length(var.client_namespaces) + length(var.client_cidrs) > 0"
    )


def test_no_module_writes_secret_values(hcl: dict[str, Any]) -> None:
    for root in ROOTS:
        for address in resources(hcl, root):
            assert not address.startswith(("kubernetes_secret.", "kubernetes_secret_v1.")), address


def test_service_account_mounts_no_token(hcl: dict[str, Any]) -> None:
    sa = resources(hcl, NS)["kubernetes_service_account_v1.bastion"]
    assert sa["automount_service_account_token"] is False


def test_quota_forbids_node_ports_and_load_balancers(hcl: dict[str, Any]) -> None:
    hard = _unwrap(resources(hcl, NS)["kubernetes_resource_quota_v1.bastion"]["spec"])["hard"]
    assert hard["services.nodeports"] == "0"
    assert hard["services.loadbalancers"] == "0"
    assert "requests.nvidia.com/gpu" in hard


# --- The RayService module pins each site's workers to that site. ---

RS = "modules/bastion-rayservice"


def test_worker_groups_advertise_and_require_their_own_site(hcl: dict[str, Any]) -> None:
    expr = locals_of(hcl, RS)["worker_groups"]
    match = re.match(r"^\$\{\[for (\w+), (\w+) in var\.sites :", expr)
    assert match, expr[:200]
    site = match.group(1)
    # One group per site, named after it, advertising exactly site:<its id> ...
    assert f'groupName = "site-${{{site}}}"' in expr
    assert f'jsonencode(jsonencode({{"site:${{{site}}}" = local.site_resource_amount}}))' in expr
    # ... scheduled only on that site's nodes, tolerating GPU taints, mounting that site's weights.
    assert f"affinity = local.site_affinity[{site}]" in expr
    assert "tolerations = var.gpu_tolerations" in expr
    assert f"kubernetes_persistent_volume_claim_v1.weights[{site}].metadata[0].name" in expr
    assert "(site.gpu_resource) = tostring(site.gpus_per_worker)" in expr


def test_site_affinity_is_required_on_both_labels(hcl: dict[str, Any]) -> None:
    expr = locals_of(hcl, RS)["site_affinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in expr
    assert "preferred" not in expr
    for key in ("var.site_label_key", "var.restricted_site_label_key"):
        assert f'{{key = {key}, operator = "In", values = [site_id]}}' in expr


def test_head_is_pinned_to_head_site(hcl: dict[str, Any]) -> None:
    head = locals_of(hcl, RS)["head_group"]
    assert _unwrap(head["template"])["spec"]["affinity"] == "${local.site_affinity[var.head_site]}"


def test_restricted_label_defaults_to_node_restriction_prefix(hcl: dict[str, Any]) -> None:
    var = directory_blocks(hcl, RS, "variable")["restricted_site_label_key"]
    assert var["default"].startswith("node-restriction.kubernetes.io/")


def test_rayservice_takes_the_serve_config_verbatim_and_checks_sites(hcl: dict[str, Any]) -> None:
    ray = resources(hcl, RS)["kubernetes_manifest.rayservice"]
    spec = _unwrap(ray["manifest"])["spec"]
    assert spec["serveConfigV2"] == "${var.serve_config_yaml}"
    conditions = [p["condition"] for p in _unwrap(ray["lifecycle"])["precondition"]]
    assert "${length(local.missing_sites) == 0}" in conditions
    assert "${length(local.oversized) == 0}" in conditions


def test_weights_claim_per_site_from_its_storage_class(hcl: dict[str, Any]) -> None:
    pvc = resources(hcl, RS)["kubernetes_persistent_volume_claim_v1.weights"]
    assert pvc["for_each"] == "${var.sites}"
    assert _unwrap(pvc["spec"])["storage_class_name"] == "${each.value.weights.storage_class}"


@pytest.mark.parametrize("root", [f"modules/{m}" for m in MODULES] + [EXAMPLE])
def test_each_root_has_a_terraform_test_file(hcl: dict[str, Any], root: str) -> None:
    tests = [p for p in hcl if p.startswith(f"{root}/tests/") and p.endswith(".tftest.hcl")]
    assert tests, f"{root} has no tests/*.tftest.hcl"
    for path in tests:
        parsed = hcl[path]
        assert parsed.get("mock_provider"), f"{path} must mock its providers"
        assert parsed.get("run"), f"{path} has no run blocks"


def test_every_pod_has_bastions_request_id_callback(hcl: dict[str, Any]) -> None:
    """Serve's HTTP proxies run on every node of a RayService; without the callback they adopt
    and echo a client's x-request-id beside Bastion's own (serving/http/request_id.py)."""
    from serving.ray_env import SERVE_TUNING_ENV

    name = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
    env = locals_of(hcl, "modules/bastion-rayservice")["common_env"]
    values = [item.get("value") for item in env if isinstance(item, dict) and item["name"] == name]
    assert values == [SERVE_TUNING_ENV[name]]
