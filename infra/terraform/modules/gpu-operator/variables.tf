variable "namespace" {
  description = "Namespace for the GPU Operator (created by the Helm release when missing)."
  type        = string
  default     = "gpu-operator"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace)) && var.namespace != "default"
    error_message = "namespace must be a DNS-1123 label and must not be \"default\"."
  }
}

variable "chart_repository" {
  description = "Helm repository (https:// or oci://) holding the gpu-operator chart; point it at the site's internal mirror when air-gapped."
  type        = string
  default     = "https://helm.ngc.nvidia.com/nvidia"

  validation {
    condition     = can(regex("^(https|oci)://", var.chart_repository))
    error_message = "chart_repository must be an https:// or oci:// URL."
  }
}

variable "chart_version" {
  description = "Exact gpu-operator chart version (e.g. v25.3.2); ranges are refused so every site runs the same release."
  type        = string
  default     = "v25.3.2"

  validation {
    condition     = can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+$", var.chart_version))
    error_message = "chart_version must be an exact version such as v25.3.2 (no ranges, no 'latest')."
  }
}

variable "driver_enabled" {
  description = "Install the NVIDIA driver as a container; set false where nodes ship a host driver (common on-prem)."
  type        = bool
  default     = false
}

variable "toolkit_enabled" {
  description = "Install the NVIDIA container toolkit; set false where the node image already configures the runtime."
  type        = bool
  default     = true
}

variable "image_registry" {
  description = "Registry prefix that replaces nvcr.io/nvidia for the operator's images (air-gapped mirror); empty keeps the chart's defaults."
  type        = string
  default     = ""

  validation {
    condition     = var.image_registry == "" || can(regex("^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$", var.image_registry))
    error_message = "image_registry must be empty or a registry path such as registry.site.internal/nvidia."
  }
}

variable "gpu_node_selector" {
  description = "Node labels that select GPU nodes for the operator's node-level daemonsets."
  type        = map(string)
  default     = { "nvidia.com/gpu.present" = "true" }

  validation {
    condition     = length(var.gpu_node_selector) > 0 && alltrue([for k in keys(var.gpu_node_selector) : can(regex("^([a-z0-9.-]+/)?[A-Za-z0-9._-]+$", k))])
    error_message = "gpu_node_selector must hold at least one label; keys must be label keys."
  }
}
