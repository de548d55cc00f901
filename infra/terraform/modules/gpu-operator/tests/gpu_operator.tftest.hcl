mock_provider "helm" {}

run "driver_off_by_default_and_pinned" {
  command = plan

  assert {
    condition     = helm_release.gpu_operator.version == "v25.3.2"
    error_message = "chart must be pinned"
  }

  assert {
    condition     = yamldecode(helm_release.gpu_operator.values[0]).driver.enabled == false
    error_message = "driver install is off unless asked for"
  }
}

run "mirror_keeps_driver_switch" {
  command = plan

  variables {
    driver_enabled = true
    image_registry = "registry.bastion.internal/nvidia"
  }

  assert {
    condition     = yamldecode(helm_release.gpu_operator.values[0]).driver == { enabled = true, repository = "registry.bastion.internal/nvidia" }
    error_message = "the mirror must not drop the driver switch"
  }
}

run "version_range_is_refused" {
  command = plan

  variables {
    chart_version = "~> 25.3"
  }

  expect_failures = [var.chart_version]
}
