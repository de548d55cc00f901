"""What is allowed, and the record of what happened.

The policy layer's public surface is re-exported here; submodules (access, audit, ...) are
imported by their own names.
"""

from policies.decide import Decision, DecisionInput, PolicyDenied, PolicyEngine
from policies.documents import PolicyDocumentError, PolicySet, load_documents

__all__ = [
    "Decision",
    "DecisionInput",
    "PolicyDenied",
    "PolicyDocumentError",
    "PolicyEngine",
    "PolicySet",
    "load_documents",
]
