"""Helpers shared by Bastion's checkov checks (imported by the check files beside it).

Checkov hands a check the resource's configuration with variables and locals substituted where
it can; what it cannot evaluate (for expressions, most functions) stays an expression string.
The checks inspect structure where it is rendered and fall back to the expression text where it
is not, failing closed when neither shows what they look for.
"""

from __future__ import annotations

from typing import Any

# Node label prefix that kubelets cannot set on their own Node object (NodeRestriction admission).
RESTRICTED_PREFIX = "node-restriction.kubernetes.io/"

# KubeRay custom resources and kubernetes_manifest kinds that run pods.
WORKLOAD_KINDS = {
    "RayService",
    "RayCluster",
    "RayJob",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Pod",
    "ReplicaSet",
}

# Typed provider resources that run pods (block syntax), with and without the _v1 suffix.
WORKLOAD_RESOURCES = [
    f"kubernetes_{kind}{suffix}"
    for kind in (
        "deployment",
        "stateful_set",
        "daemon_set",
        "daemonset",
        "job",
        "cron_job",
        "pod",
        "replication_controller",
    )
    for suffix in ("", "_v1")
]

# Namespaced typed resources (metadata.namespace must be set and not "default").
NAMESPACED_RESOURCES = WORKLOAD_RESOURCES + [
    f"kubernetes_{kind}{suffix}"
    for kind in (
        "service",
        "service_account",
        "secret",
        "config_map",
        "network_policy",
        "resource_quota",
        "limit_range",
        "persistent_volume_claim",
        "role",
        "role_binding",
        "ingress",
        "horizontal_pod_autoscaler",
        "pod_disruption_budget",
    )
    for suffix in ("", "_v1", "_v2")
]

CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PersistentVolume",
    "PriorityClass",
    "ClusterSecretStore",
    "ClusterIssuer",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "RuntimeClass",
    "CSIDriver",
}


def first(value: Any) -> Any:
    """Checkov wraps attribute values in one-element lists; unwrap them."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def dig(value: Any, *path: str) -> Any:
    """Follow ``path`` through dicts (unwrapping checkov's lists); None when a step is missing."""
    value = first(value)
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = first(value[key])
    return value


def manifest(conf: dict[str, Any]) -> dict[str, Any] | None:
    """The ``manifest`` of a kubernetes_manifest resource, if checkov rendered it to a mapping."""
    value = first(conf.get("manifest"))
    return value if isinstance(value, dict) else None


def is_literal(value: Any) -> bool:
    """True for a value written in the code: not an unresolved reference or expression."""
    value = first(value)
    if value is None:
        return False
    if isinstance(value, str):
        text = value.strip()
        if "${" in text:
            return False
        return not text.startswith(
            (
                "var.",
                "local.",
                "data.",
                "module.",
                "each.",
                "try(",
                "lookup(",
                "file(",
                "sensitive(",
            )
        )
    return True
