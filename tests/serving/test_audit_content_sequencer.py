"""The AuditSequencer replica's shell (serving/app.py) as Ray Serve constructs it, called here
without Ray: content reads within a tenant scope, shredding, and the age expiry reading each
tenant's retention from the configured policy documents."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.audit import Actor, AuditRecord, RecordFilter
from serving.app import AuditSequencerShell

POLICY = """
sites:
  - {id: local, jurisdiction: DE, region: EU}
models:
  - {id: m@v1, site: local, approved_data_classes: [PHI]}
tenants:
  - id: acme
    sites: [local]
    models: [m]
    audit: {capture_retention_days: 2}
  - {id: globex, sites: [local], models: [m]}
"""


def _record(tenant: str, age_days: int) -> dict:
    record = AuditRecord(
        event_type="inference.chat",
        time=datetime.now(UTC) - timedelta(days=age_days),
        outcome="success",
        actor=Actor(key_id="k", tenant=tenant, role="app"),
    )
    return record.model_dump(mode="json")


def test_sequencer_shell_reads_shreds_and_expires_by_policy_retention(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)

    async def run() -> dict:
        shell = object.__new__(AuditSequencerShell)
        # Ray Serve awaits the async constructor; so does the test.
        await AuditSequencerShell.__init__(
            shell,
            {"capture": "redacted", "batch_max_wait_ms": 1.0},
            str(tmp_path),
            "WARNING",
            [str(policy)],
        )
        old_acme = await shell.append(_record("acme", 5), "<PERSON_1> five days ago")
        new_acme = await shell.append(_record("acme", 0), "<PERSON_1> today")
        old_globex = await shell.append(_record("globex", 5), "<PERSON_2> five days ago")
        out = {
            "scoped": await shell.content(old_acme, "globex"),
            "read": await shell.content(old_acme, "acme"),
        }
        log = shell.client.log
        # acme keeps 2 days (its policy document), globex has no retention (global: none).
        out["expired"] = await log.expire_content()
        out["after"] = [
            (await shell.content(i, None))["status"] for i in (old_acme, new_acme, old_globex)
        ]
        out["shred"] = await shell.shred("globex")
        out["after_shred"] = (await shell.content(old_globex, None))["status"]
        page = await log.query(RecordFilter(event_type="audit.content_expired"), 10)
        out["events"] = [r.detail for _, r in page.records]
        await log.close()
        log.store.close()
        return out

    out = asyncio.run(run())
    assert out["scoped"] == {"status": "not_found"}  # another tenant's scope: nothing decrypted
    assert out["read"]["status"] == "read"
    assert out["read"]["view"]["content"] == {"text": "<PERSON_1> five days ago"}
    assert [(e.tenant, e.keys) for e in out["expired"]] == [("acme", 1)]
    assert out["after"] == ["shredded", "read", "read"]
    assert out["shred"] == {"tenant": "globex", "keys_destroyed": 1, "contents_unreadable": 1}
    assert out["after_shred"] == "shredded"
    assert [(d["retention_days"], d["contents_unreadable"]) for d in out["events"]] == [(2, 1)]
