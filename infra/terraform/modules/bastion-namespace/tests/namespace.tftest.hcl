# terraform test (>= 1.7) / tofu test (>= 1.8) with a mocked kubernetes provider.

mock_provider "kubernetes" {}

variables {
  name               = "bastion"
  operator_namespace = "kuberay-system"
  client_namespaces  = ["ingress-nginx"]
  client_cidrs       = ["192.0.2.0/28"]
  audit_database     = { cidr = "192.0.2.10/32", port = 5432 }
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
  secret_store = {
    name                       = "site-vault"
    refresh_interval           = "1h"
    audit_signing_key_remote   = "bastion/audit"
    audit_signing_key_property = "signing-key"
    database_url_remote        = "bastion/audit-db"
    database_url_property      = "url"
  }
}

run "restricted_and_default_deny" {
  command = plan

  assert {
    condition     = kubernetes_namespace_v1.this.metadata[0].labels["pod-security.kubernetes.io/enforce"] == "restricted"
    error_message = "the namespace must enforce Pod Security restricted"
  }

  assert {
    condition     = kubernetes_network_policy_v1.default_deny.spec[0].policy_types == ["Ingress", "Egress"]
    error_message = "the default policy must deny both directions"
  }

  assert {
    condition     = kubernetes_network_policy_v1.audit_database.spec[0].egress[0].to[0].ip_block[0].cidr == "192.0.2.10/32"
    error_message = "egress must go to the audit database only"
  }

  assert {
    condition     = length(kubernetes_network_policy_v1.clients) == 1
    error_message = "listed clients get an allow policy"
  }

  assert {
    condition     = kubernetes_service_account_v1.bastion.automount_service_account_token == false
    error_message = "the service account must not mount an API token"
  }

  assert {
    condition     = kubernetes_resource_quota_v1.bastion.spec[0].hard["services.loadbalancers"] == "0"
    error_message = "no load balancers in the namespace"
  }

  assert {
    condition     = length(kubernetes_manifest.external_secret) == 2
    error_message = "both secrets come from ExternalSecrets"
  }
}

run "no_clients_means_no_allow_policy" {
  command = plan

  variables {
    client_namespaces = []
    client_cidrs      = []
  }

  assert {
    condition     = length(kubernetes_network_policy_v1.clients) == 0
    error_message = "an ingress rule without sources would allow everyone: it must not be created"
  }
}

run "existing_secrets_create_nothing" {
  command = plan

  variables {
    secret_source = "existing"
    secret_store  = null
  }

  assert {
    condition     = length(kubernetes_manifest.external_secret) == 0
    error_message = "pre-existing secrets are referenced, not created"
  }
}

run "external_secrets_without_a_store_are_refused" {
  command = plan

  variables {
    secret_store = null
  }

  expect_failures = [kubernetes_manifest.external_secret]
}

run "internet_wide_clients_are_refused" {
  command = plan

  variables {
    client_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.client_cidrs]
}

run "wide_audit_database_range_is_refused" {
  command = plan

  variables {
    audit_database = { cidr = "10.0.0.0/8", port = 5432 }
  }

  expect_failures = [var.audit_database]
}
