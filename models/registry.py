"""The model catalog: which model versions exist, where they run, and what a name resolves to.

Built from the serving configuration. A client may name a model as ``name`` (its default
version: the first one configured) or as ``name@version``. Which version a request may use is
the policy layer's decision (policies/decide.py); the registry only knows what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from serving.config import EmbeddingConfig, ModelConfig

__all__ = ["DeployedModel", "ModelNotFound", "Registry"]


class ModelNotFound(LookupError):
    """No configured model version answers to the requested name."""


@dataclass(frozen=True)
class DeployedModel:
    """A model version as this deployment runs it (engine, context window, kind). What a
    version *may* process, and the site policy places it on, is the policy's
    :class:`policies.documents.ModelVersion`; the two sites are checked to agree at start-up
    (serving/policy_reload.py ``read_policy``)."""

    name: str
    version: str
    site: str
    engine: str
    context_length: int
    kind: Literal["generate", "embed"] = "generate"

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class Registry:
    def __init__(
        self, models: list[ModelConfig], embeddings: EmbeddingConfig | None = None
    ) -> None:
        self._versions: dict[str, DeployedModel] = {}
        self._default: dict[str, str] = {}
        entries = [
            DeployedModel(m.name, m.version, m.site, m.engine, m.context_length) for m in models
        ]
        if embeddings is not None:
            entries.append(
                DeployedModel(
                    embeddings.name,
                    embeddings.version,
                    embeddings.site,
                    "sentence-transformers",
                    256,
                    "embed",
                )
            )
        for mv in entries:
            self._versions[mv.key] = mv
            self._default.setdefault(mv.name, mv.key)

    def resolve(self, requested: str) -> DeployedModel:
        key = requested if "@" in requested else self._default.get(requested, "")
        try:
            return self._versions[key]
        except KeyError:
            raise ModelNotFound(requested) from None

    def get(self, key: str) -> DeployedModel | None:
        return self._versions.get(key)

    def versions(self) -> list[DeployedModel]:
        return list(self._versions.values())

    def is_default(self, mv: DeployedModel) -> bool:
        return self._default.get(mv.name) == mv.key
