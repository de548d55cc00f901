"""`bastion audit export` / `verify` end to end through the Typer app."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import yaml
from typer.testing import CliRunner

from policies.audit import AuditConfig, FileEd25519Signer, open_store
from policies.audit.cli import app

from .test_export_verify import fill

runner = CliRunner()


def test_export_then_verify_round_trip_with_config_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    signer = FileEd25519Signer(data_dir / "audit-signing.key")
    config = AuditConfig(sqlite_path=str(data_dir / "audit.db"), batch_max_wait_ms=1.0)
    fill(config, data_dir, signer, n=30)
    cfg_file = tmp_path / "bastion.yaml"
    cfg_file.write_text(yaml.safe_dump({"data_dir": str(data_dir), "audit": {"store": "sqlite"}}))
    out = tmp_path / "bundle.zip"
    res = runner.invoke(app, ["export", "--config", str(cfg_file), "--tenant", "t0",
                              "--from", "2026-03-01T12:00:00Z", "--to", "2026-03-01T13:00:00Z",
                              "--format", "csv", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "10 records" in res.output and "record 30" in res.output

    res = runner.invoke(app, ["verify", str(out), "--key-id", signer.key_id])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("OK: 10 records verified")

    # The export itself was audited, with counts and the bundle digest but no record content.
    store = open_store(config, data_dir)
    (row,) = store.leaves(30, 31)
    store.close()
    rec = json.loads(row.body)
    assert rec["event_type"] == "audit.exported" and rec["detail"]["records"] == 10
    assert rec["detail"]["filter_tenant"] == "t0"


def test_verify_exits_1_with_reason_on_tampering(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "d"
    signer = FileEd25519Signer(data_dir / "audit-signing.key")
    fill(AuditConfig(sqlite_path=str(data_dir / "audit.db")), data_dir, signer, n=5)
    monkeypatch.setenv("BASTION_DATA_DIR", str(data_dir))  # default data dir from the env
    out = tmp_path / "b.zip"
    assert runner.invoke(app, ["export", "--out", str(out)]).exit_code == 0
    with zipfile.ZipFile(out) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["records.jsonl"] = members["records.jsonl"].replace(b'"t1"', b'"t2"', 1)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    res = runner.invoke(app, ["verify", str(bad)])
    assert res.exit_code == 1
    assert "FAILED:" in res.output


def test_wrong_pinned_key_fails(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "d"
    signer = FileEd25519Signer(data_dir / "audit-signing.key")
    fill(AuditConfig(sqlite_path=str(data_dir / "audit.db")), data_dir, signer, n=3)
    out = tmp_path / "b.zip"
    assert (
        runner.invoke(app, ["export", "--data-dir", str(data_dir), "--out", str(out)]).exit_code
        == 0
    )
    res = runner.invoke(app, ["verify", str(out), "--key-id", "0" * 32])
    assert res.exit_code == 1 and "expected" in res.output


def test_signing_key_file_is_private(tmp_path: Path) -> None:
    signer = FileEd25519Signer(tmp_path / "k" / "audit-signing.key")
    assert (signer.path.stat().st_mode & 0o777) == 0o600
    assert FileEd25519Signer(signer.path).key_id == signer.key_id  # reloaded, not regenerated


def test_export_refuses_a_folder_without_a_log(tmp_path: Path) -> None:
    res = runner.invoke(app, ["export", "--data-dir", str(tmp_path / "empty"), "--out", "x.zip"])
    assert res.exit_code == 2 and "no audit log here" in res.output
    assert not (tmp_path / "empty").exists()
