# NVIDIA GPU Operator: device plugin, container toolkit, DCGM exporter and (optionally) the driver.
locals {
  # With a mirror, every image the operator deploys is pulled from it; otherwise the chart's defaults.
  repository = var.image_registry == "" ? {} : { repository = var.image_registry }

  values = {
    operator           = local.repository
    validator          = local.repository
    driver             = merge({ enabled = var.driver_enabled }, local.repository)
    toolkit            = merge({ enabled = var.toolkit_enabled }, local.repository)
    devicePlugin       = local.repository
    dcgmExporter       = local.repository
    gfd                = local.repository
    migManager         = local.repository
    nodeStatusExporter = local.repository
    daemonsets = {
      nodeSelector = var.gpu_node_selector
    }
  }
}

resource "helm_release" "gpu_operator" {
  name             = "gpu-operator"
  namespace        = var.namespace
  create_namespace = true
  repository       = var.chart_repository
  chart            = "gpu-operator"
  version          = var.chart_version
  atomic           = true
  wait             = true
  timeout          = 900

  values = [yamlencode(local.values)]
}
