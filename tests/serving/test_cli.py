"""The `bastion` console script: every command group is mounted and keeps its contract."""

from __future__ import annotations

import json
import os
import subprocess

from tests.serving.live import BIN


def _run(
    *args: str, stdin: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_every_command():
    out = _run("--help").stdout
    for command in ("serve", "serve-config", "keys", "policy", "audit", "redact"):
        assert command in out


def test_redact_jsonl_indexes_the_original_text():
    text = "Pt John Smith, MRN 4829113, phone 617-555-0100"
    out = _run("redact", stdin=json.dumps({"text": text}) + "\n")
    assert out.returncode == 0, out.stderr
    line = json.loads(out.stdout.strip())
    assert "John Smith" not in line["text"] and "4829113" not in line["text"]
    spans = {text[e["start"] : e["end"]] for e in line["entities"]}
    assert {"John Smith", "617-555-0100"} <= spans


def test_keys_create_prints_the_key_alone_on_the_last_line_and_is_audited(tmp_path):
    env = {"BASTION_DATA_DIR": str(tmp_path)}
    out = _run("keys", "create", "--tenant", "acme", "--role", "auditor", env=env)
    assert out.returncode == 0, out.stderr
    key = out.stdout.rstrip("\n").splitlines()[-1]
    assert key.startswith("bst_") and " " not in key
    bad = _run("keys", "create", "--tenant", "acme", "--role", "root", env=env)
    assert bad.returncode == 2
    from policies.audit import AuditConfig, RecordFilter, open_store

    store = open_store(AuditConfig(), tmp_path)
    try:
        rows = store.query(RecordFilter(event_type="key.created"), None, 10)
    finally:
        store.close()
    assert len(rows) == 1 and key.split("_")[1].encode() in rows[0].body
    assert key[21:].encode() not in rows[0].body  # never the secret (bst_ + 16 hex + _)


def test_policy_reload_rejects_a_bad_document(tmp_path):
    env = {"BASTION_DATA_DIR": str(tmp_path)}
    (tmp_path / "policy.yaml").write_text("sites: [1, 2]\n")
    out = _run("policy", "reload", env=env)
    assert out.returncode == 1 and "rejected" in out.stderr
    assert not (tmp_path / "policy.reload").exists()
