"""One source of truth: the RayService's Serve config is `bastion serve-config` of bastion.yaml.

infra/terraform/envs/example-site/serve-config.yaml is what Terraform deploys (serveConfigV2 via
file()); it must be byte-for-byte what the CLI prints for the bastion.yaml beside it, and every
site a ModelServer deployment requires (Ray resource site:<id>) must have a worker group that
advertises it, with enough GPUs.

Regenerate after changing bastion.yaml:
  cd infra/terraform/envs/example-site
  bastion serve-config --config bastion.yaml > serve-config.yaml
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.conftest import EXAMPLE, ROOT

SERVE_CONFIG = EXAMPLE / "serve-config.yaml"
BASTION_YAML = EXAMPLE / "bastion.yaml"
REGENERATE = (
    "cd infra/terraform/envs/example-site && "
    "bastion serve-config --config bastion.yaml > serve-config.yaml"
)


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "bastion"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from serving.cli import main; main()"]


def _serve_config() -> dict[str, Any]:
    return yaml.safe_load(SERVE_CONFIG.read_text(encoding="utf-8"))


def _models() -> list[dict[str, Any]]:
    return yaml.safe_load(BASTION_YAML.read_text(encoding="utf-8"))["models"]


def _site_pinned(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(site id, ray_actor_options) for every deployment that requires a site resource."""
    pinned = []
    for app in config["applications"]:
        for deployment in app["deployments"]:
            options = deployment.get("ray_actor_options", {})
            for resource in options.get("resources", {}):
                if resource.startswith("site:"):
                    pinned.append((resource.removeprefix("site:"), options))
    return pinned


def test_serve_config_is_generated_from_bastion_yaml() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    # For the fallback (bastion not installed as a console script): import serving from the repo.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [*_cli(), "serve-config", "--config", "bastion.yaml"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0 and "No such command 'serve-config'" in proc.stderr:
        pytest.skip("this checkout's bastion CLI has no serve-config command")
    assert proc.returncode == 0, f"bastion serve-config failed:\n{proc.stderr[-4000:]}"
    assert SERVE_CONFIG.exists(), f"missing {SERVE_CONFIG.relative_to(ROOT)}; run: {REGENERATE}"
    committed = SERVE_CONFIG.read_text(encoding="utf-8")
    assert proc.stdout == committed, f"serve-config.yaml is stale; run: {REGENERATE}"


def test_serve_config_is_a_ray_serve_config_for_bastion() -> None:
    config = _serve_config()
    (app,) = config["applications"]
    assert app["import_path"] == "serving.app:build_app_from_args"
    names = [d["name"] for d in app["deployments"]]
    assert "Ingress" in names
    assert "Embedder" in names


def test_every_model_version_runs_only_on_its_site() -> None:
    pinned = _site_pinned(_serve_config())
    embeddings = yaml.safe_load(BASTION_YAML.read_text(encoding="utf-8"))["embeddings"]
    models = [*_models(), {"site": embeddings["site"], "num_gpus": embeddings.get("num_gpus", 0)}]
    # One site-pinned deployment per model version (the embedder included), each asking for
    # exactly one site ...
    assert len(pinned) == len(models)
    for _, options in pinned:
        sites = [r for r in options["resources"] if r.startswith("site:")]
        assert len(sites) == 1, options
        assert 0 < options["resources"][sites[0]] <= 1
    # ... and the sites and GPU needs are those of bastion.yaml.
    assert Counter((site, float(o["num_gpus"])) for site, o in pinned) == Counter(
        (m["site"], float(m.get("num_gpus", 0))) for m in models
    )


def test_each_required_site_has_a_worker_group_advertising_it(hcl: dict[str, Any]) -> None:
    tfvars = hcl["envs/example-site/terraform.tfvars"]
    sites = tfvars["sites"]
    # modules/bastion-rayservice advertises site:<key> for each key of var.sites (asserted on
    # its HCL by test_hcl_static.py::test_worker_groups_advertise_and_require_their_own_site).
    advertised = {f"site:{site}" for site in sites}
    for site, options in _site_pinned(_serve_config()):
        assert f"site:{site}" in advertised, f"no worker group advertises site:{site}"
        assert options["num_gpus"] <= sites[site]["gpus_per_worker"], (
            f"a deployment on {site} needs {options['num_gpus']} GPUs per replica; "
            f"its workers have {sites[site]['gpus_per_worker']}"
        )


def test_each_example_site_serves_a_model(hcl: dict[str, Any]) -> None:
    sites = set(hcl["envs/example-site/terraform.tfvars"]["sites"])
    assert {site for site, _ in _site_pinned(_serve_config())} == sites
    assert {m["site"] for m in _models()} == sites


def test_model_weights_are_read_from_the_weights_volume(hcl: dict[str, Any]) -> None:
    variables = {}
    for item in hcl["modules/bastion-rayservice/variables.tf"]["variable"]:
        variables.update(item)
    mount = variables["weights_mount_path"]["default"]
    for model in _models():
        assert model["path"].startswith(mount + "/"), model["path"]
