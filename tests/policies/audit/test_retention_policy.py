"""Per-tenant capture retention declared in the policy documents (tenants[].audit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.audit.retention import policy_retention, retention_overrides
from policies.documents import PolicyDocumentError, load_texts

BASE = """
sites:
  - {id: local, jurisdiction: DE, region: EU}
models:
  - {id: m@v1, site: local, approved_data_classes: [PHI]}
tenants:
  - {id: acme, sites: [local], models: [m]}
  - id: clinic
    sites: [local]
    models: [m]
"""


def test_tenant_override_is_read_and_absent_settings_keep_the_policy_version() -> None:
    plain = load_texts([("p.yaml", BASE)])
    assert retention_overrides(plain) == {}
    with_audit = load_texts([("p.yaml", BASE + "    audit: {capture_retention_days: 30}\n")])
    assert retention_overrides(with_audit) == {"clinic": 30}
    assert with_audit.version != plain.version  # the setting is part of the signed policy
    empty = load_texts([("p.yaml", BASE + "    audit: {}\n")])
    assert retention_overrides(empty) == {}


@pytest.mark.parametrize(
    "block",
    ["    audit: {capture_retention_days: 0}\n", "    audit: {keep_forever: true}\n"],
)
def test_invalid_audit_settings_are_rejected(block: str) -> None:
    with pytest.raises(PolicyDocumentError):
        load_texts([("p.yaml", BASE + block)])


def test_policy_retention_reads_the_documents_at_every_call(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(BASE + "    audit: {capture_retention_days: 7}\n")
    source = policy_retention([path])
    assert source() == {"clinic": 7}
    path.write_text(BASE + "    audit: {capture_retention_days: 90}\n")
    assert source() == {"clinic": 90}
    path.write_text("tenants: [")  # a broken document raises: the sequencer then keeps content
    with pytest.raises(PolicyDocumentError):
        source()
