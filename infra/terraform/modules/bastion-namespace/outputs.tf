output "name" {
  description = "The Bastion namespace."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}

output "service_account_name" {
  description = "Service account the Ray pods run as (no API token mounted)."
  value       = kubernetes_service_account_v1.bastion.metadata[0].name
}

output "audit_signing_key_secret" {
  description = "Secret (name and key) holding the audit signing key."
  value = {
    name = var.audit_signing_key_secret_name
    key  = local.secret_keys.audit_signing_key
  }
}

output "database_url_secret" {
  description = "Secret (name and key) holding the audit database URL."
  value = {
    name = var.database_url_secret_name
    key  = local.secret_keys.database_url
  }
}

output "network_policies" {
  description = "Names of the NetworkPolicies in the namespace."
  value = concat(
    [
      kubernetes_network_policy_v1.default_deny.metadata[0].name,
      kubernetes_network_policy_v1.ray_internal.metadata[0].name,
      kubernetes_network_policy_v1.operator.metadata[0].name,
      kubernetes_network_policy_v1.dns.metadata[0].name,
      kubernetes_network_policy_v1.audit_database.metadata[0].name,
    ],
    [for p in kubernetes_network_policy_v1.clients : p.metadata[0].name],
  )
}
