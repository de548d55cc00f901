variable "kubeconfig_path" {
  description = "Path to the kubeconfig of the on-prem cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context to use; null uses the kubeconfig's current context."
  type        = string
  default     = null
}

variable "namespace" {
  description = "Namespace Bastion runs in."
  type        = string
  default     = "bastion"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace)) && !contains(["default", "kube-system", "kube-public"], var.namespace)
    error_message = "namespace must be a DNS-1123 label and not default, kube-system or kube-public."
  }
}

variable "image" {
  description = "Bastion image (Ray + Bastion) in the site's registry, pinned by tag or digest."
  type        = string

  validation {
    condition     = can(regex("^[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must carry an explicit tag or sha256 digest, and not :latest."
  }
}

variable "ray_version" {
  description = "Ray version inside the image, exact (e.g. 2.49.1)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.ray_version))
    error_message = "ray_version must be an exact version such as 2.49.1."
  }
}

variable "kuberay_chart_version" {
  description = "Exact kuberay-operator Helm chart version."
  type        = string
  default     = "1.4.2"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.kuberay_chart_version))
    error_message = "kuberay_chart_version must be an exact version such as 1.4.2."
  }
}

variable "gpu_operator_chart_version" {
  description = "Exact gpu-operator Helm chart version."
  type        = string
  default     = "v25.3.2"

  validation {
    condition     = can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+$", var.gpu_operator_chart_version))
    error_message = "gpu_operator_chart_version must be an exact version such as v25.3.2."
  }
}

variable "helm_repositories" {
  description = "Helm repositories for the two operator charts; point both at the site's mirror when air-gapped."
  type = object({
    kuberay      = string
    gpu_operator = string
  })
  default = {
    kuberay      = "https://ray-project.github.io/kuberay-helm/"
    gpu_operator = "https://helm.ngc.nvidia.com/nvidia"
  }

  validation {
    condition     = can(regex("^(https|oci)://", var.helm_repositories.kuberay)) && can(regex("^(https|oci)://", var.helm_repositories.gpu_operator))
    error_message = "helm_repositories must be https:// or oci:// URLs."
  }
}

variable "install_gpu_driver" {
  description = "Let the GPU Operator install the NVIDIA driver; false where nodes ship a host driver."
  type        = bool
  default     = false
}

variable "head_site" {
  description = "Site whose nodes host the Ray head; one of the keys of sites."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", var.head_site))
    error_message = "head_site must be a site id (DNS-1123 label, at most 40 characters)."
  }
}

variable "sites" {
  description = "Sites with GPU nodes, keyed by site id (the policy layer's site ids): workers, GPUs per worker, resources and the on-site StorageClass for model weights."
  type = map(object({
    replicas        = number
    gpus_per_worker = number
    cpu             = string
    memory          = string
    weights = object({
      storage_class = string
      size          = string
      access_mode   = optional(string, "ReadOnlyMany")
    })
  }))

  validation {
    condition     = length(var.sites) > 0 && alltrue([for id in keys(var.sites) : can(regex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", id))])
    error_message = "sites must name at least one site; site ids are DNS-1123 labels of at most 40 characters (e.g. de-fra-1)."
  }
  validation {
    condition     = alltrue([for s in values(var.sites) : s.gpus_per_worker >= 0 && s.gpus_per_worker <= 16 && floor(s.gpus_per_worker) == s.gpus_per_worker && s.replicas >= 1])
    error_message = "Each site needs at least one worker and a whole number of GPUs per worker (0-16)."
  }
}

variable "client_namespaces" {
  description = "Namespaces allowed to call Bastion (e.g. the ingress controller)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for ns in var.client_namespaces : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", ns))])
    error_message = "client_namespaces must be DNS-1123 namespace names."
  }
}

variable "client_cidrs" {
  description = "Client CIDRs allowed to call Bastion; never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.client_cidrs : can(cidrhost(c, 0)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "client_cidrs must be valid CIDRs and must not be 0.0.0.0/0 or ::/0."
  }
}

variable "audit_database" {
  description = "The audit PostgreSQL server (CIDR of /24 or narrower, and port): Bastion's only egress besides DNS."
  type = object({
    cidr = string
    port = number
  })

  validation {
    condition     = can(cidrhost(var.audit_database.cidr, 0)) && try(tonumber(split("/", var.audit_database.cidr)[1]) >= 24, false) && var.audit_database.port >= 1 && var.audit_database.port <= 65535
    error_message = "audit_database needs a CIDR of /24 or narrower and a TCP port."
  }
}

variable "secret_store" {
  description = "ClusterSecretStore (External Secrets Operator) and remote keys for the audit signing key and database URL."
  type = object({
    name                       = string
    refresh_interval           = string
    audit_signing_key_remote   = string
    audit_signing_key_property = string
    database_url_remote        = string
    database_url_property      = string
  })

  validation {
    condition     = alltrue([for v in values(var.secret_store) : length(v) > 0])
    error_message = "secret_store fields must all be non-empty."
  }
}

variable "quota" {
  description = "ResourceQuota for the Bastion namespace."
  type = object({
    requests_cpu    = string
    requests_memory = string
    limits_cpu      = string
    limits_memory   = string
    gpus            = number
    pods            = number
    pvcs            = number
    storage         = string
  })

  validation {
    condition     = var.quota.gpus >= 0 && var.quota.pods >= 1 && var.quota.pvcs >= 0
    error_message = "quota.gpus and quota.pvcs must be >= 0 and quota.pods >= 1."
  }
}
