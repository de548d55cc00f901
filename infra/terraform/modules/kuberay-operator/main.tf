# KubeRay operator, scoped to the namespaces it manages: Roles instead of ClusterRoles.
locals {
  values = merge(
    {
      singleNamespaceInstall = true
      watchNamespace         = var.watch_namespaces
      rbacEnable             = true
      crd                    = { create = true }
      securityContext = {
        allowPrivilegeEscalation = false
        readOnlyRootFilesystem   = true
        runAsNonRoot             = true
        capabilities             = { drop = ["ALL"] }
        seccompProfile           = { type = "RuntimeDefault" }
      }
    },
    var.image_repository == "" ? {} : { image = { repository = var.image_repository } },
  )
}

resource "helm_release" "kuberay_operator" {
  name             = "kuberay-operator"
  namespace        = var.namespace
  create_namespace = true
  repository       = var.chart_repository
  chart            = "kuberay-operator"
  version          = var.chart_version
  atomic           = true
  wait             = true
  timeout          = 600

  values = [yamlencode(local.values)]
}
