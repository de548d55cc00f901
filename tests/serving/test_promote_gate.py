"""An alias listed in ``registry.require_eval`` moves only with a passing eval result for the
target version (``bastion models promote ALIAS VERSION --eval RESULT.json``); other aliases
move as before. The result files here are written the way `bastion eval run --out` writes
them (the run itself is tested in tests/evals/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from serving.evals.gate import passed_result
from serving.evals.run import RESULT_FORMAT
from tests.serving.test_aliases import Site, site  # noqa: F401  (the in-process site)
from tests.serving.test_aliases_cli import V1, V2, M, bastion


def result(version: str, passed: bool = True) -> dict:
    return {
        "format": RESULT_FORMAT,
        "passed": passed,
        "model_versions": [version],
        "cases": [{"id": "c1", "score": 1.0}],
    }


@pytest.fixture
def gated(tmp_path: Path) -> Path:
    path = tmp_path / "bastion.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "models": [{"name": M}, {"name": M, "version": "v2"}],
                "registry": {
                    "aliases": {"prod": V1, "canary": V1},
                    "require_eval": ["prod"],
                },
            }
        )
    )
    (tmp_path / "data").mkdir()
    return path


def test_the_gate_reads_version_and_verdict() -> None:
    assert passed_result(result(V2), V2)
    assert not passed_result(result(V2, passed=False), V2)  # regressed against its baseline
    assert not passed_result(result(V1), V2)  # an eval of another version
    assert not passed_result({**result(V2), "cases": []}, V2)  # nothing was evaluated
    assert not passed_result({**result(V2), "format": "other"}, V2)


def test_promote_of_a_gated_alias_needs_a_passing_eval(gated: Path, tmp_path: Path) -> None:
    out = bastion(gated, "promote", "prod", V2)
    assert out.returncode == 2 and "requires a passing eval result" in out.stderr

    failing = tmp_path / "failing.json"
    failing.write_text(json.dumps(result(V2, passed=False)))
    out = bastion(gated, "promote", "prod", V2, "--eval", str(failing))
    assert out.returncode == 2 and "requires a passing eval result" in out.stderr

    other = tmp_path / "other-version.json"
    other.write_text(json.dumps(result(V1)))
    assert bastion(gated, "promote", "prod", V2, "--eval", str(other)).returncode == 2

    listed = json.loads(bastion(gated, "list", "--json").stdout)
    assert listed["aliases"]["prod"]["targets"] == {V1: 100}  # nothing moved

    good = tmp_path / "good.json"
    good.write_text(json.dumps(result(V2)))
    out = bastion(gated, "promote", "prod", V2, "--eval", str(good))
    assert out.returncode == 0, out.stderr
    listed = json.loads(bastion(gated, "list", "--json").stdout)
    assert listed["aliases"]["prod"]["targets"] == {V2: 100}


def test_an_alias_not_gated_moves_without_an_eval(gated: Path) -> None:
    out = bastion(gated, "promote", "canary", V2)
    assert out.returncode == 0, out.stderr


def test_the_admin_api_takes_the_eval_result_in_the_body(site: Site) -> None:  # noqa: F811
    registry = site.app.state.gateway.registry
    registry.require_eval = frozenset({"gated"})
    try:
        refused = site.admin("promote", alias="gated", version=V2)
        assert refused.status_code == 400
        assert "requires a passing eval result" in refused.json()["error"]["message"]
        wrong = site.admin("promote", alias="gated", version=V2, eval_result=result(V1))
        assert wrong.status_code == 400
        ok = site.admin("promote", alias="gated", version=V2, eval_result=result(V2))
        assert ok.status_code == 200, ok.text
    finally:
        registry.require_eval = frozenset()
