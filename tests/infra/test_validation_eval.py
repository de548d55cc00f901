"""Each variable validation accepts good values and refuses bad ones, checked by terraform itself.

`terraform console` loads a module's variables.tf with a tfvars file and runs every validation
block (no providers, no init). Table-driven: a valid baseline per module, then one bad value at a
time, each of which must be refused by the validation of exactly that variable. Skipped without
a binary: "no terraform/tofu binary on this machine".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import INFRA
from tests.infra.test_terraform import BINARY, SKIP_REASON

pytestmark = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)

SITE = {"replicas": 1, "gpus_per_worker": 1, "cpu": "8", "memory": "64Gi"}
SITES = {
    "de-fra-1": {**SITE, "weights": {"storage_class": "fra", "size": "200Gi"}},
    "de-muc-1": {**SITE, "weights": {"storage_class": "muc", "size": "200Gi"}},
}
QUOTA = {
    "requests_cpu": "4",
    "requests_memory": "8Gi",
    "limits_cpu": "4",
    "limits_memory": "8Gi",
    "gpus": 2,
    "pods": 10,
    "pvcs": 2,
    "storage": "1Ti",
}
STORE = {
    "name": "vault",
    "refresh_interval": "1h",
    "audit_signing_key_remote": "bastion/audit",
    "audit_signing_key_property": "signing-key",
    "database_url_remote": "bastion/db",
    "database_url_property": "url",
}
SERVE_CONFIG = "applications:\n- name: bastion\n  import_path: serving.app:build_app_from_args\n"

BASELINES: dict[str, dict[str, Any]] = {
    "modules/gpu-operator": {},
    "modules/kuberay-operator": {"watch_namespaces": ["bastion"]},
    "modules/bastion-namespace": {
        "operator_namespace": "kuberay-system",
        "audit_database": {"cidr": "192.0.2.10/32", "port": 5432},
        "quota": QUOTA,
        "secret_store": STORE,
    },
    "modules/bastion-rayservice": {
        "namespace": "bastion",
        "service_account_name": "bastion",
        "serve_config_yaml": SERVE_CONFIG,
        "image": "registry.bastion.internal/bastion/bastion:0.1.0",
        "ray_version": "2.49.1",
        "head_site": "de-fra-1",
        "sites": SITES,
        "audit_signing_key_secret": {"name": "bastion-audit-signing-key", "key": "signing-key"},
        "database_url_secret": {"name": "bastion-audit-database", "key": "url"},
        "policy_documents": {"policy.yaml": "sites: []\n"},
    },
    "envs/example-site": {
        "image": "registry.bastion.internal/bastion/bastion:0.1.0",
        "ray_version": "2.49.1",
        "head_site": "de-fra-1",
        "sites": SITES,
        "audit_database": {"cidr": "192.0.2.10/32", "port": 5432},
        "secret_store": STORE,
        "quota": QUOTA,
    },
}

# (module, variable, value): each must be refused by that variable's validation.
REFUSED: list[tuple[str, str, Any]] = [
    ("modules/gpu-operator", "chart_version", "~> 25.3"),
    ("modules/gpu-operator", "chart_version", "latest"),
    ("modules/gpu-operator", "namespace", "default"),
    ("modules/gpu-operator", "chart_repository", "http://charts.example.invalid"),
    ("modules/gpu-operator", "image_registry", "https://nvcr.io/nvidia"),
    ("modules/gpu-operator", "gpu_node_selector", {}),
    ("modules/kuberay-operator", "watch_namespaces", []),
    ("modules/kuberay-operator", "watch_namespaces", ["default"]),
    ("modules/kuberay-operator", "chart_version", "1.4"),
    ("modules/kuberay-operator", "image_repository", "kuberay operator"),
    ("modules/bastion-namespace", "name", "default"),
    ("modules/bastion-namespace", "client_cidrs", ["0.0.0.0/0"]),
    ("modules/bastion-namespace", "client_cidrs", ["not-a-cidr"]),
    ("modules/bastion-namespace", "audit_database", {"cidr": "10.0.0.0/8", "port": 5432}),
    ("modules/bastion-namespace", "audit_database", {"cidr": "192.0.2.10", "port": 5432}),
    ("modules/bastion-namespace", "audit_database", {"cidr": "192.0.2.10/32", "port": 0}),
    ("modules/bastion-namespace", "secret_source", "vault"),
    ("modules/bastion-namespace", "secret_store", {**STORE, "name": ""}),
    ("modules/bastion-namespace", "pod_security_version", "latest"),
    ("modules/bastion-namespace", "audit_signing_key_secret_name", "Signing_Key"),
    ("modules/bastion-namespace", "database_url_secret_name", "db url"),
    ("modules/bastion-namespace", "client_namespaces", ["Not A Namespace"]),
    ("modules/bastion-namespace", "dns", {"namespace": "kube-system", "pod_labels": {}}),
    ("modules/bastion-namespace", "operator_namespace", "KubeRay"),
    ("modules/bastion-namespace", "quota", {**QUOTA, "gpus": -1}),
    ("modules/bastion-namespace", "serve_port", 70000),
    ("modules/bastion-rayservice", "audit_signing_key_secret", {"name": "Key!", "key": "k"}),
    ("modules/bastion-rayservice", "database_url_secret", {"name": "db", "key": "a key"}),
    ("modules/bastion-rayservice", "head_site", "DE-FRA-1"),
    ("modules/bastion-rayservice", "name", "Bastion"),
    ("modules/bastion-rayservice", "serve_port", 0),
    ("modules/bastion-rayservice", "service_account_name", "bastion_sa"),
    ("modules/bastion-rayservice", "site_label_key", "bastion site"),
    ("modules/kuberay-operator", "chart_repository", "git://example.invalid/charts"),
    ("modules/kuberay-operator", "namespace", "default"),
    ("modules/bastion-rayservice", "image", "registry.bastion.internal/bastion/bastion:latest"),
    ("modules/bastion-rayservice", "image", "registry.bastion.internal/bastion/bastion"),
    ("modules/bastion-rayservice", "ray_version", "2.49"),
    ("modules/bastion-rayservice", "serve_config_yaml", "proxy_location: EveryNode\n"),
    ("modules/bastion-rayservice", "restricted_site_label_key", "bastion.io/site-admin"),
    ("modules/bastion-rayservice", "namespace", "default"),
    ("modules/bastion-rayservice", "sites", {}),
    ("modules/bastion-rayservice", "sites", {"DE_FRA_1": SITES["de-fra-1"]}),
    (
        "modules/bastion-rayservice",
        "sites",
        {"de-fra-1": {**SITES["de-fra-1"], "gpus_per_worker": 1.5}},
    ),
    ("modules/bastion-rayservice", "sites", {"de-fra-1": {**SITES["de-fra-1"], "replicas": 0}}),
    (
        "modules/bastion-rayservice",
        "sites",
        {"de-fra-1": {**SITES["de-fra-1"], "weights": {"storage_class": "x", "size": "200GB"}}},
    ),
    (
        "modules/bastion-rayservice",
        "sites",
        {
            "de-fra-1": {
                **SITES["de-fra-1"],
                "weights": {"storage_class": "x", "size": "1Gi", "access_mode": "RWX"},
            }
        },
    ),
    (
        "modules/bastion-rayservice",
        "gpu_tolerations",
        [{"key": "k", "operator": "In", "effect": "NoSchedule"}],
    ),
    ("modules/bastion-rayservice", "weights_mount_path", "models"),
    ("modules/bastion-rayservice", "policy_documents", {}),
    ("modules/bastion-rayservice", "policy_documents", {"policy.json": "{}"}),
    ("modules/bastion-rayservice", "policy_documents", {"../policy.yaml": "sites: []"}),
    ("modules/bastion-rayservice", "policy_mount_path", "etc/bastion/policy"),
    ("modules/bastion-rayservice", "policy_mount_path", "/etc/bastion/policy/"),
    ("modules/bastion-rayservice", "head", {"cpu": "four", "memory": "16Gi"}),
    (
        "modules/bastion-rayservice",
        "env_names",
        {"database_url": "db-url", "signing_key_file": "K"},
    ),
    ("envs/example-site", "audit_database", {"cidr": "0.0.0.0/0", "port": 5432}),
    ("envs/example-site", "client_namespaces", ["Ingress_NGINX"]),
    ("envs/example-site", "image", "registry.bastion.internal/bastion/bastion:latest"),
    ("envs/example-site", "quota", {**QUOTA, "pods": 0}),
    ("envs/example-site", "ray_version", "latest"),
    ("envs/example-site", "head_site", "DE_FRA_1"),
    ("envs/example-site", "namespace", "kube-system"),
    ("envs/example-site", "kuberay_chart_version", "^1.4.2"),
    ("envs/example-site", "gpu_operator_chart_version", "25.x"),
    ("envs/example-site", "helm_repositories", {"kuberay": "ftp://x", "gpu_operator": "oci://y"}),
    ("envs/example-site", "client_cidrs", ["::/0"]),
    ("envs/example-site", "sites", {"de-fra-1": {**SITES["de-fra-1"], "gpus_per_worker": 17}}),
    ("envs/example-site", "secret_store", {**STORE, "database_url_remote": ""}),
]

INVALID = re.compile(r"Error: Invalid value for variable\n.*?│ var\.(\w+)\b", re.S)


def _console(root: str, variables: dict[str, Any], tmp_path: Path) -> set[str]:
    """Variables whose validation refused the given values."""
    shutil.copy(INFRA / root / "variables.tf", tmp_path / "variables.tf")
    (tmp_path / "terraform.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    proc = subprocess.run(
        [str(BINARY), "console", "-no-color"],
        input="1\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    refused = INVALID.findall(output)
    # Any other error (a broken expression, a wrong type) fails the test instead of passing it.
    assert output.count("Error:") == len(refused), output
    return set(refused)


@pytest.mark.parametrize("root", sorted(BASELINES))
def test_baseline_is_accepted(root: str, tmp_path: Path) -> None:
    assert _console(root, BASELINES[root], tmp_path) == set()


@pytest.mark.parametrize(("root", "name", "value"), REFUSED)
def test_bad_value_is_refused(root: str, name: str, value: Any, tmp_path: Path) -> None:
    assert _console(root, {**BASELINES[root], name: value}, tmp_path) == {name}


def test_the_table_covers_every_validated_variable() -> None:
    validated = set()
    for root in BASELINES:
        text = (INFRA / root / "variables.tf").read_text(encoding="utf-8")
        for name, body in re.findall(r'^variable "(\w+)" \{\n(.*?)^\}', text, re.M | re.S):
            if "validation {" in body:
                validated.add((root, name))
    refused = {(root, name) for root, name, _ in REFUSED}
    assert validated - refused == set()
