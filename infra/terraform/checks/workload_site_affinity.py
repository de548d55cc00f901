"""CKV_BASTION_2: every workload is pinned to its site by required node affinity.

A pod template passes when its affinity has
``requiredDuringSchedulingIgnoredDuringExecution`` node-selector terms that match on a
``node-restriction.kubernetes.io/`` label (admin-set, unforgeable by a kubelet) and on at least
one other label (the platform's site label), every term doing both. RayService / RayCluster /
RayJob are checked for the head and every worker group, and must have worker groups.
Preferred affinity does not count.
"""

from __future__ import annotations

from typing import Any

from bastion_k8s import (
    RESTRICTED_PREFIX,
    WORKLOAD_KINDS,
    WORKLOAD_RESOURCES,
    dig,
    first,
    manifest,
)
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def _terms_ok(terms: Any) -> bool:
    terms = terms if isinstance(terms, list) else [terms]
    if not terms:
        return False
    for term in terms:
        exprs = dig(term, "matchExpressions")
        exprs = exprs if isinstance(exprs, list) else [exprs]
        keys = [str(dig(e, "key")) for e in exprs if isinstance(first(e), dict)]
        ops = [str(dig(e, "operator")) for e in exprs if isinstance(first(e), dict)]
        if not any(k.startswith(RESTRICTED_PREFIX) for k in keys):
            return False
        if not any(not k.startswith(RESTRICTED_PREFIX) for k in keys):
            return False
        if any(op not in ("In",) for op in ops):
            return False
    return True


def _text_ok(text: str) -> bool:
    """Fallback for a pod spec checkov could not evaluate (e.g. built by a for expression)."""
    return (
        "nodeAffinity" in text
        and REQUIRED in text
        and RESTRICTED_PREFIX in text
        and text.count("'key'") + text.count("key =") >= 2
    )


def _pod_spec_ok(spec: Any) -> bool:
    if isinstance(spec, str):
        return _text_ok(spec)
    affinity = dig(spec, "affinity")
    if isinstance(affinity, str):
        return _text_ok(affinity)
    required = dig(affinity, "nodeAffinity", REQUIRED)
    if isinstance(required, str):
        return _text_ok(required)
    return _terms_ok(dig(required, "nodeSelectorTerms"))


def _ray_cluster_ok(cluster: Any) -> bool:
    if isinstance(cluster, str):
        return _text_ok(cluster)
    head = dig(cluster, "headGroupSpec", "template", "spec")
    if head is None or not _pod_spec_ok(head):
        return False
    workers = first(dig(cluster, "workerGroupSpecs"))
    # Fail closed: checkov collapses some expressions it cannot evaluate to an empty list, which
    # must not read as "no worker groups to check". Bastion's models always run on workers.
    if not workers:
        return False
    if isinstance(workers, str):
        return _text_ok(workers)
    workers = workers if isinstance(workers, list) else [workers]
    return all(_pod_spec_ok(dig(group, "template", "spec")) for group in workers)


def _manifest_ok(doc: dict[str, Any]) -> bool:
    kind = dig(doc, "kind")
    spec = dig(doc, "spec")
    if kind == "RayService":
        return _ray_cluster_ok(dig(spec, "rayClusterConfig"))
    if kind == "RayCluster":
        return _ray_cluster_ok(spec)
    if kind == "RayJob":
        return _ray_cluster_ok(dig(spec, "rayClusterSpec"))
    if kind == "Pod":
        return _pod_spec_ok(spec)
    if kind == "CronJob":
        return _pod_spec_ok(dig(spec, "jobTemplate", "spec", "template", "spec"))
    return _pod_spec_ok(dig(spec, "template", "spec"))


def _block_terms_ok(required: Any) -> bool:
    """Typed resources use snake_case blocks: node_selector_term { match_expressions {...} }."""
    terms = dig(required, "node_selector_term")
    terms = terms if isinstance(terms, list) else [terms]
    converted = []
    for term in terms:
        exprs = dig(term, "match_expressions")
        exprs = exprs if isinstance(exprs, list) else [exprs]
        converted.append({"matchExpressions": exprs})
    return _terms_ok(converted)


def _typed_ok(resource_type: str, conf: dict[str, Any]) -> bool:
    spec = dig(conf, "spec")
    if resource_type.startswith("kubernetes_pod"):
        pod = spec
    elif resource_type.startswith("kubernetes_cron_job"):
        pod = dig(spec, "job_template", "spec", "template", "spec")
    else:
        pod = dig(spec, "template", "spec")
    required = dig(
        pod, "affinity", "node_affinity", "required_during_scheduling_ignored_during_execution"
    )
    if required is None:
        return False
    return _block_terms_ok(required)


class WorkloadSiteAffinity(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Workloads require node affinity on the site label and a node-restriction label",
            id="CKV_BASTION_2",
            categories=[CheckCategories.KUBERNETES],
            supported_resources=["kubernetes_manifest", *WORKLOAD_RESOURCES],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if self.entity_type == "kubernetes_manifest":
            doc = manifest(conf)
            if doc is None:
                return CheckResult.FAILED  # cannot tell what it runs: fail closed
            if dig(doc, "kind") not in WORKLOAD_KINDS:
                return CheckResult.UNKNOWN
            return CheckResult.PASSED if _manifest_ok(doc) else CheckResult.FAILED
        return CheckResult.PASSED if _typed_ok(self.entity_type, conf) else CheckResult.FAILED


check = WorkloadSiteAffinity()
