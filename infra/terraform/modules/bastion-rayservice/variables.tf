variable "name" {
  description = "Name of the RayService (its Serve endpoint is the Service <name>-serve-svc)."
  type        = string
  default     = "bastion"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be a DNS-1123 label of at most 40 characters."
  }
}

variable "namespace" {
  description = "Namespace to deploy into (the bastion-namespace module's output)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace)) && var.namespace != "default"
    error_message = "namespace must be a DNS-1123 label and must not be \"default\"."
  }
}

variable "service_account_name" {
  description = "Service account the Ray pods run as (the bastion-namespace module's output)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.service_account_name))
    error_message = "service_account_name must be a DNS-1123 label."
  }
}

variable "serve_config_yaml" {
  description = "Ray Serve config printed by `bastion serve-config --config bastion.yaml`, passed verbatim as serveConfigV2."
  type        = string

  validation {
    condition     = can(yamldecode(var.serve_config_yaml).applications[0].import_path)
    error_message = "serve_config_yaml must be a Serve config with at least one application (the output of `bastion serve-config`)."
  }
}

variable "image" {
  description = "Bastion container image (Ray + Bastion), pinned by tag or digest from the site's registry; never :latest."
  type        = string

  validation {
    condition     = can(regex("^[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must carry an explicit tag or sha256 digest, and not :latest."
  }
}

variable "ray_version" {
  description = "Ray version inside the image (KubeRay's spec.rayClusterConfig.rayVersion), exact."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.ray_version))
    error_message = "ray_version must be an exact version such as 2.49.1."
  }
}

variable "site_label_key" {
  description = "Node label that names a node's site (set by the platform team on every node)."
  type        = string
  default     = "bastion.io/site"

  validation {
    condition     = can(regex("^([a-z0-9.-]+/)?[A-Za-z0-9._-]+$", var.site_label_key))
    error_message = "site_label_key must be a Kubernetes label key."
  }
}

variable "restricted_site_label_key" {
  description = "Admin-set node label under node-restriction.kubernetes.io/, which a kubelet cannot set on its own node: a compromised node cannot claim another site."
  type        = string
  default     = "node-restriction.kubernetes.io/bastion-site"

  validation {
    condition     = can(regex("^node-restriction\\.kubernetes\\.io/[A-Za-z0-9._-]+$", var.restricted_site_label_key))
    error_message = "restricted_site_label_key must be under the node-restriction.kubernetes.io/ prefix."
  }
}

variable "head_site" {
  description = "Site whose nodes host the Ray head (Serve controller, HTTP proxy); one of the keys of sites."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", var.head_site))
    error_message = "head_site must be a site id (DNS-1123 label, at most 40 characters)."
  }
}

variable "head" {
  description = "Ray head pod resources; the head gets no GPU."
  type = object({
    cpu    = string
    memory = string
  })
  default = {
    cpu    = "4"
    memory = "16Gi"
  }

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?m?$", var.head.cpu)) && can(regex("^[0-9]+(Mi|Gi|Ti)$", var.head.memory))
    error_message = "head.cpu must be a CPU quantity (4, 500m) and head.memory a memory quantity (16Gi)."
  }
}

variable "sites" {
  description = "One Ray worker group per site, keyed by site id (the policy layer's site id; Ray resource site:<id>)."
  type = map(object({
    replicas        = number
    gpus_per_worker = number
    cpu             = string
    memory          = string
    gpu_resource    = optional(string, "nvidia.com/gpu")
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
    condition     = alltrue([for s in values(var.sites) : s.replicas >= 1 && s.replicas <= 64 && s.gpus_per_worker >= 0 && s.gpus_per_worker <= 16 && floor(s.gpus_per_worker) == s.gpus_per_worker])
    error_message = "Each site needs 1-64 worker replicas and a whole number of GPUs per worker (0-16)."
  }
  validation {
    condition     = alltrue([for s in values(var.sites) : contains(["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce"], s.weights.access_mode)])
    error_message = "weights.access_mode must be ReadOnlyMany, ReadWriteMany or ReadWriteOnce."
  }
  validation {
    condition     = alltrue([for s in values(var.sites) : can(regex("^[0-9]+(Mi|Gi|Ti)$", s.weights.size))])
    error_message = "weights.size must be a quantity such as 200Gi."
  }
}

variable "gpu_tolerations" {
  description = "Tolerations for the taints on GPU nodes, added to every worker group."
  type = list(object({
    key      = string
    operator = string
    value    = optional(string)
    effect   = string
  }))
  default = [{
    key      = "nvidia.com/gpu"
    operator = "Exists"
    effect   = "NoSchedule"
  }]

  validation {
    condition     = alltrue([for t in var.gpu_tolerations : contains(["Exists", "Equal"], t.operator) && contains(["NoSchedule", "PreferNoSchedule", "NoExecute"], t.effect)])
    error_message = "Each toleration needs operator Exists|Equal and effect NoSchedule|PreferNoSchedule|NoExecute."
  }
}

variable "weights_mount_path" {
  description = "Where the model-weights volume is mounted (read-only); bastion.yaml's model paths live under it."
  type        = string
  default     = "/models"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.weights_mount_path))
    error_message = "weights_mount_path must be an absolute path."
  }
}

variable "serve_port" {
  description = "Port of the Ray Serve HTTP proxy."
  type        = number
  default     = 8000

  validation {
    condition     = var.serve_port >= 1 && var.serve_port <= 65535
    error_message = "serve_port must be a TCP port (1-65535)."
  }
}

variable "audit_signing_key_secret" {
  description = "Secret (name, key) holding the Ed25519 audit signing key; mounted read-only as a file."
  type = object({
    name = string
    key  = string
  })

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.audit_signing_key_secret.name)) && can(regex("^[-._a-zA-Z0-9]+$", var.audit_signing_key_secret.key))
    error_message = "audit_signing_key_secret needs a Secret name (DNS-1123 subdomain) and a key."
  }
}

variable "database_url_secret" {
  description = "Secret (name, key) holding the audit database URL; exposed as an environment variable."
  type = object({
    name = string
    key  = string
  })

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.database_url_secret.name)) && can(regex("^[-._a-zA-Z0-9]+$", var.database_url_secret.key))
    error_message = "database_url_secret needs a Secret name (DNS-1123 subdomain) and a key."
  }
}

variable "env_names" {
  description = "Environment variable names Bastion reads for the audit database URL and the signing-key file."
  type = object({
    database_url     = string
    signing_key_file = string
  })
  default = {
    database_url     = "BASTION_AUDIT__DSN"
    signing_key_file = "BASTION_AUDIT__SIGNING_KEY_FILE"
  }

  validation {
    condition     = alltrue([for n in values(var.env_names) : can(regex("^[A-Z_][A-Z0-9_]*$", n))])
    error_message = "env_names must be environment variable names (A-Z, 0-9, _)."
  }
}

variable "policy_documents" {
  description = "Policy documents (file name => YAML text) for the policy ConfigMap, mounted read-only at policy_mount_path in every Ray pod; bastion.yaml's policy.files must point there."
  type        = map(string)

  validation {
    condition     = length(var.policy_documents) > 0 && alltrue([for name in keys(var.policy_documents) : can(regex("^[A-Za-z0-9][-._A-Za-z0-9]{0,200}\\.ya?ml$", name))]) && length(join("", values(var.policy_documents))) < 1000000
    error_message = "policy_documents needs at least one document, named like policy.yaml (a ConfigMap key ending in .yaml or .yml), under 1 MB in all."
  }
}

variable "policy_mount_path" {
  description = "Where the policy ConfigMap is mounted (read-only) in every Ray pod; bastion.yaml's policy.files lie under it."
  type        = string
  default     = "/etc/bastion/policy"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+[A-Za-z0-9._-]$", var.policy_mount_path))
    error_message = "policy_mount_path must be an absolute path without a trailing slash."
  }
}
