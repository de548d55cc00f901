"""Configuration: YAML + BASTION_* overrides, validated with errors naming the field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serving.config import ConfigError, load_settings


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "bastion.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_defaults_serve_the_bundled_model(monkeypatch):
    for var in ("BASTION_CONFIG", "BASTION_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert [m.key for m in settings.models] == ["smollm2-135m-instruct@v1"]
    assert settings.models[0].engine == "llamacpp" and settings.models[0].path is None
    assert settings.server.port == 8000 and settings.server.host == "127.0.0.1"


def test_yaml_then_env_override(tmp_path, monkeypatch):
    path = _write(
        tmp_path,
        {
            "server": {"port": 9001, "max_body_bytes": 4096},
            "models": [{"name": "m1", "version": "v2", "site": "de-fra-1"}],
        },
    )
    monkeypatch.setenv("BASTION_SERVER__PORT", "9100")
    monkeypatch.setenv("BASTION_DATA_DIR", str(tmp_path / "d"))
    settings = load_settings(path)
    assert settings.server.port == 9100  # env wins
    assert settings.server.max_body_bytes == 4096
    assert settings.data_dir == tmp_path / "d"
    assert settings.models[0].key == "m1@v2" and settings.models[0].site == "de-fra-1"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"server": {"prot": 1}}, "server.prot"),
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"server": {"port": 70000}}, "server.port"),
        ({"models": [{"name": "Bad Name"}]}, "models.0.name"),
        ({"models": [{"name": "a", "engine": "tensorrt"}]}, "models.0.engine"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "duplicate model version a@v1"),
        ({"models": []}, "at least one model"),
        (
            {"ingress": {"autoscaling": {"min_replicas": 3, "max_replicas": 1}}},
            "ingress.autoscaling",
        ),
        ({"telemetry": True}, "telemetry"),
    ],
)
def test_bad_config_names_the_field(tmp_path, data, fragment):
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_env_override_is_validated_too(monkeypatch):
    monkeypatch.setenv("BASTION_SERVER__PORT", "not-a-port")
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_settings()


def test_unreadable_or_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(_write(tmp_path, "a: [1, 2"))
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(_write(tmp_path, "- 1\n- 2\n"))


def test_serve_fails_at_startup_naming_the_field(tmp_path):
    path = _write(tmp_path, {"server": {"port": -1}})
    bastion = Path(sys.executable).parent / "bastion"
    out = subprocess.run(
        [str(bastion), "serve", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "server.port" in out.stderr


def test_serve_config_is_a_ray_serve_config(tmp_path):
    path = _write(
        tmp_path,
        {
            "site": "de-fra-1",
            "models": [
                {
                    "name": "m1",
                    "site": "de-fra-1",
                    "num_gpus": 1,
                    "autoscaling": {"min_replicas": 1, "max_replicas": 4},
                },
                {"name": "m2", "site": "de-muc-1"},
            ],
        },
    )
    bastion = Path(sys.executable).parent / "bastion"
    out = subprocess.run(
        [str(bastion), "serve-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config = yaml.safe_load(out.stdout)
    from ray.serve.schema import ServeDeploySchema

    ServeDeploySchema.model_validate(config)  # Ray's own schema accepts it
    app = config["applications"][0]
    assert app["import_path"] == "serving.app:build_app_from_args"
    deployments = {d["name"]: d for d in app["deployments"]}
    assert set(deployments) == {
        "Ingress",
        "Embedder",
        "AuditSequencer",
        "ModelServer-m1-v1",
        "ModelServer-m2-v1",
    }
    assert deployments["AuditSequencer"]["num_replicas"] == 1
    m1 = deployments["ModelServer-m1-v1"]
    assert m1["ray_actor_options"]["resources"] == {"site:de-fra-1": 0.001}
    assert m1["ray_actor_options"]["num_gpus"] == 1
    assert m1["autoscaling_config"]["max_replicas"] == 4
    assert deployments["ModelServer-m2-v1"]["ray_actor_options"]["resources"] == {
        "site:de-muc-1": 0.001
    }
    env = app["runtime_env"]["env_vars"]
    assert env["HF_HUB_OFFLINE"] == "1"
    # Replicas in a cluster run user code and the router in their main loop, as locally.
    assert env["RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD"] == "0"
    assert env["RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP"] == "0"
    # A cluster keeps Serve's proxies (a Kubernetes Service spreads over them).
    assert "RAY_SERVE_ENABLE_DIRECT_INGRESS" not in env
    assert config["proxy_location"] == "EveryNode"
    assert app["args"]["settings"]["models"][1]["name"] == "m2"


@pytest.mark.parametrize(
    ("server", "ingress", "message"),
    [
        ({}, {"num_replicas": 2}, "server.direct_ingress needs exactly one ingress replica"),
        (
            {},
            {"autoscaling": {"min_replicas": 1, "max_replicas": 3}},
            "server.direct_ingress needs exactly one ingress replica",
        ),
        ({"port": 8123, "proxy_port": 8123}, {}, "server.proxy_port must differ"),
    ],
)
def test_serve_rejects_direct_ingress_it_cannot_provide(tmp_path, server, ingress, message):
    path = _write(tmp_path, {"server": server, "ingress": ingress})
    bastion = Path(sys.executable).parent / "bastion"
    out = subprocess.run(
        [str(bastion), "serve", "--config", str(path), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert message in out.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was created or started


def test_ray_env_leaves_what_the_operator_set(monkeypatch):
    from serving import ray_env

    monkeypatch.setenv("RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP", "1")
    monkeypatch.delenv("RAY_SERVE_LOG_TO_STDERR", raising=False)
    monkeypatch.delenv("RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD", raising=False)
    applied = ray_env.apply(ray_env.SERVE_TUNING_ENV)
    assert applied["RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP"] == "1"
    assert applied["RAY_SERVE_LOG_TO_STDERR"] == "0"
    assert os.environ["RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD"] == "0"


def test_ingress_env_gives_the_ingress_replica_exactly_the_port_or_turns_it_off():
    from serving.ray_env import ingress_env

    env = ingress_env(True, 8000)
    assert env["RAY_SERVE_ENABLE_DIRECT_INGRESS"] == "1"
    # Ray allocates from [min, max): only 8000.
    ports = (
        env["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"],
        env["RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT"],
    )
    assert ports == ("8000", "8001")
    assert ingress_env(False, 8000) == {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "0"}
