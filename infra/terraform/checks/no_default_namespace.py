"""CKV_BASTION_3: nothing is deployed into the "default" namespace, explicitly or by omission."""

from __future__ import annotations

from typing import Any

from bastion_k8s import CLUSTER_SCOPED_KINDS, NAMESPACED_RESOURCES, dig, first, manifest
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


def _namespace_ok(namespace: Any) -> bool:
    namespace = first(namespace)
    if namespace is None:
        return False  # omitted: Kubernetes and Helm fall back to "default"
    return str(namespace).strip() not in ("", "default")


class NoDefaultNamespace(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name='Resources name a namespace and it is not "default"',
            id="CKV_BASTION_3",
            categories=[CheckCategories.KUBERNETES],
            supported_resources=["helm_release", "kubernetes_manifest", *NAMESPACED_RESOURCES],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if self.entity_type == "helm_release":
            namespace = conf.get("namespace")
        elif self.entity_type == "kubernetes_manifest":
            doc = manifest(conf)
            if doc is None:
                return CheckResult.FAILED
            if dig(doc, "kind") in CLUSTER_SCOPED_KINDS:
                return CheckResult.UNKNOWN
            namespace = dig(doc, "metadata", "namespace")
        else:
            namespace = dig(conf, "metadata", "namespace")
        return CheckResult.PASSED if _namespace_ok(namespace) else CheckResult.FAILED


check = NoDefaultNamespace()
