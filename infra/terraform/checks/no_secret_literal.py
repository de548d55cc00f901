"""CKV_BASTION_5: secret values never appear in Terraform code or state.

Fails on
- a kubernetes_secret(_v1) with data / string_data / binary_data (whatever their source, the
  values would be stored in the Terraform state): secrets come from the site's secret store
  (ExternalSecret, CSI driver) or are created out of band and referenced by name;
- a kubernetes_manifest of kind Secret with data / stringData;
- a container environment variable whose name marks it as a credential and whose value is
  written in the code (instead of valueFrom.secretKeyRef);
- a RayService whose Serve config (serveConfigV2), written in the code, carries a credential
  such as Bastion's ``audit.dsn`` (it comes from a Secret through BASTION_AUDIT__DSN);
- a helm_release set_sensitive whose value is a literal.
"""

from __future__ import annotations

import re
from typing import Any

from bastion_k8s import dig, first, is_literal, manifest
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SIGNING_?KEY|DATABASE_URL|DB_URL|DSN|"
    r"CREDENTIAL)",
    re.IGNORECASE,
)
# Pointers to a secret, not the secret itself.
POINTER_SUFFIX = re.compile(r"(_FILE|_PATH|_DIR|_REF|_NAME)$", re.IGNORECASE)

SECRET_RESOURCES = ["kubernetes_secret", "kubernetes_secret_v1"]

# A credential setting with a value in a Serve config's text (exact key names: `max_tokens` is no
# token). Checkov hands heredocs over with their line breaks removed, so the text is searched
# rather than parsed; `null`, `~` and empty values are no credential.
SERVE_SECRET = re.compile(
    r"(?<![A-Za-z0-9_])(dsn|password|passwd|secret|token|api_?key|private_?key|database_url|"
    r"db_url)\s*:\s*(?!null\b|~|''|\"\"|[,}\]]|$)\S",
    re.IGNORECASE,
)


def _serve_config_secret(text: Any) -> bool:
    """True when a Serve config written in the code holds a credential value."""
    text = first(text)
    if not isinstance(text, str) or not is_literal(text):
        return False  # a reference (var.serve_config_yaml): the module's precondition checks it
    return SERVE_SECRET.search(text) is not None


def _env_literal(env: Any) -> bool:
    """True when an env entry (manifest camelCase or block snake_case) holds a literal secret."""
    entries = env if isinstance(env, list) else [env]
    for entry in entries:
        entry = first(entry)
        if not isinstance(entry, dict):
            continue
        name = str(first(entry.get("name")) or "")
        if not SECRET_NAME.search(name) or POINTER_SUFFIX.search(name):
            continue
        if "value" in entry and is_literal(entry["value"]):
            return True
    return False


def _dicts(node: Any) -> list[dict[str, Any]]:
    """All mappings in a (possibly nested) list."""
    if isinstance(node, dict):
        return [node]
    if isinstance(node, list):
        return [d for item in node for d in _dicts(item)]
    return []


def _walk_env(node: Any) -> bool:
    """Search a rendered structure for container env lists holding literal credentials."""
    node = first(node)
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and _env_literal(value):
                return True
            if _walk_env(value):
                return True
    elif isinstance(node, list):
        return any(_walk_env(item) for item in node)
    return False


class NoSecretLiteral(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Secret values are referenced from a secret store, never written in code or state",
            id="CKV_BASTION_5",
            categories=[CheckCategories.SECRETS],
            supported_resources=[
                *SECRET_RESOURCES,
                "kubernetes_manifest",
                "helm_release",
                "kubernetes_deployment",
                "kubernetes_deployment_v1",
                "kubernetes_stateful_set",
                "kubernetes_stateful_set_v1",
                "kubernetes_daemon_set_v1",
                "kubernetes_daemonset",
                "kubernetes_job",
                "kubernetes_job_v1",
                "kubernetes_cron_job",
                "kubernetes_cron_job_v1",
                "kubernetes_pod",
                "kubernetes_pod_v1",
            ],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if self.entity_type in SECRET_RESOURCES:
            if any(first(conf.get(key)) for key in ("data", "string_data", "binary_data")):
                return CheckResult.FAILED
            return CheckResult.PASSED
        if self.entity_type == "helm_release":
            # helm provider 3.x: set_sensitive = [{...}]; 2.x: repeated set_sensitive {} blocks.
            for item in _dicts(conf.get("set_sensitive")):
                if is_literal(item.get("value")):
                    return CheckResult.FAILED
            return CheckResult.PASSED
        if self.entity_type == "kubernetes_manifest":
            doc = manifest(conf)
            if doc is None:
                return CheckResult.FAILED
            if dig(doc, "kind") == "Secret" and (dig(doc, "data") or dig(doc, "stringData")):
                return CheckResult.FAILED
            if dig(doc, "kind") == "RayService" and _serve_config_secret(
                dig(doc, "spec", "serveConfigV2")
            ):
                return CheckResult.FAILED
            return CheckResult.FAILED if _walk_env(doc) else CheckResult.PASSED
        return CheckResult.FAILED if _walk_env(conf.get("spec")) else CheckResult.PASSED


check = NoSecretLiteral()
