"""The release gate other commands ask (``bastion models promote`` with a required eval)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from serving.evals.run import RESULT_FORMAT, load_result

__all__ = ["passed", "passed_result"]


def passed(result_path: str | Path, version: str) -> bool:
    """True when the result file is a complete eval of ``version`` (name@version: every
    answered case was served by it) that did not regress against its baseline."""
    try:
        result = load_result(Path(result_path))
    except (OSError, ValueError):
        return False
    return passed_result(result, version)


def passed_result(result: dict[str, Any], version: str) -> bool:
    """:func:`passed` on a result already read (the admin API takes it in the body)."""
    if not isinstance(result, dict) or result.get("format") != RESULT_FORMAT:
        return False
    versions = result.get("model_versions") or []
    return bool(result.get("passed")) and versions == [version] and bool(result.get("cases"))
