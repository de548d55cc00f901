variable "namespace" {
  description = "Namespace the KubeRay operator runs in (created by the Helm release when missing)."
  type        = string
  default     = "kuberay-system"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace)) && var.namespace != "default"
    error_message = "namespace must be a DNS-1123 label and must not be \"default\"."
  }
}

variable "watch_namespaces" {
  description = "Namespaces the operator watches; it gets a namespaced Role in each and no cluster-wide RBAC."
  type        = list(string)

  validation {
    condition = length(var.watch_namespaces) > 0 && alltrue([
      for ns in var.watch_namespaces : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", ns)) && ns != "default"
    ])
    error_message = "watch_namespaces must list at least one DNS-1123 namespace, never \"default\"."
  }
}

variable "chart_repository" {
  description = "Helm repository (https:// or oci://) holding the kuberay-operator chart; the site's internal mirror when air-gapped."
  type        = string
  default     = "https://ray-project.github.io/kuberay-helm/"

  validation {
    condition     = can(regex("^(https|oci)://", var.chart_repository))
    error_message = "chart_repository must be an https:// or oci:// URL."
  }
}

variable "chart_version" {
  description = "Exact kuberay-operator chart version (e.g. 1.4.2); ranges are refused."
  type        = string
  default     = "1.4.2"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.chart_version))
    error_message = "chart_version must be an exact version such as 1.4.2 (no ranges, no 'latest')."
  }
}

variable "image_repository" {
  description = "Operator image repository; point it at the site's mirror when air-gapped. Empty keeps the chart's default."
  type        = string
  default     = ""

  validation {
    condition     = var.image_repository == "" || can(regex("^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$", var.image_repository))
    error_message = "image_repository must be empty or an image repository such as registry.site.internal/kuberay/operator."
  }
}
