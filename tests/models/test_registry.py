"""One model catalog: each version's site is declared once, in the policy documents; a site the
configuration also names must agree, everywhere the application starts (bastion serve's check,
build_app, the Serve config)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from models.registry import Registry, configured_sites, place, policy_sites, site_mismatches
from policies.documents import load_texts
from serving.config import ModelConfig, Settings
from serving.policy_reload import PolicySiteMismatch, placed_settings, read_policy

POLICY = """
sites:
  - {id: local, jurisdiction: DE, region: EU}
  - {id: de-muc-1, jurisdiction: DE, region: EU}
models:
  - {id: m1@v1, site: de-muc-1, approved_data_classes: [PII]}
  - {id: m1@v2, site: local, approved_data_classes: [PII]}
  - {id: all-minilm-l6-v2@v1, site: de-muc-1, approved_data_classes: [PII]}
tenants:
  - {id: t, sites: [local, de-muc-1], models: [m1]}
"""


def _settings(tmp_path: Path, models: list[dict], **extra) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return Settings(
        data_dir=tmp_path / "data",
        policy={"files": [policy]},
        models=[ModelConfig(**m) for m in models],
        **extra,
    )


def test_a_version_without_a_configured_site_runs_where_policy_declares_it(tmp_path):
    settings = _settings(tmp_path, [{"name": "m1"}, {"name": "m1", "version": "v2"}])
    assert configured_sites(settings) == {"m1@v1": None, "m1@v2": None, "all-minilm-l6-v2@v1": None}
    placed = placed_settings(settings)
    assert [(m.key, m.site) for m in placed.models] == [("m1@v1", "de-muc-1"), ("m1@v2", "local")]
    assert placed.embeddings.site == "de-muc-1"
    policy = load_texts([("p", POLICY)])
    registry = Registry(settings.models, settings.embeddings, policy)
    assert registry.resolve("m1").site == "de-muc-1"
    assert registry.resolve("m1@v2").site == "local"
    assert registry.resolve("all-minilm-l6-v2@v1").site == "de-muc-1"


def test_a_configured_site_must_agree_with_policy(tmp_path):
    agreeing = _settings(tmp_path, [{"name": "m1", "site": "de-muc-1"}])
    assert placed_settings(agreeing).models[0].site == "de-muc-1"
    wrong = _settings(tmp_path, [{"name": "m1", "site": "local"}])
    with pytest.raises(PolicySiteMismatch, match=r"m1@v1 is configured on site local .* de-muc-1"):
        placed_settings(wrong)
    with pytest.raises(PolicySiteMismatch):
        read_policy(wrong.policy_files(), configured_sites(wrong))


def test_a_version_policy_does_not_name_keeps_its_configured_or_the_nodes_site(tmp_path):
    settings = _settings(
        tmp_path,
        [{"name": "other"}, {"name": "pinned", "site": "de-muc-1"}],
        site="de-fra-1",
    )
    placed = place(settings, load_texts([("p", POLICY)]))
    assert [m.site for m in placed.models] == ["de-fra-1", "de-muc-1"]
    assert site_mismatches({"other@v1": "x"}, policy_sites(None)) == []


def test_bastion_serve_check_fills_sites_from_policy_and_refuses_a_mismatch(tmp_path):
    import typer

    from serving.cli import _check_policy

    placed = _check_policy(_settings(tmp_path, [{"name": "m1"}]))
    assert placed.models[0].site == "de-muc-1"
    with pytest.raises(typer.Exit) as caught:
        _check_policy(_settings(tmp_path, [{"name": "m1", "site": "local"}]))
    assert caught.value.exit_code == 2


def _serve_config(tmp_path: Path, config: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "bastion.yaml"
    path.write_text(yaml.safe_dump(config))
    bastion = Path(sys.executable).parent / "bastion"
    return subprocess.run(
        [str(bastion), "serve-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_config_takes_each_site_from_policy(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    base = {"data_dir": str(tmp_path / "data"), "policy": {"files": [str(policy)]}}
    out = _serve_config(tmp_path, {**base, "models": [{"name": "m1"}]})
    assert out.returncode == 0, out.stderr
    app = yaml.safe_load(out.stdout)["applications"][0]
    deployments = {d["name"]: d for d in app["deployments"]}
    resources = deployments["ModelServer-m1-v1"]["ray_actor_options"]["resources"]
    assert resources == {"site:de-muc-1": 0.001}
    # The settings the cluster starts with name the site, so build_app re-checks it there.
    assert app["args"]["settings"]["models"][0]["site"] == "de-muc-1"
    mismatch = _serve_config(tmp_path, {**base, "models": [{"name": "m1", "site": "local"}]})
    assert mismatch.returncode == 2
    assert "m1@v1 is configured on site local but policy places it on de-muc-1" in mismatch.stderr


def test_a_live_reload_may_not_move_a_running_version_a_restart_may(tmp_path):
    from serving.policy_reload import prepare_policy, reload_configured

    settings = _settings(tmp_path, [{"name": "m1"}])  # its site: de-muc-1, from policy only
    settings.data_dir.mkdir()
    first = prepare_policy(settings)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("m1@v1, site: de-muc-1", "m1@v1, site: local"))
    with pytest.raises(PolicySiteMismatch, match=r"m1@v1 is configured on site de-muc-1 .* local"):
        reload_configured(settings)  # `bastion policy reload`: it runs on de-muc-1 now
    from state import open_state

    state = open_state(settings.audit, settings.data_dir, migrate=False)
    try:
        assert state.active_policy_version() == first  # nothing published
    finally:
        state.close()
    assert prepare_policy(settings) != first  # a restart places it anew
    assert placed_settings(settings).models[0].site == "local"
