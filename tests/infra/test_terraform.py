"""terraform / OpenTofu checks: fmt, validate and `terraform test` with mocked providers.

Without a terraform or tofu binary every test here is skipped with the reason "no terraform/tofu
binary on this machine". With one, `fmt -check` always runs (it needs no providers); `init`,
`validate` and `terraform test` need the hashicorp/kubernetes and hashicorp/helm providers, from
the registry or a provider mirror (infra/terraform/README.md): where init cannot install them,
those tests are skipped saying so, and any other failure fails.
Set BASTION_TERRAFORM=/path/to/terraform-or-tofu to pick a binary explicitly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import INFRA

ROOTS = [
    "modules/gpu-operator",
    "modules/kuberay-operator",
    "modules/bastion-namespace",
    "modules/bastion-rayservice",
    "envs/example-site",
]
SKIP_REASON = "no terraform/tofu binary on this machine"
# init's messages when the providers cannot be fetched (no registry access, no mirror).
PROVIDERS_UNAVAILABLE = (
    "Failed to query available provider packages",
    "Failed to install provider",
    "could not connect to registry",
    "Failed to resolve provider packages",
)


def _binary() -> str | None:
    explicit = os.environ.get("BASTION_TERRAFORM")
    if explicit:
        return explicit
    return shutil.which("terraform") or shutil.which("tofu")


BINARY = _binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)


def _run(args: list[str], cwd: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        TF_DATA_DIR=str(data_dir),
        CHECKPOINT_DISABLE="1",  # no version check / telemetry call to HashiCorp
    )
    return subprocess.run(
        [str(BINARY), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of infra/terraform, so init leaves no .terraform or lock files in the checkout."""
    copy = tmp_path_factory.mktemp("terraform") / "terraform"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    return copy


def test_fmt_check(tree: Path, tmp_path: Path) -> None:
    proc = _run(["fmt", "-check", "-recursive", "-diff"], tree, tmp_path)
    assert proc.returncode == 0, f"terraform fmt would change files:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("root", ROOTS)
def test_init_validate_and_test(tree: Path, tmp_path: Path, root: str) -> None:
    workdir = tree / root
    init = _run(["init", "-backend=false", "-input=false", "-no-color"], workdir, tmp_path)
    output = init.stdout + init.stderr
    if init.returncode != 0 and any(marker in output for marker in PROVIDERS_UNAVAILABLE):
        pytest.skip(
            f"{BINARY} is present but cannot install the kubernetes/helm providers (no registry "
            "access, no provider mirror): validate and terraform test not run"
        )
    assert init.returncode == 0, f"init failed:\n{output}"
    validate = _run(["validate", "-no-color"], workdir, tmp_path)
    assert validate.returncode == 0, f"validate failed:\n{validate.stdout}{validate.stderr}"
    assert list((workdir / "tests").glob("*.tftest.hcl")), f"{root} has no tests"
    test = _run(["test", "-no-color"], workdir, tmp_path)
    assert test.returncode == 0, f"terraform test failed:\n{test.stdout}{test.stderr}"
    assert "0 passed" not in test.stdout, test.stdout
