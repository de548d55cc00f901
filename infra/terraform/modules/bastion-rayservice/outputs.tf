output "name" {
  description = "Name of the RayService."
  value       = kubernetes_manifest.rayservice.manifest.metadata.name
}

output "serve_service" {
  description = "Kubernetes Service KubeRay creates for the Serve endpoint."
  value       = "${var.name}-serve-svc"
}

output "endpoint" {
  description = "In-cluster base URL of Bastion's OpenAI-compatible API."
  value       = "http://${var.name}-serve-svc.${var.namespace}.svc.cluster.local:${var.serve_port}/v1"
}

output "site_resources" {
  description = "Ray resource each site's worker group advertises, keyed by site id."
  value       = { for site_id in keys(var.sites) : site_id => "site:${site_id}" }
}

output "weights_claims" {
  description = "Model-weights PersistentVolumeClaim per site."
  value       = { for site_id, pvc in kubernetes_persistent_volume_claim_v1.weights : site_id => pvc.metadata[0].name }
}

output "policy_config_map" {
  description = "ConfigMap holding the policy documents, mounted read-only at policy_mount_path."
  value       = kubernetes_config_map_v1.policy.metadata[0].name
}
