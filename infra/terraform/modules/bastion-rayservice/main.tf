# Bastion as a KubeRay RayService: a head and one worker group per site. Each group is pinned to
# its site twice (the platform's site label and an admin-only node-restriction label) and
# advertises the Ray resource site:<id> that the Serve config's ModelServer deployments require,
# so a model pinned to a site cannot be scheduled anywhere else.
#
# Every pod mounts the policy documents (a ConfigMap, read-only) and gets the PostgreSQL DSN from
# a Secret (env valueFrom, never a literal): API keys, the policy in force and the audit log live
# in that database, so no per-pod file decides a request. The data folder is pod-local scratch.
locals {
  serve_config = yamldecode(var.serve_config_yaml)

  # Bastion's settings inside the Serve config (`bastion serve-config` puts them in args).
  settings     = try(local.serve_config.applications[0].args.settings, {})
  policy_files = try(local.settings.policy.files, [])
  policy_files_outside_mount = [
    for f in local.policy_files : f
    if !(f == var.policy_mount_path || startswith(f, "${var.policy_mount_path}/"))
  ]
  state_store       = try(local.settings.audit.store, "sqlite")
  dsn_in_config     = try(local.settings.audit.dsn, null) != null
  data_dir          = try(local.settings.data_dir, "/var/lib/bastion")
  policy_config_map = "${var.name}-policy"

  # Ray custom resource amount a site's node advertises; a ModelServer asks for a tiny fraction.
  site_resource_amount = 1000

  # Sites the Serve config's deployments require (ray_actor_options.resources "site:<id>").
  required_sites = toset(flatten([
    for app in try(local.serve_config.applications, []) : [
      for d in try(app.deployments, []) : [
        for r in keys(try(d.ray_actor_options.resources, {})) : trimprefix(r, "site:") if startswith(r, "site:")
      ]
    ]
  ]))
  missing_sites = setsubtract(local.required_sites, keys(var.sites))

  # GPUs each site-pinned deployment asks for per replica, to compare with the site's workers.
  gpu_demands = flatten([
    for app in try(local.serve_config.applications, []) : [
      for d in try(app.deployments, []) : [
        for r in keys(try(d.ray_actor_options.resources, {})) : {
          deployment = d.name
          site       = trimprefix(r, "site:")
          gpus       = try(d.ray_actor_options.num_gpus, 0)
        } if startswith(r, "site:")
      ]
    ]
  ])
  oversized = [
    for g in local.gpu_demands : "${g.deployment} needs ${g.gpus} GPUs, ${g.site} workers have ${try(var.sites[g.site].gpus_per_worker, 0)}"
    if g.gpus > try(var.sites[g.site].gpus_per_worker, 0)
  ]

  pod_security_context = {
    runAsNonRoot   = true
    runAsUser      = 1000
    runAsGroup     = 100
    fsGroup        = 100
    seccompProfile = { type = "RuntimeDefault" }
  }
  container_security_context = {
    allowPrivilegeEscalation = false
    runAsNonRoot             = true
    capabilities             = { drop = ["ALL"] }
  }

  signing_key_dir = "/var/run/secrets/bastion/audit"

  common_env = [
    { name = "HF_HUB_OFFLINE", value = "1" },
    { name = "TRANSFORMERS_OFFLINE", value = "1" },
    { name = "RAY_USAGE_STATS_ENABLED", value = "0" },
    # Serve's HTTP proxies on every node issue Bastion's own x-request-id (never the client's).
    { name = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH", value = "serving.http.request_id:ray_middlewares" },
    { name = var.env_names.signing_key_file, value = "${local.signing_key_dir}/${var.audit_signing_key_secret.key}" },
    {
      name = var.env_names.database_url
      valueFrom = {
        secretKeyRef = { name = var.database_url_secret.name, key = var.database_url_secret.key }
      }
    },
  ]

  common_volumes = [
    { name = "dshm", emptyDir = { medium = "Memory" } },
    { name = "audit-signing-key", secret = { secretName = var.audit_signing_key_secret.name, defaultMode = 288 } }, # 0440
    { name = "policy", configMap = { name = local.policy_config_map, defaultMode = 292 } },                         # 0444
    { name = "bastion-data", emptyDir = {} },
  ]
  common_mounts = [
    { name = "dshm", mountPath = "/dev/shm" },
    { name = "audit-signing-key", mountPath = local.signing_key_dir, readOnly = true },
    { name = "policy", mountPath = var.policy_mount_path, readOnly = true },
    { name = "bastion-data", mountPath = local.data_dir },
  ]

  # Required (not preferred) node affinity: the site label and the admin-only label must both match.
  site_affinity = {
    for site_id in setunion(keys(var.sites), [var.head_site]) : site_id => {
      nodeAffinity = {
        requiredDuringSchedulingIgnoredDuringExecution = {
          nodeSelectorTerms = [{
            matchExpressions = [
              { key = var.site_label_key, operator = "In", values = [site_id] },
              { key = var.restricted_site_label_key, operator = "In", values = [site_id] },
            ]
          }]
        }
      }
    }
  }

  head_group = {
    rayStartParams = {
      "dashboard-host" = "0.0.0.0"
      "num-gpus"       = "0"
    }
    template = {
      metadata = { labels = { "bastion.io/site" = var.head_site } }
      spec = {
        serviceAccountName           = var.service_account_name
        automountServiceAccountToken = false
        securityContext              = local.pod_security_context
        affinity                     = local.site_affinity[var.head_site]
        containers = [{
          name            = "ray-head"
          image           = var.image
          securityContext = local.container_security_context
          env             = concat(local.common_env, [{ name = "BASTION_SITE", value = var.head_site }])
          ports = [
            { name = "gcs-server", containerPort = 6379 },
            { name = "dashboard", containerPort = 8265 },
            { name = "client", containerPort = 10001 },
            { name = "serve", containerPort = var.serve_port },
          ]
          resources = {
            requests = { cpu = var.head.cpu, memory = var.head.memory }
            limits   = { cpu = var.head.cpu, memory = var.head.memory }
          }
          volumeMounts = local.common_mounts
        }]
        volumes = local.common_volumes
      }
    }
  }

  worker_groups = [
    for site_id, site in var.sites : {
      groupName   = "site-${site_id}"
      replicas    = site.replicas
      minReplicas = site.replicas
      maxReplicas = site.replicas
      rayStartParams = {
        # KubeRay passes this to `ray start --resources`, a JSON object inside a quoted string.
        resources = jsonencode(jsonencode({ "site:${site_id}" = local.site_resource_amount }))
      }
      template = {
        metadata = { labels = { "bastion.io/site" = site_id } }
        spec = {
          serviceAccountName           = var.service_account_name
          automountServiceAccountToken = false
          securityContext              = local.pod_security_context
          affinity                     = local.site_affinity[site_id]
          tolerations                  = var.gpu_tolerations
          containers = [{
            name            = "ray-worker"
            image           = var.image
            securityContext = local.container_security_context
            env             = concat(local.common_env, [{ name = "BASTION_SITE", value = site_id }])
            resources = {
              requests = merge({ cpu = site.cpu, memory = site.memory }, site.gpus_per_worker > 0 ? { (site.gpu_resource) = tostring(site.gpus_per_worker) } : {})
              limits   = merge({ cpu = site.cpu, memory = site.memory }, site.gpus_per_worker > 0 ? { (site.gpu_resource) = tostring(site.gpus_per_worker) } : {})
            }
            volumeMounts = concat(local.common_mounts, [
              { name = "model-weights", mountPath = var.weights_mount_path, readOnly = true },
            ])
          }]
          volumes = concat(local.common_volumes, [{
            name = "model-weights"
            persistentVolumeClaim = {
              claimName = kubernetes_persistent_volume_claim_v1.weights[site_id].metadata[0].name
              readOnly  = true
            }
          }])
        }
      }
    }
  ]
}

# Policy documents, mounted read-only in every pod at policy_mount_path. Changing them updates the
# mounted files in place (no pod restart); `bastion policy reload` or POST
# /v1/admin/policy/reload then publishes them to every ingress replica through the database.
resource "kubernetes_config_map_v1" "policy" {
  metadata {
    name      = local.policy_config_map
    namespace = var.namespace
    labels    = { "app.kubernetes.io/part-of" = "bastion" }
  }
  data = var.policy_documents
}

# Model weights: one claim per site, provisioned by that site's own StorageClass, so weights
# never leave the site's storage. Filled out of band (see infra/terraform/README.md).
resource "kubernetes_persistent_volume_claim_v1" "weights" {
  for_each = var.sites

  metadata {
    name      = "${var.name}-weights-${each.key}"
    namespace = var.namespace
    labels    = { "bastion.io/site" = each.key }
  }
  spec {
    access_modes       = [each.value.weights.access_mode]
    storage_class_name = each.value.weights.storage_class
    resources {
      requests = { storage = each.value.weights.size }
    }
  }
  wait_until_bound = false
}

resource "kubernetes_manifest" "rayservice" {
  manifest = {
    apiVersion = "ray.io/v1"
    kind       = "RayService"
    metadata = {
      name      = var.name
      namespace = var.namespace
      labels    = { "app.kubernetes.io/part-of" = "bastion" }
    }
    spec = {
      serveConfigV2 = var.serve_config_yaml
      rayClusterConfig = {
        rayVersion              = var.ray_version
        enableInTreeAutoscaling = false
        headGroupSpec           = local.head_group
        workerGroupSpecs        = local.worker_groups
      }
    }
  }

  field_manager {
    force_conflicts = true
  }

  # The pods mount the policy ConfigMap by name.
  depends_on = [kubernetes_config_map_v1.policy]

  lifecycle {
    precondition {
      condition     = contains(keys(var.sites), var.head_site)
      error_message = "head_site must be one of the sites."
    }
    precondition {
      condition     = length(local.missing_sites) == 0
      error_message = "The Serve config pins deployments to sites without a worker group: ${join(", ", local.missing_sites)}."
    }
    precondition {
      condition     = length(local.oversized) == 0
      error_message = "Deployments need more GPUs than their site's workers have: ${join("; ", local.oversized)}."
    }
    precondition {
      condition     = length(local.policy_files) > 0 && length(local.policy_files_outside_mount) == 0
      error_message = "bastion.yaml's policy.files must name the mounted policy documents (under ${var.policy_mount_path}); found: ${join(", ", local.policy_files)}."
    }
    precondition {
      condition     = local.state_store == "postgres"
      error_message = "A RayService keeps API keys, the policy in force and the audit log in PostgreSQL: set audit.store: postgres in bastion.yaml (the DSN comes from database_url_secret)."
    }
    precondition {
      condition     = !local.dsn_in_config
      error_message = "The Serve config carries audit.dsn: remove it from bastion.yaml; the DSN comes from database_url_secret (BASTION_AUDIT__DSN), never from code or the Terraform state."
    }
  }
}
