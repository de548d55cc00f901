"""Evaluate the RayService module's locals with a real terraform/tofu, no providers needed.

`terraform console` evaluates the module's locals (worker groups, head group, the sites the
Serve config requires) for the example's sites and its generated serve-config.yaml. The module's
resource blocks are left out (they need provider schemas, i.e. `init` and a registry or mirror);
everything that decides placement is in locals. Skipped without a binary:
"no terraform/tofu binary on this machine".
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

from tests.infra.conftest import EXAMPLE, INFRA
from tests.infra.test_terraform import BINARY, SKIP_REASON

pytestmark = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)

MODULE = INFRA / "modules" / "bastion-rayservice"
PVC_REF = "kubernetes_persistent_volume_claim_v1.weights[site_id].metadata[0].name"
QUERY = (
    "jsonencode({groups = local.worker_groups, head = local.head_group, "
    "required = local.required_sites, missing = local.missing_sites, oversized = local.oversized, "
    "policy_files = local.policy_files, policy_outside = local.policy_files_outside_mount, "
    "state_store = local.state_store, dsn_in_config = local.dsn_in_config})"
)


def _without_resources(text: str) -> str:
    """Drop top-level resource blocks (terraform fmt layout: `resource "..." "..." {` ... `}`)."""
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith("resource "):
            skipping = True
        if not skipping:
            out.append(line)
        if skipping and line == "}":
            skipping = False
    return "\n".join(out) + "\n"


def _evaluate(tmp_path: Path, serve_config: str, hcl: dict[str, Any]) -> dict[str, Any]:
    main = (MODULE / "main.tf").read_text(encoding="utf-8")
    assert PVC_REF in main
    main = _without_resources(main).replace(PVC_REF, '"${var.name}-weights-${site_id}"')
    (tmp_path / "main.tf").write_text(main, encoding="utf-8")
    shutil.copy(MODULE / "variables.tf", tmp_path / "variables.tf")
    tfvars = hcl["envs/example-site/terraform.tfvars"]
    variables = {
        "namespace": "bastion",
        "service_account_name": "bastion",
        "image": tfvars["image"],
        "ray_version": tfvars["ray_version"],
        "head_site": tfvars["head_site"],
        "sites": tfvars["sites"],
        "serve_config_yaml": serve_config,
        "audit_signing_key_secret": {"name": "bastion-audit-signing-key", "key": "signing-key"},
        "database_url_secret": {"name": "bastion-audit-database", "key": "url"},
        "policy_documents": {"policy.yaml": "sites: []\n"},
    }
    (tmp_path / "terraform.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    proc = subprocess.run(
        [str(BINARY), "console"],
        input=QUERY + "\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    literal = proc.stdout.strip().splitlines()[-1]
    # The console prints an HCL string literal: JSON escapes plus $${ / %%{ for template markers.
    return json.loads(json.loads(literal.replace("$${", "${").replace("%%{", "%{")))


def _site_of(group: dict[str, Any]) -> str:
    return group["groupName"].removeprefix("site-")


@pytest.fixture(scope="module")
def evaluated(hcl: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    serve_config = (EXAMPLE / "serve-config.yaml").read_text(encoding="utf-8")
    return _evaluate(tmp_path_factory.mktemp("rayservice"), serve_config, hcl)


def test_each_site_gets_one_worker_group(evaluated: dict[str, Any], hcl: dict[str, Any]) -> None:
    sites = sorted(hcl["envs/example-site/terraform.tfvars"]["sites"])
    assert [_site_of(g) for g in evaluated["groups"]] == sites


def test_worker_groups_advertise_the_site_resource_their_models_require(
    evaluated: dict[str, Any],
) -> None:
    advertised = set()
    for group in evaluated["groups"]:
        # KubeRay passes rayStartParams.resources to `ray start --resources` as a quoted JSON.
        resources = json.loads(json.loads(group["rayStartParams"]["resources"]))
        assert resources == {f"site:{_site_of(group)}": 1000}
        advertised |= set(resources)
    required = {f"site:{site}" for site in evaluated["required"]}
    assert required == {"site:de-fra-1", "site:de-muc-1"}
    assert required <= advertised
    assert evaluated["missing"] == []
    assert evaluated["oversized"] == []


def test_every_pod_requires_its_sites_labels(
    evaluated: dict[str, Any], hcl: dict[str, Any]
) -> None:
    head_site = hcl["envs/example-site/terraform.tfvars"]["head_site"]
    pods = [(head_site, evaluated["head"]["template"]["spec"])]
    pods += [(_site_of(g), g["template"]["spec"]) for g in evaluated["groups"]]
    for site, spec in pods:
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        (term,) = terms["nodeSelectorTerms"]
        assert {
            (e["key"], e["operator"], tuple(e["values"])) for e in term["matchExpressions"]
        } == {
            ("bastion.io/site", "In", (site,)),
            ("node-restriction.kubernetes.io/bastion-site", "In", (site,)),
        }


def test_workers_request_gpus_tolerate_taints_and_mount_their_weights(
    evaluated: dict[str, Any], hcl: dict[str, Any]
) -> None:
    sites = hcl["envs/example-site/terraform.tfvars"]["sites"]
    for group in evaluated["groups"]:
        site = _site_of(group)
        spec = group["template"]["spec"]
        (container,) = spec["containers"]
        gpus = str(sites[site]["gpus_per_worker"])
        assert container["resources"]["limits"]["nvidia.com/gpu"] == gpus
        assert container["resources"]["requests"]["nvidia.com/gpu"] == gpus
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}.items() <= (
            spec["tolerations"][0].items()
        )
        claims = [
            v["persistentVolumeClaim"] for v in spec["volumes"] if "persistentVolumeClaim" in v
        ]
        assert claims == [{"claimName": f"bastion-weights-{site}", "readOnly": True}]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        env = {e["name"]: e for e in container["env"]}
        assert "value" not in env["BASTION_AUDIT__DSN"]
        assert env["BASTION_AUDIT__DSN"]["valueFrom"]["secretKeyRef"]["name"]


def test_a_site_without_worker_group_is_reported(hcl: dict[str, Any], tmp_path: Path) -> None:
    serve_config = (EXAMPLE / "serve-config.yaml").read_text(encoding="utf-8")
    moved = re.sub(r"site:de-muc-1", "site:fr-par-1", serve_config)
    assert moved != serve_config
    result = _evaluate(tmp_path, moved, hcl)
    assert result["missing"] == ["fr-par-1"]


def test_a_model_needing_more_gpus_than_its_site_is_reported(
    hcl: dict[str, Any], tmp_path: Path
) -> None:
    serve_config = (EXAMPLE / "serve-config.yaml").read_text(encoding="utf-8")
    bigger = serve_config.replace(
        "num_gpus: 1.0\n      resources:", "num_gpus: 4.0\n      resources:"
    )
    assert bigger.count("num_gpus: 4.0") == 2
    result = _evaluate(tmp_path, bigger, hcl)
    assert len(result["oversized"]) == 2


def _pods(evaluated: dict[str, Any]) -> list[dict[str, Any]]:
    return [evaluated["head"]["template"]["spec"]] + [
        g["template"]["spec"] for g in evaluated["groups"]
    ]


def test_every_pod_mounts_the_policy_read_only_and_a_data_folder(
    evaluated: dict[str, Any],
) -> None:
    for spec in _pods(evaluated):
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["policy"]["configMap"] == {"name": "bastion-policy", "defaultMode": 292}
        assert "emptyDir" in volumes["bastion-data"]
        (container,) = spec["containers"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["policy"] == {
            "name": "policy",
            "mountPath": "/etc/bastion/policy",
            "readOnly": True,
        }
        assert mounts["bastion-data"]["mountPath"] == "/var/lib/bastion"  # bastion.yaml data_dir


def test_every_pod_reads_the_dsn_from_the_secret_only(evaluated: dict[str, Any]) -> None:
    for spec in _pods(evaluated):
        (container,) = spec["containers"]
        (dsn,) = [e for e in container["env"] if e["name"] == "BASTION_AUDIT__DSN"]
        assert dsn == {
            "name": "BASTION_AUDIT__DSN",
            "valueFrom": {"secretKeyRef": {"name": "bastion-audit-database", "key": "url"}},
        }


def test_the_example_keeps_state_in_postgresql_and_reads_the_mounted_policy(
    evaluated: dict[str, Any],
) -> None:
    assert evaluated["state_store"] == "postgres"
    assert evaluated["policy_files"] == ["/etc/bastion/policy"]
    assert evaluated["policy_outside"] == []
    assert evaluated["dsn_in_config"] is False


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (
            ("files:\n        - /etc/bastion/policy", "files:\n        - /var/lib/bastion/p.yaml"),
            "policy_outside",
            ["/var/lib/bastion/p.yaml"],
        ),
        (
            ("files:\n        - /etc/bastion/policy", "files:\n        - /etc/bastion/policy-old"),
            "policy_outside",
            ["/etc/bastion/policy-old"],
        ),
        (("store: postgres", "store: sqlite"), "state_store", "sqlite"),
        (("dsn: null", "dsn: postgresql://db/bastion"), "dsn_in_config", True),
    ],
    ids=["policy-elsewhere", "policy-prefix-lookalike", "sqlite-state", "dsn-in-config"],
)
def test_a_serve_config_the_module_refuses_is_reported(
    hcl: dict[str, Any], tmp_path: Path, change: tuple[str, str], key: str, expected: Any
) -> None:
    serve_config = (EXAMPLE / "serve-config.yaml").read_text(encoding="utf-8")
    changed = serve_config.replace(*change)
    assert changed != serve_config
    assert _evaluate(tmp_path, changed, hcl)[key] == expected
