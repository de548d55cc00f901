"""CKV_BASTION_1: every helm_release pins an exact chart version."""

from __future__ import annotations

import re
from typing import Any

from bastion_k8s import first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

# An exact SemVer, optionally with a leading "v" (NVIDIA's charts): no ranges, no wildcards.
EXACT = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


class HelmReleasePinned(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Helm releases pin an exact chart version (no range, no latest)",
            id="CKV_BASTION_1",
            categories=[CheckCategories.SUPPLY_CHAIN],
            supported_resources=["helm_release"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        version = first(conf.get("version"))
        chart = str(first(conf.get("chart")) or "")
        # A chart given as a URL or local archive carries its version in the file name, unchecked.
        if chart.startswith(("http://", "https://", "./", "/")) or chart.endswith(".tgz"):
            return CheckResult.FAILED
        if isinstance(version, str) and EXACT.match(version.strip()):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = HelmReleasePinned()
