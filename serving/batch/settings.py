"""The ``batch:`` settings block (serving/config.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BatchSettings"]


class BatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Serve the Batch API and run its worker.")
    concurrency_per_tenant: int = Field(
        2, ge=1, le=64, description="Batch lines of one tenant in flight at once (per replica)."
    )
    concurrency_overrides: dict[str, int] = Field(
        default_factory=dict, description="Per-tenant concurrency: tenant id -> lines in flight."
    )
    yield_to_interactive: bool = Field(
        True,
        description="Batch lines yield to interactive requests: a line starts only when none "
        "is in flight on this replica or its model servers (max_yield_s), and its generation "
        "pauses for them on the model server (max_pause_s).",
    )
    max_yield_s: float = Field(
        5.0, ge=0, description="Longest a line waits for interactive traffic to drain."
    )
    max_pause_s: float = Field(
        30.0,
        ge=0,
        description="Longest one line's generation pauses, in all, while interactive work is in "
        "flight on its model server (before it starts and between tokens); then it runs to its "
        "end. 0: it never pauses at the engine.",
    )
    preempt: bool = Field(
        False,
        description="Stop a generating batch line when an interactive request arrives on this "
        "replica and run it again later (the stopped attempt is audited as a 499 with "
        "batch_attempt=preempted). Off by default: the engine pauses the line instead "
        "(max_pause_s), which loses no work.",
    )
    max_preemptions: int = Field(
        3, ge=0, description="Times one line may be preempted before it runs to its end."
    )
    retention_days: float = Field(
        7.0, gt=0, description="Input/output files, jobs and line results are deleted after this."
    )
    max_lines: int = Field(50_000, ge=1, description="Most lines in one input file.")
    lease_ttl_s: float = Field(
        30.0, ge=1, description="A worker's hold on a job; another takes it over after this."
    )
    poll_s: float = Field(1.0, gt=0, description="How often the worker looks for jobs.")

    def concurrency(self, tenant: str) -> int:
        return max(1, self.concurrency_overrides.get(tenant, self.concurrency_per_tenant))
