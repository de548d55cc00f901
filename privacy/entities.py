"""Entity types Bastion detects and the data classes each one raises.

The policy layer decides on data classes (``PHI``, ``PCI``, ``PII``), never on entity types, so
this table is the contract between detection and policy. Entity type names double as placeholder
prefixes (``[PERSON_1]``), so they are short, upper-case and contain no digits.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

__all__ = ["DATA_CLASSES", "ENTITY_DATA_CLASSES", "ENTITY_TYPES", "data_classes_for"]

PHI = "PHI"
PCI = "PCI"
PII = "PII"
DATA_CLASSES: frozenset[str] = frozenset({PHI, PCI, PII})

_ENTITY_TABLE: dict[str, frozenset[str]] = {
    # People and contact details (HIPAA Safe Harbor identifiers and bank KYC fields).
    "PERSON": frozenset({PII}),
    "DATE": frozenset({PII}),  # dates tied to a person: DOB, admission, visit, discharge
    "AGE": frozenset({PHI}),  # ages over 89 (Safe Harbor)
    "PHONE": frozenset({PII}),  # phone and fax numbers
    "EMAIL": frozenset({PII}),
    "ADDRESS": frozenset({PII}),  # street address lines
    "ZIP": frozenset({PII}),  # ZIP codes and UK postcodes
    "LOCATION": frozenset({PII}),  # cities and towns (states and countries are not redacted)
    "ORGANIZATION": frozenset({PII}),  # hospitals, clinics, practices, employers, banks
    "SSN": frozenset({PII}),  # also "last four of SSN" forms
    "ITIN": frozenset({PII}),
    "DRIVER_LICENSE": frozenset({PII}),
    "PASSPORT": frozenset({PII}),
    "VIN": frozenset({PII}),
    "IP": frozenset({PII}),
    "URL": frozenset({PII}),
    # Healthcare identifiers.
    "MRN": frozenset({PHI}),  # medical record numbers
    "ACCESSION": frozenset({PHI}),  # lab / imaging accession and specimen numbers
    "MEMBER_ID": frozenset({PHI}),  # health-plan member, subscriber, Medicare (MBI) ids
    "NPI": frozenset({PHI}),  # National Provider Identifier
    "DEA": frozenset({PHI}),  # DEA registration numbers
    # Financial identifiers.
    "CARD": frozenset({PCI}),  # payment card numbers (PAN)
    "ACCOUNT": frozenset({PII}),  # bank account numbers
    "ROUTING": frozenset({PII}),  # ABA routing numbers
    "IBAN": frozenset({PII}),
}

ENTITY_DATA_CLASSES: MappingProxyType[str, frozenset[str]] = MappingProxyType(_ENTITY_TABLE)
"""Entity type -> data classes it adds to a request. Read-only."""

ENTITY_TYPES: tuple[str, ...] = tuple(_ENTITY_TABLE)


def data_classes_for(entity_types: Iterable[str]) -> frozenset[str]:
    """Union of the data classes of ``entity_types`` (an iterable of entity type names)."""
    out: set[str] = set()
    for entity_type in entity_types:
        out |= _ENTITY_TABLE.get(entity_type, frozenset({PII}))
    return frozenset(out)
