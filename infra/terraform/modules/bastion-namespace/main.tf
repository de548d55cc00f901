# The namespace Bastion runs in: Pod Security "restricted", default-deny network, exact allows,
# a quota, a token-less service account, and secrets that come from the site's secret store.
locals {
  # Every pod KubeRay creates for the RayService carries this label.
  ray_pods = { "app.kubernetes.io/created-by" = "kuberay-operator" }

  secret_keys = {
    audit_signing_key = "signing-key"
    database_url      = "url"
  }

  external_secrets = var.secret_source == "external-secrets" ? {
    (var.audit_signing_key_secret_name) = {
      secret_key = local.secret_keys.audit_signing_key
      remote     = try(var.secret_store.audit_signing_key_remote, "")
      property   = try(var.secret_store.audit_signing_key_property, "")
    }
    (var.database_url_secret_name) = {
      secret_key = local.secret_keys.database_url
      remote     = try(var.secret_store.database_url_remote, "")
      property   = try(var.secret_store.database_url_property, "")
    }
  } : {}
}

resource "kubernetes_namespace_v1" "this" {
  metadata {
    name = var.name
    labels = {
      "app.kubernetes.io/part-of"                  = "bastion"
      "pod-security.kubernetes.io/enforce"         = "restricted"
      "pod-security.kubernetes.io/enforce-version" = var.pod_security_version
      "pod-security.kubernetes.io/audit"           = "restricted"
      "pod-security.kubernetes.io/audit-version"   = var.pod_security_version
      "pod-security.kubernetes.io/warn"            = "restricted"
      "pod-security.kubernetes.io/warn-version"    = var.pod_security_version
    }
  }
}

resource "kubernetes_service_account_v1" "bastion" {
  metadata {
    name      = "bastion"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  # Bastion never talks to the Kubernetes API.
  automount_service_account_token = false
}

resource "kubernetes_resource_quota_v1" "bastion" {
  metadata {
    name      = "bastion"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    hard = {
      "requests.cpu"            = var.quota.requests_cpu
      "requests.memory"         = var.quota.requests_memory
      "limits.cpu"              = var.quota.limits_cpu
      "limits.memory"           = var.quota.limits_memory
      "requests.nvidia.com/gpu" = tostring(var.quota.gpus)
      "pods"                    = tostring(var.quota.pods)
      "persistentvolumeclaims"  = tostring(var.quota.pvcs)
      "requests.storage"        = var.quota.storage
      # Bastion is reached through the listed clients only: no node ports, no load balancers.
      "services.nodeports"     = "0"
      "services.loadbalancers" = "0"
    }
  }
}

# --- Network: deny everything, then allow exactly what Bastion needs. ---

resource "kubernetes_network_policy_v1" "default_deny" {
  metadata {
    name      = "default-deny-all"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    pod_selector {}
    policy_types = ["Ingress", "Egress"]
  }
}

# Ray head and workers talk to each other (GCS, raylets, object transfer) on many ports.
resource "kubernetes_network_policy_v1" "ray_internal" {
  metadata {
    name      = "allow-ray-internal"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    pod_selector {
      match_labels = local.ray_pods
    }
    policy_types = ["Ingress", "Egress"]
    ingress {
      from {
        pod_selector {
          match_labels = local.ray_pods
        }
      }
    }
    egress {
      to {
        pod_selector {
          match_labels = local.ray_pods
        }
      }
    }
  }
}

# Clients reach the Serve endpoint only from the listed namespaces and CIDRs. Without any listed
# client the policy is not created at all (an ingress rule without `from` would allow everyone).
resource "kubernetes_network_policy_v1" "clients" {
  count = length(var.client_namespaces) + length(var.client_cidrs) > 0 ? 1 : 0

  metadata {
    name      = "allow-clients-to-serve"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    pod_selector {
      match_labels = local.ray_pods
    }
    policy_types = ["Ingress"]
    ingress {
      dynamic "from" {
        for_each = length(var.client_namespaces) > 0 ? [var.client_namespaces] : []
        content {
          namespace_selector {
            match_expressions {
              key      = "kubernetes.io/metadata.name"
              operator = "In"
              values   = from.value
            }
          }
        }
      }
      dynamic "from" {
        for_each = var.client_cidrs
        content {
          ip_block {
            cidr = from.value
          }
        }
      }
      ports {
        port     = tostring(var.serve_port)
        protocol = "TCP"
      }
    }
  }
}

# The KubeRay operator polls the head's dashboard (Serve status, deploys the Serve config).
resource "kubernetes_network_policy_v1" "operator" {
  metadata {
    name      = "allow-kuberay-operator"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    pod_selector {
      match_labels = merge(local.ray_pods, { "ray.io/node-type" = "head" })
    }
    policy_types = ["Ingress"]
    ingress {
      from {
        namespace_selector {
          match_labels = { "kubernetes.io/metadata.name" = var.operator_namespace }
        }
      }
      dynamic "ports" {
        for_each = toset(["8265", "52365", tostring(var.serve_port)])
        content {
          port     = ports.value
          protocol = "TCP"
        }
      }
    }
  }
}

resource "kubernetes_network_policy_v1" "dns" {
  metadata {
    name      = "allow-egress-dns"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    pod_selector {}
    policy_types = ["Egress"]
    egress {
      to {
        namespace_selector {
          match_labels = { "kubernetes.io/metadata.name" = var.dns.namespace }
        }
        pod_selector {
          match_labels = var.dns.pod_labels
        }
      }
      ports {
        port     = "53"
        protocol = "UDP"
      }
      ports {
        port     = "53"
        protocol = "TCP"
      }
    }
  }
}

resource "kubernetes_network_policy_v1" "audit_database" {
  metadata {
    name      = "allow-egress-audit-database"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    pod_selector {
      match_labels = local.ray_pods
    }
    policy_types = ["Egress"]
    egress {
      to {
        ip_block {
          cidr = var.audit_database.cidr
        }
      }
      ports {
        port     = tostring(var.audit_database.port)
        protocol = "TCP"
      }
    }
  }
}

# --- Secrets: references only. The values live in the site's secret store. ---

resource "kubernetes_manifest" "external_secret" {
  for_each = local.external_secrets

  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata = {
      name      = each.key
      namespace = kubernetes_namespace_v1.this.metadata[0].name
    }
    spec = {
      refreshInterval = try(var.secret_store.refresh_interval, "1h")
      secretStoreRef = {
        kind = "ClusterSecretStore"
        name = try(var.secret_store.name, "")
      }
      target = {
        name           = each.key
        creationPolicy = "Owner"
      }
      data = [{
        secretKey = each.value.secret_key
        remoteRef = {
          key      = each.value.remote
          property = each.value.property
        }
      }]
    }
  }

  lifecycle {
    precondition {
      condition     = var.secret_store != null
      error_message = "secret_source = \"external-secrets\" needs secret_store (store name and remote keys)."
    }
  }
}
