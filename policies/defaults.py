"""The policy document `bastion serve` writes into a fresh data directory.

One local site, one bootstrap tenant allowed on it, and the given model versions approved for
PHI, PCI and PII there, so the embedded default answers out of the box. Operators replace it
with their own documents (see docs/policy.md).
"""

from __future__ import annotations

import re

import yaml

from policies.documents import BUILTIN_DATA_CLASSES

__all__ = ["bootstrap_policy_yaml"]

_VERSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}@[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")

_HEADER = """\
# Bastion bootstrap policy, written by `bastion serve` into a fresh data directory.
# One local site, one tenant, every bundled model version approved for all data classes on it.
# Replace it with your own documents before real data arrives: see docs/policy.md,
# and check changes with `bastion policy check FILES`.
"""


def bootstrap_policy_yaml(
    site: str,
    tenant: str,
    models: list[str],
    *,
    jurisdiction: str = "ZZ",
    region: str = "local",
) -> str:
    """A valid policy document for one site and tenant. `models` are name@version ids.

    `jurisdiction` defaults to ZZ (ISO 3166 user-assigned: unspecified) since a fresh install
    does not know where it stands.
    """
    if not models:
        raise ValueError("the bootstrap policy needs at least one model version")
    for model in models:
        if not _VERSION_ID.match(model):
            raise ValueError("model versions must be written name@version")
    names = list(dict.fromkeys(model.partition("@")[0] for model in models))
    document = {
        "label": "bootstrap",
        "sites": [{"id": site, "jurisdiction": jurisdiction, "region": region}],
        "tenants": [{"id": tenant, "sites": [site], "models": names}],
        "models": [
            {"id": model, "site": site, "approved_data_classes": list(BUILTIN_DATA_CLASSES)}
            for model in dict.fromkeys(models)
        ],
    }
    return _HEADER + yaml.safe_dump(document, sort_keys=False)
