output "endpoint" {
  description = "In-cluster base URL of Bastion's OpenAI-compatible API (front it with the site's TLS ingress)."
  value       = module.bastion_rayservice.endpoint
}

output "namespace" {
  description = "Namespace Bastion runs in."
  value       = module.bastion_namespace.name
}

output "site_resources" {
  description = "Ray resource each site's worker group advertises."
  value       = module.bastion_rayservice.site_resources
}
