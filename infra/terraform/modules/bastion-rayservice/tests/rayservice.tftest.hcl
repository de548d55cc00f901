# terraform test (>= 1.7) / tofu test (>= 1.8) with a mocked kubernetes provider: no cluster needed.

mock_provider "kubernetes" {}

variables {
  namespace            = "bastion"
  service_account_name = "bastion"
  image                = "registry.bastion.internal/bastion/bastion:0.1.0-ray2.49.1"
  ray_version          = "2.49.1"
  head_site            = "de-fra-1"
  audit_signing_key_secret = {
    name = "bastion-audit-signing-key"
    key  = "signing-key"
  }
  database_url_secret = {
    name = "bastion-audit-database"
    key  = "url"
  }
  sites = {
    "de-fra-1" = {
      replicas        = 2
      gpus_per_worker = 1
      cpu             = "8"
      memory          = "64Gi"
      weights         = { storage_class = "fra-ceph", size = "200Gi" }
    }
    "de-muc-1" = {
      replicas        = 1
      gpus_per_worker = 2
      cpu             = "16"
      memory          = "128Gi"
      weights         = { storage_class = "muc-nfs", size = "300Gi", access_mode = "ReadWriteMany" }
    }
  }
  policy_documents = {
    "policy.yaml" = "sites: []\n"
  }
  serve_config_yaml = <<-EOT
    applications:
    - name: bastion
      route_prefix: /
      import_path: serving.app:build_app_from_args
      args:
        settings:
          data_dir: /var/lib/bastion
          audit: {store: postgres}
          policy: {files: [/etc/bastion/policy]}
      deployments:
      - name: Ingress
      - name: ModelServer-llama-2025-07
        ray_actor_options:
          num_gpus: 1
          resources:
            "site:de-fra-1": 0.001
      - name: ModelServer-mistral-v0.3
        ray_actor_options:
          num_gpus: 2
          resources:
            "site:de-muc-1": 0.001
  EOT
}

run "one_worker_group_per_site_pinned_to_it" {
  command = plan

  assert {
    condition     = [for g in kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.workerGroupSpecs : g.groupName] == ["site-de-fra-1", "site-de-muc-1"]
    error_message = "expected one worker group per site"
  }

  assert {
    condition = alltrue([
      for g in kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.workerGroupSpecs :
      g.rayStartParams.resources == jsonencode(jsonencode({ (format("site:%s", trimprefix(g.groupName, "site-"))) = 1000 }))
    ])
    error_message = "each worker group must advertise the Ray resource site:<its site>"
  }

  assert {
    condition = alltrue([
      for g in kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.workerGroupSpecs :
      toset([for e in g.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions : "${e.key}=${join(",", e.values)}"])
      == toset(["bastion.io/site=${trimprefix(g.groupName, "site-")}", "node-restriction.kubernetes.io/bastion-site=${trimprefix(g.groupName, "site-")}"])
    ])
    error_message = "each worker group must require both site labels of its own site"
  }

  assert {
    condition     = [for g in kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.workerGroupSpecs : g.template.spec.containers[0].resources.limits["nvidia.com/gpu"]] == ["1", "2"]
    error_message = "workers must request their site's GPUs"
  }

  assert {
    condition     = kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.workerGroupSpecs[0].template.spec.tolerations[0].key == "nvidia.com/gpu"
    error_message = "workers must tolerate the GPU taint"
  }

  assert {
    condition     = kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.headGroupSpec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values == ["de-fra-1"]
    error_message = "the head must be pinned to head_site"
  }

  assert {
    condition     = kubernetes_manifest.rayservice.manifest.spec.serveConfigV2 == var.serve_config_yaml
    error_message = "serveConfigV2 must be the serve config, verbatim"
  }

  assert {
    condition     = kubernetes_persistent_volume_claim_v1.weights["de-muc-1"].spec[0].storage_class_name == "muc-nfs"
    error_message = "each site's weights claim must use that site's StorageClass"
  }

  assert {
    condition     = kubernetes_persistent_volume_claim_v1.weights["de-fra-1"].spec[0].access_modes == toset(["ReadOnlyMany"])
    error_message = "weights default to ReadOnlyMany"
  }

  assert {
    condition     = output.endpoint == "http://bastion-serve-svc.bastion.svc.cluster.local:8000/v1"
    error_message = "unexpected endpoint"
  }
}

run "serve_config_pinning_an_unknown_site_is_refused" {
  command = plan

  variables {
    serve_config_yaml = <<-EOT
      applications:
      - name: bastion
        import_path: serving.app:build_app_from_args
        deployments:
        - name: ModelServer-x-v1
          ray_actor_options:
            resources:
              "site:us-east-1": 0.001
    EOT
  }

  expect_failures = [kubernetes_manifest.rayservice]
}

run "deployment_needing_more_gpus_than_its_site_has_is_refused" {
  command = plan

  variables {
    serve_config_yaml = <<-EOT
      applications:
      - name: bastion
        import_path: serving.app:build_app_from_args
        deployments:
        - name: ModelServer-big-v1
          ray_actor_options:
            num_gpus: 4
            resources:
              "site:de-fra-1": 0.001
    EOT
  }

  expect_failures = [kubernetes_manifest.rayservice]
}

run "head_site_outside_sites_is_refused" {
  command = plan

  variables {
    head_site = "fr-par-1"
  }

  expect_failures = [kubernetes_manifest.rayservice]
}

run "latest_image_is_refused" {
  command = plan

  variables {
    image = "registry.bastion.internal/bastion/bastion:latest"
  }

  expect_failures = [var.image]
}

run "forgeable_restriction_label_is_refused" {
  command = plan

  variables {
    restricted_site_label_key = "bastion.io/site-restricted"
  }

  expect_failures = [var.restricted_site_label_key]
}

run "every_pod_mounts_the_policy_and_reads_the_dsn_from_the_secret" {
  command = plan

  assert {
    condition     = kubernetes_config_map_v1.policy.data == var.policy_documents
    error_message = "the policy ConfigMap must hold the policy documents"
  }

  assert {
    condition = alltrue([
      for spec in concat(
        [kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.headGroupSpec.template.spec],
        [for g in kubernetes_manifest.rayservice.manifest.spec.rayClusterConfig.workerGroupSpecs : g.template.spec]
      ) :
      contains([for v in spec.volumes : try(v.configMap.name, "")], "bastion-policy")
      && contains([for m in spec.containers[0].volumeMounts : "${m.mountPath}:${try(m.readOnly, false)}"], "/etc/bastion/policy:true")
      && contains([for m in spec.containers[0].volumeMounts : m.mountPath], "/var/lib/bastion")
      && [for e in spec.containers[0].env : e.valueFrom.secretKeyRef if e.name == "BASTION_AUDIT__DSN"] == [{ name = "bastion-audit-database", key = "url" }]
      && length([for e in spec.containers[0].env : e if e.name == "BASTION_AUDIT__DSN" && can(e.value)]) == 0
    ])
    error_message = "every pod must mount the policy read-only and the data folder, and take the DSN from the secret"
  }
}

run "policy_files_outside_the_mount_are_refused" {
  command = plan

  variables {
    serve_config_yaml = <<-EOT
      applications:
      - name: bastion
        import_path: serving.app:build_app_from_args
        args:
          settings:
            audit: {store: postgres}
            policy: {files: [/var/lib/bastion/policy.yaml]}
        deployments:
        - name: Ingress
    EOT
  }

  expect_failures = [kubernetes_manifest.rayservice]
}

run "per_pod_sqlite_state_is_refused" {
  command = plan

  variables {
    serve_config_yaml = <<-EOT
      applications:
      - name: bastion
        import_path: serving.app:build_app_from_args
        args:
          settings:
            policy: {files: [/etc/bastion/policy]}
        deployments:
        - name: Ingress
    EOT
  }

  expect_failures = [kubernetes_manifest.rayservice]
}

run "no_policy_documents_are_refused" {
  command = plan

  variables {
    policy_documents = {}
  }

  expect_failures = [var.policy_documents]
}

run "dsn_in_the_serve_config_is_refused" {
  command = plan

  variables {
    serve_config_yaml = <<-EOT
      applications:
      - name: bastion
        import_path: serving.app:build_app_from_args
        args:
          settings:
            audit: {store: postgres, dsn: "postgresql://bastion@db/bastion"}
            policy: {files: [/etc/bastion/policy]}
        deployments:
        - name: Ingress
    EOT
  }

  expect_failures = [kubernetes_manifest.rayservice]
}
