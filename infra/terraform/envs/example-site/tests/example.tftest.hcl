# terraform test (>= 1.7) / tofu test (>= 1.8) of the composed example with mocked providers.
# Variables come from terraform.tfvars beside the configuration.

mock_provider "kubernetes" {}
mock_provider "helm" {}

run "composes_two_sites" {
  command = plan

  assert {
    condition     = output.namespace == "bastion"
    error_message = "the example runs in the bastion namespace"
  }

  assert {
    condition     = output.endpoint == "http://bastion-serve-svc.bastion.svc.cluster.local:8000/v1"
    error_message = "unexpected endpoint"
  }

  assert {
    condition     = output.site_resources == { "de-fra-1" = "site:de-fra-1", "de-muc-1" = "site:de-muc-1" }
    error_message = "each site's workers advertise site:<id>"
  }
}

run "unknown_site_id_shape_is_refused" {
  command = plan

  variables {
    head_site = "DE_FRA_1"
  }

  expect_failures = [var.head_site]
}
