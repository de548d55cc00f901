output "namespace" {
  description = "Namespace the KubeRay operator runs in (allowed to reach the Ray head in the Bastion namespace)."
  value       = helm_release.kuberay_operator.namespace
}

output "chart_version" {
  description = "Deployed kuberay-operator chart version."
  value       = helm_release.kuberay_operator.version
}
