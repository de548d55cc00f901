"""Shared paths and tool fixtures for the Terraform tests.

The infra tools live in their own virtual environments (made by scripts/install-infra-tools.sh):
checkov in .venv-infra, python-hcl2 in .venv-infra-hcl2. The tests reach them only through
subprocesses and skip, naming the missing environment, when they are absent.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra" / "terraform"
EXAMPLE = INFRA / "envs" / "example-site"
CHECKS = INFRA / "checks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKOV = ROOT / ".venv-infra" / "bin" / "checkov"
HCL_PYTHON = ROOT / ".venv-infra-hcl2" / "bin" / "python"
HCL2JSON = ROOT / "infra" / "tools" / "hcl2json.py"
INSTALL = "bash scripts/install-infra-tools.sh"


def offline_env() -> dict[str, str]:
    """Environment for checkov: no platform key, so nothing is uploaded or fetched."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    env["CHECKOV_RUN_SCA_PACKAGE_SCAN_V2"] = "false"
    env["LOG_LEVEL"] = "WARNING"
    return env


def run_checkov(directory: Path, *extra: str) -> dict[str, Any]:
    """Run checkov (terraform framework, our custom checks, no download) and return its report."""
    if not CHECKOV.exists():
        pytest.skip(f".venv-infra is absent (no {CHECKOV.relative_to(ROOT)}); run `{INSTALL}`")
    proc = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "terraform",
            "--skip-download",
            "--external-checks-dir",
            str(CHECKS),
            "--output",
            "json",
            "--compact",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
        check=False,
    )
    # checkov exits 1 when a check failed; anything else without a JSON report is an error.
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"checkov produced no JSON report (rc={proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    reports = report if isinstance(report, list) else [report]
    terraform = [r for r in reports if r.get("check_type") == "terraform"]
    assert len(terraform) == 1, f"expected one terraform report, got {reports!r}"[:2000]
    return terraform[0]


@pytest.fixture(scope="session")
def hcl() -> dict[str, Any]:
    """Every *.tf / *.tftest.hcl / *.tfvars under infra/terraform, parsed by python-hcl2."""
    if not HCL_PYTHON.exists():
        pytest.skip(
            f".venv-infra-hcl2 is absent (no {HCL_PYTHON.relative_to(ROOT)}); run `{INSTALL}`"
        )
    proc = subprocess.run(
        [str(HCL_PYTHON), str(HCL2JSON), str(INFRA)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def blocks(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    """Merge the labelled blocks of one kind (variable, output, module) of a file into one dict."""
    merged: dict[str, Any] = {}
    for item in parsed.get(kind, []):
        merged.update(item)
    return merged


def directory_blocks(hcl: dict[str, Any], directory: str, kind: str) -> dict[str, Any]:
    """Blocks of one kind across all .tf files directly in ``directory`` (relative to INFRA)."""
    merged: dict[str, Any] = {}
    for path, parsed in hcl.items():
        if path.endswith(".tf") and str(Path(path).parent) == directory:
            merged.update(blocks(parsed, kind))
    return merged


def resources(hcl: dict[str, Any], directory: str) -> dict[str, dict[str, Any]]:
    """{"type.name": body} for the resources in the .tf files directly in ``directory``."""
    found: dict[str, dict[str, Any]] = {}
    for path, parsed in hcl.items():
        if not path.endswith(".tf") or str(Path(path).parent) != directory:
            continue
        for item in parsed.get("resource", []):
            for rtype, named in item.items():
                for name, body in named.items():
                    found[f"{rtype}.{name}"] = body
    return found


def locals_of(hcl: dict[str, Any], directory: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path, parsed in hcl.items():
        if path.endswith(".tf") and str(Path(path).parent) == directory:
            for item in parsed.get("locals", []):
                merged.update(item)
    return merged
