# Example values for two sites. Replace registry, CIDRs and store names with the site's own.
image       = "registry.bastion.internal/bastion/bastion:0.1.0-ray2.49.1"
ray_version = "2.49.1"

helm_repositories = {
  kuberay      = "oci://registry.bastion.internal/helm/kuberay"
  gpu_operator = "oci://registry.bastion.internal/helm/nvidia"
}

head_site = "de-fra-1"

sites = {
  "de-fra-1" = {
    replicas        = 1
    gpus_per_worker = 1
    cpu             = "8"
    memory          = "64Gi"
    weights = {
      storage_class = "fra-ceph-rbd-ro"
      size          = "200Gi"
      access_mode   = "ReadOnlyMany"
    }
  }
  "de-muc-1" = {
    replicas        = 1
    gpus_per_worker = 1
    cpu             = "8"
    memory          = "64Gi"
    weights = {
      storage_class = "muc-netapp-nfs"
      size          = "200Gi"
      access_mode   = "ReadOnlyMany"
    }
  }
}

client_namespaces = ["ingress-nginx"]
client_cidrs      = ["192.0.2.0/28"]

# Documentation address (RFC 5737): put the audit PostgreSQL server's address here.
audit_database = {
  cidr = "192.0.2.10/32"
  port = 5432
}

secret_store = {
  name                       = "site-vault"
  refresh_interval           = "1h"
  audit_signing_key_remote   = "bastion/audit"
  audit_signing_key_property = "signing-key"
  database_url_remote        = "bastion/audit-db"
  database_url_property      = "url"
}

quota = {
  requests_cpu    = "40"
  requests_memory = "256Gi"
  limits_cpu      = "40"
  limits_memory   = "256Gi"
  gpus            = 2
  pods            = 20
  pvcs            = 4
  storage         = "1Ti"
}
