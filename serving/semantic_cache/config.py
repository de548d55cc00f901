"""Semantic cache settings: the ``cache`` block of the serving configuration (one per
deployment) and the per-tenant opt-in of the policy documents (``tenants[].cache``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CacheSettings", "TenantCache"]


class CacheSettings(BaseModel):
    """How the semantic cache behaves on every ingress replica (``cache:`` in the YAML,
    ``BASTION_CACHE__*`` in the environment). A tenant is served from the cache only when its
    policy opts in (``tenants[].cache.enabled``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True,
        description="Master switch: false turns the cache off for every tenant, whatever "
        "their policy says.",
    )
    similarity_threshold: float = Field(
        0.82,
        gt=0,
        le=1,
        description="Without the verifier (`verifier: false`): least cosine similarity between "
        "the redacted question and a cached one for a hit. With it, candidates need the "
        "verifier's own least cosine (serving/semantic_cache/verifier.json) and a tenant's "
        "`similarity_threshold`, when set, is an extra least cosine.",
    )
    verifier: bool = Field(
        False,
        description="Decide hits with the pair verifier (serving/semantic_cache/verify.py: "
        "cosine, lemmatized word overlap, slots that differ; trained on bench/cache.py's "
        "tuning split) over the `candidates` nearest entries, answering from the one it rates "
        "highest; false: cosine threshold and edit guard. Off by default: on the held-out "
        "split it did not beat the edit guard (bench/cache.py).",
    )
    verifier_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Least verifier probability for a hit (null: the one chosen on the tuning "
        "split by cross-validation, in verifier.json). Higher: fewer false hits, fewer hits.",
    )
    embed: Literal["ingress", "deployment"] = Field(
        "ingress",
        description="Where the redacted question is embedded: `ingress`, in-process with the "
        "input guard's MiniLM encoder (the guard has usually embedded the same text already, "
        "and its vector is reused); `deployment`, through the embedder deployment.",
    )
    edit_max_changes: int | None = Field(
        2,
        ge=1,
        le=8,
        description="Edit guard (only with `verifier: false`): a question that is a cached one "
        "with at most this many runs of words inserted, deleted or replaced (`... for an "
        "adult?` → `... for a child?`) asks something else, however similar; null turns the "
        "guard off (bench/cache.py).",
    )
    edit_min_shared: float = Field(
        0.6,
        gt=0,
        le=1,
        description="Edit guard: ... when the unchanged words are at least this share of the "
        "shorter question.",
    )
    ttl_s: float = Field(86_400.0, gt=0, description="Seconds an entry lives after it was stored.")
    max_entries: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Most entries per tenant and model version; past it, `eviction` applies.",
    )
    eviction: Literal["oldest", "none"] = Field(
        "oldest",
        description="When a tenant and model version hold `max_entries`: `oldest` drops the "
        "oldest entry for the new one; `none` stores nothing more until entries expire.",
    )
    deterministic_only: bool = Field(
        True,
        description="Serve and store only requests with temperature 0 (a tenant may allow "
        "sampled requests with `allow_sampling`).",
    )
    candidates: int = Field(
        8, ge=1, le=64, description="Nearest entries examined per lookup (index top-k)."
    )
    max_answer_chars: int = Field(32_000, ge=1, description="Longer answers are not stored.")


class TenantCache(BaseModel):
    """A tenant's opt-in to the semantic cache (policy documents, ``tenants[].cache``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Serve this tenant's requests from the cache.")
    similarity_threshold: float | None = Field(
        None, gt=0, le=1, description="This tenant's threshold (default: the server's)."
    )
    ttl_s: float | None = Field(
        None, gt=0, description="This tenant's entry lifetime in seconds (default: the server's)."
    )
    allow_sampling: bool = Field(
        False,
        description="Also serve requests with temperature > 0 from the cache (their answers "
        "are then the same every time).",
    )
