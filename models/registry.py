"""The model catalog: which model versions exist, where they run, and what a name resolves to.

Built from the serving configuration. A client may name a model as ``name`` (its default
version: the first one configured) or as ``name@version``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serving.config import ModelConfig

__all__ = ["ModelNotFound", "ModelVersion", "Registry"]


class ModelNotFound(LookupError):
    """No configured model version answers to the requested name."""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    site: str
    engine: str
    context_length: int

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class Registry:
    def __init__(self, models: list[ModelConfig]) -> None:
        self._versions: dict[str, ModelVersion] = {}
        self._default: dict[str, str] = {}
        for cfg in models:
            mv = ModelVersion(cfg.name, cfg.version, cfg.site, cfg.engine, cfg.context_length)
            self._versions[mv.key] = mv
            self._default.setdefault(cfg.name, mv.key)

    def resolve(self, requested: str) -> ModelVersion:
        key = requested if "@" in requested else self._default.get(requested, "")
        try:
            return self._versions[key]
        except KeyError:
            raise ModelNotFound(requested) from None

    def versions(self) -> list[ModelVersion]:
        return list(self._versions.values())

    def names(self) -> list[str]:
        return list(self._default)
