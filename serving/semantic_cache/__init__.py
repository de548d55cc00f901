"""The semantic cache: answers of earlier requests served again to a similar request of the
same tenant and model version, keyed on the redacted question (docs/cache.md).

The pipeline stages are in serving/pipeline/cache.py; :class:`~serving.semantic_cache.cache.
SemanticCache` holds the indexes; the entries live in the StateStore (entries.py)."""

from serving.semantic_cache.config import CacheSettings, TenantCache
from serving.semantic_cache.entries import invalidate

__all__ = ["CacheSettings", "TenantCache", "invalidate"]
