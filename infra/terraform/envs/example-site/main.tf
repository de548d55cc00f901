# Example: Bastion on an on-prem cluster spanning two sites (de-fra-1, de-muc-1).
# serve-config.yaml is generated from bastion.yaml (`bastion serve-config --config bastion.yaml`)
# and must be regenerated whenever bastion.yaml changes; tests/infra checks that it is current.

module "gpu_operator" {
  source = "../../modules/gpu-operator"

  chart_repository = var.helm_repositories.gpu_operator
  chart_version    = var.gpu_operator_chart_version
  driver_enabled   = var.install_gpu_driver
}

module "bastion_namespace" {
  source = "../../modules/bastion-namespace"

  name               = var.namespace
  operator_namespace = "kuberay-system"
  client_namespaces  = var.client_namespaces
  client_cidrs       = var.client_cidrs
  audit_database     = var.audit_database
  quota              = var.quota
  secret_source      = "external-secrets"
  secret_store       = var.secret_store
}

module "kuberay_operator" {
  source = "../../modules/kuberay-operator"

  namespace        = "kuberay-system"
  watch_namespaces = [module.bastion_namespace.name]
  chart_repository = var.helm_repositories.kuberay
  chart_version    = var.kuberay_chart_version
}

module "bastion_rayservice" {
  source = "../../modules/bastion-rayservice"

  namespace                = module.bastion_namespace.name
  service_account_name     = module.bastion_namespace.service_account_name
  audit_signing_key_secret = module.bastion_namespace.audit_signing_key_secret
  database_url_secret      = module.bastion_namespace.database_url_secret
  serve_config_yaml        = file("${path.module}/serve-config.yaml")
  image                    = var.image
  ray_version              = var.ray_version
  head_site                = var.head_site
  sites                    = var.sites

  # Mounted at /etc/bastion/policy, which bastion.yaml's policy.files names.
  policy_documents = { for f in fileset("${path.module}/policy", "*.yaml") : f => file("${path.module}/policy/${f}") }

  # The RayService CRD comes with the KubeRay chart; GPUs are advertised once the operator runs.
  depends_on = [module.kuberay_operator, module.gpu_operator]
}
