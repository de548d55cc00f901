"""The OpenAI-compatible Batch API (docs/batch.md): files and batches in the StateStore,
encrypted per tenant, and a worker that drives every line through the inference pipeline."""

from serving.batch.settings import BatchSettings

__all__ = ["BatchSettings"]
