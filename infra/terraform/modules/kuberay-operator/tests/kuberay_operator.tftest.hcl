mock_provider "helm" {}

variables {
  watch_namespaces = ["bastion"]
}

run "namespace_scoped" {
  command = plan

  assert {
    condition     = yamldecode(helm_release.kuberay_operator.values[0]).singleNamespaceInstall == true
    error_message = "the operator must get Roles, not ClusterRoles"
  }

  assert {
    condition     = yamldecode(helm_release.kuberay_operator.values[0]).watchNamespace == ["bastion"]
    error_message = "the operator watches only Bastion's namespace"
  }
}

run "default_namespace_is_refused" {
  command = plan

  variables {
    watch_namespaces = ["default"]
  }

  expect_failures = [var.watch_namespaces]
}
