"""Policy documents shared by the policy tests: a bank and a hospital across four sites."""

from __future__ import annotations

from pathlib import Path

SITES = """\
label: 2026-11-a
data_classes: [CONFIDENTIAL]
sites:
  - {id: de-fra-1, jurisdiction: DE, region: EU}
  - {id: de-ber-1, jurisdiction: DE, region: EU}
  - {id: us-east-1, jurisdiction: US, region: NA}
  - {id: ext-upstream, jurisdiction: US, region: NA, external: true}
"""

MODELS = """\
models:
  - id: llama-3.1-8b@q4-2024-07
    site: de-fra-1
    approved_data_classes: [PHI, PCI, PII, CONFIDENTIAL]
    aliases: [chat-secure]
  - id: llama-3.1-8b@q4-2024-09
    site: de-ber-1
    approved_data_classes: [PII]
  - id: mistral-7b@v0.3
    site: de-ber-1
    approved_data_classes: [PII, PCI]
    aliases: [chat]
  - id: llama-3.1-70b@fp8-2024-07
    site: us-east-1
    approved_data_classes: [PII, PHI, PCI, CONFIDENTIAL]
    aliases: [chat]
  - id: gpt-4o@2024-08
    site: ext-upstream
    approved_data_classes: [PII, PHI]
    aliases: [chat-external]
"""

TENANTS = """\
tenants:
  - id: bank-fra
    sites: [de-fra-1, de-ber-1]
    models: [chat, chat-secure, llama-3.1-8b]
    default_data_classes: [PII]
    purposes: [support, fraud-review]
    reroute:
      chat: [chat-secure]
  - id: hospital
    sites: [de-fra-1, us-east-1, ext-upstream]
    models: [chat, chat-secure, gpt-4o]
    reroute:
      gpt-4o: [chat-secure]
  - id: research
    sites: [us-east-1, ext-upstream]
    models: [llama-3.1-70b, chat-external]
"""

RULES = """\
deny:
  - id: pci-not-on-ber
    reason: PCI data is never processed in Berlin
    when: {data_classes: [PCI], sites: [de-ber-1]}
  - id: pci-not-in-na
    reason: PCI data stays out of North America
    when: {data_classes: [PCI], regions: [NA]}
  - id: no-external-phi
    reason: PHI never goes to an external upstream
    when: {data_classes: [PHI], external: true}
  - id: hospital-phi-in-de
    reason: the hospital's PHI stays in Germany
    when: {tenants: [hospital], data_classes: [PHI], outside_jurisdictions: [DE]}
  - id: confidential-eu-only
    reason: confidential data stays in the EU
    when: {data_classes: [CONFIDENTIAL], outside_regions: [EU]}
  - id: no-us-marketing
    reason: no marketing use on US sites
    when: {purposes: [marketing], jurisdictions: [US]}
  - id: no-70b-fraud-review
    reason: the 70b model is not validated for fraud review
    when: {models: [llama-3.1-70b], purposes: [fraud-review]}
  - id: auditors-do-not-infer
    reason: auditor keys may not call models
    when: {roles: [auditor]}
"""

ALL = SITES + MODELS + TENANTS + RULES


def write_policy(directory: Path, text: str = ALL, name: str = "policy.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def write_split(directory: Path) -> list[Path]:
    """The same policy as `ALL`, split over four files."""
    return [
        write_policy(directory, part, f"{i}-{kind}.yaml")
        for i, (kind, part) in enumerate(
            [("sites", SITES), ("models", MODELS), ("tenants", TENANTS), ("rules", RULES)]
        )
    ]
