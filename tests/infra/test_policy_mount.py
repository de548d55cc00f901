"""The example site's policy documents: what the RayService mounts (a ConfigMap) is a valid policy
that agrees with bastion.yaml on every model's site, and bastion.yaml reads it from the mount.

These are the checks ``build_app`` runs in the Serve controller at deploy time (a mismatch
refuses the deployment); running them here catches it before anything is applied.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from serving.config import load_settings
from serving.policy_reload import PolicySiteMismatch, deployed_sites, read_policy
from tests.infra.conftest import EXAMPLE, INFRA, directory_blocks

POLICY_DIR = EXAMPLE / "policy"
BASTION_YAML = EXAMPLE / "bastion.yaml"
RS = "modules/bastion-rayservice"


def _mount_path(hcl: dict[str, Any]) -> str:
    return directory_blocks(hcl, RS, "variable")["policy_mount_path"]["default"]


def test_the_example_policy_loads_and_agrees_with_bastion_yaml_on_sites() -> None:
    settings = load_settings(BASTION_YAML)
    policy, stored = read_policy([POLICY_DIR], deployed_sites(settings))
    declared = {m.id for m in policy.models}
    assert set(deployed_sites(settings)) <= declared  # every configured model is in policy
    assert [name for name, _ in stored.documents] == [str(POLICY_DIR / "policy.yaml")]


def test_a_site_mismatch_in_the_example_would_be_refused(tmp_path: Path) -> None:
    text = (POLICY_DIR / "policy.yaml").read_text(encoding="utf-8")
    moved = re.sub(
        r"(id: mistral-7b-instruct@v0\.3\n    site: )de-muc-1", r"\1de-fra-1", text, count=1
    )
    assert moved != text
    (tmp_path / "policy.yaml").write_text(moved, encoding="utf-8")
    with pytest.raises(PolicySiteMismatch, match=r"mistral-7b-instruct@v0\.3"):
        read_policy([tmp_path], deployed_sites(load_settings(BASTION_YAML)))


def test_bastion_yaml_reads_the_policy_from_the_mount(hcl: dict[str, Any]) -> None:
    mount = _mount_path(hcl)
    files = [str(p) for p in load_settings(BASTION_YAML).policy.files]
    assert files and all(f == mount or f.startswith(mount + "/") for f in files)


def test_the_example_mounts_every_document_of_its_policy_folder(hcl: dict[str, Any]) -> None:
    module = directory_blocks(hcl, "envs/example-site", "module")["bastion_rayservice"]
    expr = module["policy_documents"]
    assert 'fileset("${path.module}/policy", "*.yaml")' in expr
    assert sorted(p.name for p in POLICY_DIR.glob("*.yaml")) == ["policy.yaml"]
    # The module creates the ConfigMap from exactly that map, and every pod mounts it.
    main = (INFRA / RS / "main.tf").read_text(encoding="utf-8")
    assert "data = var.policy_documents" in main
