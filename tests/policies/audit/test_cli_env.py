"""`bastion audit export` takes the store and its DSN from the environment, as `bastion serve`
does: a cluster keeps the DSN in a Secret (BASTION_AUDIT__DSN), never in the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from policies.audit import AuditConfig, FileEd25519Signer
from policies.audit.cli import app, load_settings

from .conftest import PG_DSN
from .test_export_verify import fill

runner = CliRunner()


def test_environment_wins_over_the_yaml(tmp_path: Path, monkeypatch) -> None:
    cfg_file = tmp_path / "bastion.yaml"
    cfg_file.write_text(yaml.safe_dump({"audit": {"store": "sqlite", "dsn": "postgresql://x"}}))
    monkeypatch.setenv("BASTION_AUDIT__STORE", "postgres")
    monkeypatch.setenv("BASTION_AUDIT__DSN", "postgresql://from-env/db")
    config, _ = load_settings(cfg_file, tmp_path)
    assert (config.store, config.dsn) == ("postgres", "postgresql://from-env/db")


@pytest.mark.postgres
def test_export_from_postgres_with_the_dsn_only_in_the_environment(
    tmp_path: Path, pg_schema: str, monkeypatch
) -> None:
    data_dir = tmp_path / "data"
    signer = FileEd25519Signer(data_dir / "audit-signing.key")
    fill(AuditConfig(store="postgres", dsn=PG_DSN, pg_schema=pg_schema), data_dir, signer, n=6)
    cfg_file = tmp_path / "bastion.yaml"  # no DSN written anywhere in the file
    cfg_file.write_text(
        yaml.safe_dump(
            {"data_dir": str(data_dir), "audit": {"store": "postgres", "pg_schema": pg_schema}}
        )
    )
    monkeypatch.setenv("BASTION_AUDIT__DSN", PG_DSN)
    out = tmp_path / "bundle.zip"
    res = runner.invoke(app, ["export", "--config", str(cfg_file), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "6 records" in res.output
    res = runner.invoke(app, ["verify", str(out), "--key-id", signer.key_id])
    assert res.exit_code == 0, res.output

    monkeypatch.delenv("BASTION_AUDIT__DSN")
    res = runner.invoke(app, ["export", "--config", str(cfg_file), "--out", str(out)])
    assert res.exit_code != 0  # without the DSN it fails, and says why
    assert "BASTION_AUDIT__DSN" in res.output + str(res.exception)
