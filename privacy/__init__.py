"""Finding and removing identifiers: detection (Presidio, offline), pseudonymization, restoration.

Public surface (heavy imports happen on first use, not at ``import privacy``)::

    from privacy import PrivacyConfig, Redactor, RedactionError
    result = Redactor(PrivacyConfig()).redact_messages(["Pt John Smith, MRN 4829113"], "tenant-a")
    result.texts              # ["Pt [PERSON_1], MRN [MRN_1]"]
    result.restore(answer)    # placeholders back to values
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "DATA_CLASSES",
    "ENTITY_DATA_CLASSES",
    "ENTITY_TYPES",
    "Operator",
    "PrivacyConfig",
    "RedactionError",
    "RedactionResult",
    "Redactor",
    "Span",
    "StreamRestorer",
    "TenantPrivacyConfig",
    "data_classes_for",
]

_LOCATIONS = {
    "DATA_CLASSES": "privacy.entities",
    "ENTITY_DATA_CLASSES": "privacy.entities",
    "ENTITY_TYPES": "privacy.entities",
    "data_classes_for": "privacy.entities",
    "Operator": "privacy.config",
    "PrivacyConfig": "privacy.config",
    "TenantPrivacyConfig": "privacy.config",
    "RedactionError": "privacy.errors",
    "RedactionResult": "privacy.redactor",
    "Redactor": "privacy.redactor",
    "Span": "privacy.pseudonymize",
    "StreamRestorer": "privacy.pseudonymize",
}

if TYPE_CHECKING:
    from privacy.config import Operator, PrivacyConfig, TenantPrivacyConfig
    from privacy.entities import DATA_CLASSES, ENTITY_DATA_CLASSES, ENTITY_TYPES, data_classes_for
    from privacy.errors import RedactionError
    from privacy.pseudonymize import Span, StreamRestorer
    from privacy.redactor import RedactionResult, Redactor


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'privacy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
