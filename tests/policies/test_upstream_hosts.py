"""Residency of `engine: openai`: each site lists the upstream hosts that run there, and a model
version that forwards anywhere else is refused at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from models.engines.openai import check_upstream_hosts
from policies.documents import PolicyDocumentError, load_texts
from serving.config import ModelConfig
from tests.policies.policy_docs import ALL

FRA = "  - {id: de-fra-1, jurisdiction: DE, region: EU}"
HOSTS = "[vllm.fra.internal, '10.0.0.7:8000', '[fd00::7]']"


def with_hosts(hosts: str, site_line: str = FRA) -> str:
    assert site_line in ALL
    return ALL.replace(site_line, site_line[:-1] + f", upstream_hosts: {hosts}}}")


def openai_model(base_url: str, site: str = "de-fra-1", name: str = "llama-3.1-8b") -> ModelConfig:
    upstream = {"base_url": base_url, "model": "meta-llama/Llama-3.1-8B", "allow_plain_http": True}
    return ModelConfig(
        name=name, version="q4-2024-07", engine="openai", site=site, upstream=upstream
    )


def test_hosts_are_declared_per_site() -> None:
    policy = load_texts([("p.yaml", with_hosts(HOSTS))])
    fra = policy.site("de-fra-1")
    assert fra is not None
    assert fra.upstream_hosts == ("vllm.fra.internal", "10.0.0.7:8000", "[fd00::7]")
    assert policy.site("de-ber-1").upstream_hosts == ()
    assert policy.site("nowhere") is None


@pytest.mark.parametrize(
    ("host", "port", "allowed"),
    [
        ("vllm.fra.internal", 443, True),  # no port listed: any port
        ("VLLM.fra.internal.", 8000, True),  # DNS names are case-insensitive
        ("10.0.0.7", 8000, True),
        ("10.0.0.7", 8001, False),  # a port listed: only that one
        ("fd00:0:0::7", 80, True),  # IPv6 in any spelling
        ("vllm.ber.internal", 443, False),
        ("fra.internal", 443, False),  # no suffix matching
        ("127.0.0.1", 8000, False),
    ],
)
def test_allows_upstream(host: str, port: int, allowed: bool) -> None:
    policy = load_texts([("p.yaml", with_hosts(HOSTS))])
    assert policy.site("de-fra-1").allows_upstream(host, port) is allowed


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ("['http://vllm.internal']", "should match pattern"),
        ("['Vllm.internal']", "should match pattern"),
        ("['vllm.internal/v1']", "should match pattern"),
        ("['vllm.internal:0']", "port out of range"),
        ("['vllm.internal:70000']", "port out of range"),
        ("['[zz::1]']", "should match pattern"),
        ("['[1:2:3:4:5:6:7:8:9]']", "not an IPv6 address"),
        ("[a.internal, a.internal]", "listed twice"),
        ("['[::1]', '[0:0::1]']", "listed twice"),
    ],
)
def test_bad_hosts_are_located(hosts: str, message: str) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        load_texts([("p.yaml", with_hosts(hosts))])
    issue = caught.value.issues[0]
    assert issue.file == "p.yaml" and issue.line == 4 and message in issue.message


def test_one_host_belongs_to_one_site() -> None:
    text = with_hosts("[gpu.internal]", "  - {id: de-ber-1, jurisdiction: DE, region: EU}")
    text = text.replace(FRA, FRA[:-1] + ", upstream_hosts: [gpu.internal]}")
    with pytest.raises(PolicyDocumentError) as caught:
        load_texts([("p.yaml", text)])
    (issue,) = caught.value.issues
    assert issue.line == 5 and issue.field == "sites[1].upstream_hosts[0]"
    assert "another site (at p.yaml:4)" in issue.message


def test_version_unchanged_for_documents_without_hosts() -> None:
    """Documents written before upstream_hosts existed keep their version (audit logs name it);
    listing hosts is a content change."""
    base = load_texts([("p.yaml", ALL)]).version
    assert load_texts([("p.yaml", with_hosts("[]"))]).version == base
    assert load_texts([("p.yaml", with_hosts("[gpu.internal]"))]).version != base


@pytest.mark.parametrize(
    ("base_url", "site", "problem"),
    [
        ("http://vllm.fra.internal:8000/v1", "de-fra-1", None),
        ("http://10.0.0.7:8000/v1", "de-fra-1", None),
        ("http://10.0.0.7:9000/v1", "de-fra-1", "upstream host 10.0.0.7:9000 is not in"),
        ("http://vllm.ber.internal/v1", "de-fra-1", "upstream host vllm.ber.internal:80 is not"),
        # listed, but for another site than the model version's
        ("http://vllm.fra.internal/v1", "de-ber-1", "not in upstream_hosts of site de-ber-1"),
        ("http://vllm.fra.internal/v1", "mars-1", "site mars-1 is not declared"),
    ],
)
def test_check_upstream_hosts(base_url: str, site: str, problem: str | None) -> None:
    policy = load_texts([("p.yaml", with_hosts("[vllm.fra.internal, '10.0.0.7:8000']"))])
    local = ModelConfig(name="local-model", site="mars-1")  # not engine openai: not checked
    problems = check_upstream_hosts([local, openai_model(base_url, site)], policy)
    if problem is None:
        assert problems == []
    else:
        (only,) = problems
        assert only.startswith("model llama-3.1-8b@q4-2024-07: ") and problem in only


def write_files(folder: Path, upstream_hosts: list[str]) -> Path:
    """A policy (site `local` with these hosts) and a configuration forwarding model `proxied`
    to 127.0.0.1:8123; returns the configuration's path."""
    folder.mkdir(parents=True, exist_ok=True)
    site = {"id": "local", "jurisdiction": "DE", "region": "EU", "upstream_hosts": upstream_hosts}
    policy = {
        "sites": [site],
        "tenants": [{"id": "acme", "sites": ["local"], "models": ["proxied"]}],
        "models": [{"id": "proxied@v1", "site": "local", "approved_data_classes": ["PII"]}],
    }
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy))
    config = {
        "policy": {"files": [str(folder / "policy.yaml")]},
        "models": [
            {
                "name": "proxied",
                "engine": "openai",
                "upstream": {"base_url": "http://127.0.0.1:8123/v1", "model": "m"},
            }
        ],
    }
    (folder / "bastion.yaml").write_text(yaml.safe_dump(config))
    return folder / "bastion.yaml"


def test_serve_refuses_an_upstream_host_not_allowed_for_its_site(tmp_path: Path) -> None:
    config = write_files(tmp_path, ["10.9.9.9"])
    bastion = Path(sys.executable).parent / "bastion"
    result = subprocess.run(
        [str(bastion), "serve", "--config", str(config), "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        "model proxied@v1: upstream host 127.0.0.1:8123 is not in upstream_hosts of site local"
        in result.stderr
    )


@pytest.mark.parametrize("hosts", [["127.0.0.1"], ["127.0.0.1:8123"], ["10.9.9.9", "127.0.0.1"]])
def test_start_up_check_passes_when_the_host_is_listed(tmp_path: Path, hosts: list[str]) -> None:
    from serving.cli import _check_policy
    from serving.config import load_settings

    _check_policy(load_settings(write_files(tmp_path, hosts)))  # returns: no exit


def test_published_policy_must_allow_the_upstream_hosts(tmp_path: Path) -> None:
    """What build_app runs at start (also on the RayService path), and every reload of the
    configured documents: a set that does not list the host is refused, the one in force stays."""
    from policies.documents import PolicyDocumentError
    from serving.config import load_settings
    from serving.policy_reload import prepare_policy, reload_configured
    from state import open_state

    settings = load_settings(write_files(tmp_path, ["127.0.0.1:8123"]))
    settings = settings.model_copy(update={"data_dir": tmp_path / "data"})
    settings.data_dir.mkdir()
    version = prepare_policy(settings)
    write_files(tmp_path, ["10.9.9.9"])  # the host is dropped from the documents
    with pytest.raises(PolicyDocumentError) as caught:
        reload_configured(settings)
    (issue,) = caught.value.issues
    assert "upstream host 127.0.0.1:8123 is not in upstream_hosts of site local" in str(issue)
    state = open_state(settings.audit, settings.data_dir, migrate=False)
    try:
        assert state.active_policy_version() == version
    finally:
        state.close()


def test_admin_reload_must_allow_the_upstream_hosts(tmp_path: Path) -> None:
    """The admin API's reload (PolicyReloader.reload) runs the same host check: a set that no
    longer lists the host is refused, nothing is published and this replica keeps its policy."""
    from policies.decide import PolicyEngine
    from policies.documents import PolicyDocumentError
    from serving.config import load_settings
    from serving.policy_reload import PolicyReloader, deployed_sites, prepare_policy
    from state import open_state

    settings = load_settings(write_files(tmp_path, ["127.0.0.1:8123"]))
    settings = settings.model_copy(update={"data_dir": tmp_path / "data"})
    settings.data_dir.mkdir()
    version = prepare_policy(settings)
    state = open_state(settings.audit, settings.data_dir, migrate=False)
    try:
        engine = PolicyEngine.from_paths(settings.policy_files())
        reloader = PolicyReloader(
            engine,
            settings.policy_files(),
            state,
            deployed=deployed_sites(settings),
            models=settings.models,
        )
        assert reloader.reload() == version  # the host is listed: accepted
        write_files(tmp_path, ["10.9.9.9"])  # the host is dropped from the documents
        with pytest.raises(PolicyDocumentError):
            reloader.reload()
        assert state.active_policy_version() == version
        assert engine.version == version
    finally:
        state.close()


def test_the_site_comes_from_the_policy_when_the_configuration_leaves_it_out() -> None:
    """A version's site is declared once, in the policy documents (the configuration may omit
    it); the host check then uses the declared site."""
    policy = load_texts([("p.yaml", with_hosts("[vllm.fra.internal]"))])
    declared = next(m.site for m in policy.models if m.id == "llama-3.1-8b@q4-2024-07")
    allowed = openai_model("http://vllm.fra.internal/v1", site=None)  # type: ignore[arg-type]
    elsewhere = openai_model("http://vllm.ber.internal/v1", site=None)  # type: ignore[arg-type]
    assert check_upstream_hosts([allowed], policy) == []
    (problem,) = check_upstream_hosts([elsewhere], policy)
    assert f"not in upstream_hosts of site {declared}" in problem
