"""The release gate other commands ask (``bastion models promote`` with a required eval)."""

from __future__ import annotations

from pathlib import Path

from serving.evals.run import load_result

__all__ = ["passed"]


def passed(result_path: str | Path, version: str) -> bool:
    """True when the result file is a complete eval of ``version`` (name@version: every
    answered case was served by it) that did not regress against its baseline."""
    try:
        result = load_result(Path(result_path))
    except (OSError, ValueError):
        return False
    versions = result.get("model_versions") or []
    return bool(result.get("passed")) and versions == [version] and bool(result.get("cases"))
