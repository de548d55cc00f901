"""The one model catalog: which model versions exist, where they run, and what a name resolves to.

Built from the serving configuration (how each version runs: engine, weights, context window)
and the policy documents (where it may run). A version's **site is declared once**, in the policy
documents (``models[].site``); the configuration's ``models[].site`` is optional and, when given,
MUST agree (:func:`site_mismatches`, checked at every start and policy reload). A configured
version the policy does not name runs on its configured site, else on the node's own site —
and no tenant can reach it until a policy names it.

A client may name a model as ``name`` (its default version: the first one configured), as
``name@version``, or as an alias (models/aliases.py). Which version a request may use is the
policy layer's decision (policies/decide.py); the registry only knows what is deployed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.aliases import AliasFollower, StaticAliases, check_alias
from models.prompts import PromptTemplate, PromptTemplates

if TYPE_CHECKING:
    from policies.documents import PolicySet
    from serving.config import EmbeddingConfig, ModelConfig, Settings
    from state import StateStore

__all__ = [
    "DeployedModel",
    "ModelNotFound",
    "Registry",
    "RegistryConfig",
    "check_registry",
    "configured_sites",
    "place",
    "policy_sites",
    "site_mismatches",
]


class RegistryConfig(BaseModel):
    """``registry:`` in the serving configuration (docs/models.md)."""

    model_config = ConfigDict(extra="forbid")

    prompts: list[PromptTemplate] = Field(
        default_factory=list,
        description="Prompt templates (named system prompts), one entry per `name@version`.",
    )
    aliases: dict[str, str | dict[str, int]] = Field(
        default_factory=dict,
        description="Starting points of aliases, e.g. `prod: m@v1` or `prod: {m@v1: 90, "
        "m@v2: 10}`; used only for an alias the state store has never seen (after that, "
        "`bastion models promote|split|rollback` and the admin API change it).",
    )
    require_eval: list[str] = Field(
        default_factory=list,
        description="Aliases whose promote needs a passing `bastion eval run` result for the "
        "target version (`bastion models promote ALIAS VERSION --eval RESULT.json`, or "
        "`eval_result` in the admin API body; docs/evals.md).",
    )

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: dict[str, str | dict[str, int]]) -> dict[str, str | dict[str, int]]:
        for alias in value:
            check_alias(alias)
        return value

    def initial_aliases(self) -> dict[str, dict[str, int]]:
        return {
            alias: {target: 100} if isinstance(target, str) else dict(target)
            for alias, target in self.aliases.items()
        }


def check_registry(settings: Settings) -> None:
    """The configured starting points of aliases name configured versions (all models or all
    prompt templates), with positive weights, and no alias takes a model or prompt name.
    Raises ValueError (a start-up error naming the alias)."""
    config = settings.registry
    keys = [t.key for t in config.prompts]
    if len(set(keys)) != len(keys):
        raise ValueError("registry.prompts: a prompt template version is declared twice")
    kinds = {m.key: "model" for m in settings.models} | {key: "prompt" for key in keys}
    names = {m.name for m in settings.models} | {t.name for t in config.prompts}
    for alias, weights in config.initial_aliases().items():
        if alias in names:
            raise ValueError(
                f"registry.aliases.{alias}: an alias may not take a model or prompt name"
            )
        if any(target not in kinds for target in weights):
            raise ValueError(f"registry.aliases.{alias}: not a configured model or prompt version")
        if len({kinds[t] for t in weights}) > 1 or any(w <= 0 for w in weights.values()):
            raise ValueError(
                f"registry.aliases.{alias}: positive weights over model versions or over "
                "prompt templates, not both"
            )


class ModelNotFound(LookupError):
    """No configured model version answers to the requested name."""


@dataclass(frozen=True)
class DeployedModel:
    """A model version as this deployment runs it (engine, context window, kind) and the site
    it runs on (the policy's :class:`policies.documents.ModelVersion` declares it)."""

    name: str
    version: str
    site: str
    engine: str
    context_length: int
    kind: Literal["generate", "embed"] = "generate"

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


def configured_sites(settings: Settings) -> dict[str, str | None]:
    """Each configured model version (and the embedder) → the site the configuration gives
    (None: not given; the policy declares it)."""
    emb = settings.embeddings
    sites: dict[str, str | None] = {m.key: m.site for m in settings.models}
    sites[f"{emb.name}@{emb.version}"] = emb.site
    return sites


def policy_sites(policy: PolicySet | None) -> dict[str, str]:
    """name@version → the site the policy documents declare."""
    return {m.id: m.site for m in policy.models} if policy is not None else {}


def site_mismatches(
    configured: Mapping[str, str | None], declared: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(version, configured site, policy's site) for every version configured on another site
    than the policy places it."""
    return [
        (key, site, declared[key])
        for key, site in configured.items()
        if site is not None and key in declared and declared[key] != site
    ]


def _site(key: str, configured: str | None, declared: Mapping[str, str], default: str) -> str:
    return declared.get(key) or configured or default


def place(settings: Settings, policy: PolicySet | None) -> Settings:
    """``settings`` with every model version's (and the embedder's) site filled in from the
    policy documents (see the module docstring). The caller checks :func:`site_mismatches`
    first; here the policy's site wins. Without a policy: the configured site, else the
    node's (``settings.site``)."""
    declared = policy_sites(policy)
    models = [
        m.model_copy(update={"site": _site(m.key, m.site, declared, settings.site)})
        for m in settings.models
    ]
    emb = settings.embeddings
    key = f"{emb.name}@{emb.version}"
    embeddings = emb.model_copy(update={"site": _site(key, emb.site, declared, settings.site)})
    return settings.model_copy(update={"models": models, "embeddings": embeddings})


class Registry:
    """The deployed model versions. ``policy`` gives each version's site (declared once, there);
    without it (or for a version it does not name) the configured site, else ``default_site``."""

    def __init__(
        self,
        models: Iterable[ModelConfig],
        embeddings: EmbeddingConfig | None = None,
        policy: PolicySet | None = None,
        default_site: str = "local",
        prompts: Iterable[PromptTemplate] = (),
        require_eval: Iterable[str] = (),
    ) -> None:
        self.prompts = PromptTemplates(prompts)
        self.require_eval = frozenset(require_eval)  # aliases gated by an eval result
        self.aliases: StaticAliases = StaticAliases()
        self._versions: dict[str, DeployedModel] = {}
        self._default: dict[str, str] = {}
        declared = policy_sites(policy)
        entries = [
            DeployedModel(
                m.name,
                m.version,
                _site(m.key, m.site, declared, default_site),
                m.engine,
                m.context_length,
            )
            for m in models
        ]
        if embeddings is not None:
            key = f"{embeddings.name}@{embeddings.version}"
            entries.append(
                DeployedModel(
                    embeddings.name,
                    embeddings.version,
                    _site(key, embeddings.site, declared, default_site),
                    "sentence-transformers",
                    256,
                    "embed",
                )
            )
        for mv in entries:
            self._versions[mv.key] = mv
            self._default.setdefault(mv.name, mv.key)
        self._targets = {mv.key: "model" for mv in entries if mv.kind == "generate"}
        self._targets.update({t.key: "prompt" for t in self.prompts})

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

    def targets(self) -> dict[str, str]:
        """What an alias may point at (id → "model" | "prompt"): generating model versions and
        prompt templates. Read-only."""
        return self._targets

    def follow(
        self,
        store: StateStore,
        every_s: float = 1.0,
        initial: Mapping[str, Mapping[str, int]] | None = None,
        start: bool = True,
    ) -> AliasFollower:
        """Take the aliases from the shared store (seeding the configured starting points),
        refreshed every ``every_s`` seconds on a daemon thread."""
        names = set(self._default) | self.prompts.names()
        if clash := sorted(names & set(initial or {})):
            raise ValueError(f"aliases must not be model or prompt names: {', '.join(clash)}")
        follower = AliasFollower(store, self.targets(), every_s, reserved=names)
        follower.seed(initial or {})
        if start:
            follower.start()
        self.aliases = follower
        return follower
