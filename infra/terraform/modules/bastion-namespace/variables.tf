variable "name" {
  description = "Namespace Bastion runs in."
  type        = string
  default     = "bastion"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.name)) && !contains(["default", "kube-system", "kube-public"], var.name)
    error_message = "name must be a DNS-1123 label and not default, kube-system or kube-public."
  }
}

variable "pod_security_version" {
  description = "Kubernetes minor version of the Pod Security \"restricted\" profile to enforce (e.g. v1.30), pinned so an upgrade cannot loosen it silently."
  type        = string
  default     = "v1.30"

  validation {
    condition     = can(regex("^v1\\.[0-9]+$", var.pod_security_version))
    error_message = "pod_security_version must look like v1.30."
  }
}

variable "serve_port" {
  description = "Port of Bastion's HTTP endpoint (Ray Serve proxy) that clients may reach."
  type        = number
  default     = 8000

  validation {
    condition     = var.serve_port >= 1 && var.serve_port <= 65535
    error_message = "serve_port must be a TCP port (1-65535)."
  }
}

variable "client_namespaces" {
  description = "Namespaces whose pods may call Bastion's endpoint (e.g. the ingress controller's, the EHR plug-in's)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for ns in var.client_namespaces : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", ns))])
    error_message = "client_namespaces must be DNS-1123 namespace names."
  }
}

variable "client_cidrs" {
  description = "Source CIDRs (outside the cluster's pod network) that may call Bastion's endpoint. Never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.client_cidrs : can(cidrhost(c, 0)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "client_cidrs must be valid CIDRs and must not be 0.0.0.0/0 or ::/0."
  }
}

variable "operator_namespace" {
  description = "Namespace of the KubeRay operator, allowed to reach the Ray head's dashboard and Serve ports for health and deploys."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.operator_namespace))
    error_message = "operator_namespace must be a DNS-1123 namespace name."
  }
}

variable "audit_database" {
  description = "Where the audit database (PostgreSQL) lives: the only egress destination besides DNS. One host or a small range, never the internet."
  type = object({
    cidr = string
    port = number
  })

  validation {
    condition = (
      can(cidrhost(var.audit_database.cidr, 0)) &&
      try(tonumber(split("/", var.audit_database.cidr)[1]) >= 24, false) &&
      var.audit_database.port >= 1 && var.audit_database.port <= 65535
    )
    error_message = "audit_database.cidr must be a CIDR of /24 or narrower and audit_database.port a TCP port."
  }
}

variable "dns" {
  description = "Cluster DNS pods the namespace may resolve names with (namespace and pod labels)."
  type = object({
    namespace  = string
    pod_labels = map(string)
  })
  default = {
    namespace  = "kube-system"
    pod_labels = { "k8s-app" = "kube-dns" }
  }

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.dns.namespace)) && length(var.dns.pod_labels) > 0
    error_message = "dns.namespace must be a namespace name and dns.pod_labels must select the DNS pods."
  }
}

variable "quota" {
  description = "ResourceQuota for the namespace: total requests/limits and object counts."
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

variable "secret_source" {
  description = "How the audit signing key and database URL reach the namespace: \"external-secrets\" (ExternalSecret objects reading a ClusterSecretStore, e.g. Vault) or \"existing\" (Secrets an operator created out of band). Terraform never holds the values."
  type        = string
  default     = "external-secrets"

  validation {
    condition     = contains(["external-secrets", "existing"], var.secret_source)
    error_message = "secret_source must be \"external-secrets\" or \"existing\"."
  }
}

variable "secret_store" {
  description = "For secret_source = external-secrets: the ClusterSecretStore to read from, and the remote keys/properties of the two secrets."
  type = object({
    name                       = string
    refresh_interval           = string
    audit_signing_key_remote   = string
    audit_signing_key_property = string
    database_url_remote        = string
    database_url_property      = string
  })
  default = null

  validation {
    # try(): a null store has no values; that case is checked where the store is needed.
    condition     = try(alltrue([for v in values(var.secret_store) : length(v) > 0]), var.secret_store == null)
    error_message = "secret_store fields must all be non-empty."
  }
}

variable "audit_signing_key_secret_name" {
  description = "Name of the Kubernetes Secret holding the Ed25519 audit signing key (key \"signing-key\"); created by the ExternalSecret, or pre-existing."
  type        = string
  default     = "bastion-audit-signing-key"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.audit_signing_key_secret_name))
    error_message = "audit_signing_key_secret_name must be a DNS-1123 subdomain."
  }
}

variable "database_url_secret_name" {
  description = "Name of the Kubernetes Secret holding the audit database URL (key \"url\"); created by the ExternalSecret, or pre-existing."
  type        = string
  default     = "bastion-audit-database"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.database_url_secret_name))
    error_message = "database_url_secret_name must be a DNS-1123 subdomain."
  }
}
