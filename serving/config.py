"""Settings: one optional YAML file plus ``BASTION_*`` environment overrides.

Environment variables win over the file; nested fields use ``__`` (``BASTION_SERVER__PORT=9000``).
Every model forbids unknown keys, so a typo fails at start-up with the field's path in the message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from models.engines.openai import OpenAIUpstream
from models.registry import RegistryConfig
from policies.audit.config import AuditConfig
from policies.usage import CostModel, UsageSettings
from privacy.config import PrivacyConfig
from serving.batch.settings import BatchSettings
from serving.semantic_cache.config import CacheSettings

__all__ = [
    "AutoscalingConfig",
    "ConfigError",
    "EmbeddingConfig",
    "IngressConfig",
    "ModelConfig",
    "PolicySettings",
    "ServerConfig",
    "Settings",
    "load_settings",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoscalingConfig(_Strict):
    min_replicas: int = Field(1, ge=0, description="Fewest replicas kept running.")
    max_replicas: int = Field(1, ge=1, description="Most replicas Ray Serve may start.")
    target_ongoing_requests: float = Field(
        2.0, gt=0, description="Ongoing requests per replica that autoscaling aims for."
    )

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class _Replicated(_Strict):
    num_replicas: int = Field(
        1, ge=1, description="Fixed replica count (ignored with autoscaling)."
    )
    autoscaling: AutoscalingConfig | None = Field(
        None, description="Autoscaling bounds; when set, replaces num_replicas."
    )
    num_cpus: float = Field(1.0, ge=0, description="Ray logical CPUs reserved per replica.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs reserved per replica.")
    max_ongoing_requests: int = Field(
        64, ge=1, description="Requests a replica accepts before Serve queues them."
    )


class ModelConfig(_Replicated):
    name: str = Field(..., description="Model name clients send in `model`.")
    version: str = Field("v1", description="Version label; a model version is `name@version`.")
    engine: Literal["llamacpp", "transformers", "vllm", "openai"] = Field(
        "llamacpp",
        description="Engine that runs the weights; `openai` forwards to an existing "
        "OpenAI-compatible server (set `upstream`).",
    )
    upstream: OpenAIUpstream | None = Field(
        None,
        description="engine `openai` only: the upstream server (base_url, model, API key source, "
        "TLS files, timeouts, retries). Its host must be allowed for `site` by policy.",
    )
    path: str | None = Field(
        None,
        description="Local path to the weights (GGUF file or model directory). "
        "Empty means the bundled SmolLM2-135M-Instruct Q4_1 GGUF.",
    )
    site: str | None = Field(
        None,
        description="Optional: the site comes from the policy documents (`models[].site`), "
        "where it is declared once. When given here it must agree (checked at start and at "
        "every policy reload). A version no policy names runs on this site, else on `site`.",
    )
    context_length: int = Field(2048, ge=128, description="Context window in tokens.")
    threads: int | None = Field(None, ge=1, description="CPU threads for CPU engines.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="transformers device.")
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1, description="vLLM GPU memory share.")
    quantization: str | None = Field(None, description="vLLM quantization (awq, gptq, fp8...).")
    default_max_tokens: int = Field(256, ge=1, description="max_tokens when a request sets none.")
    cost: CostModel | None = Field(
        None,
        description="Chargeback prices of this version (per 1K prompt / completion / cached "
        "tokens, per GPU-second, currency); empty: free (docs/usage-and-budgets.md).",
    )

    @field_validator("name", "version", "site")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError("use lowercase letters, digits, '.', '_' or '-' (max 63 chars)")
        return value

    @model_validator(mode="after")
    def _upstream(self) -> ModelConfig:
        if (self.engine == "openai") != (self.upstream is not None):
            raise ValueError("`upstream` is required with engine openai, and only with it")
        return self

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class EmbeddingConfig(_Replicated):
    name: str = Field("all-minilm-l6-v2", description="Model name for /v1/embeddings.")
    version: str = Field("v1", description="Version label; policy names it `name@version`.")
    site: str | None = Field(
        None,
        description="Optional, as for models: the policy documents declare the site; when "
        "given here it must agree.",
    )
    path: str | None = Field(
        None, description="Sentence-transformers directory; empty means the bundled MiniLM."
    )
    max_batch_size: int = Field(32, ge=1, description="Inputs per Serve batch.")
    max_inputs: int = Field(
        256,
        ge=1,
        description="Most inputs one embedding request may carry; more is rejected (400) "
        "before anything is redacted.",
    )


class PolicySettings(_Strict):
    files: list[Path] = Field(
        default_factory=list,
        description="Policy documents or folders (docs/policy.md). Empty: <data_dir>/policy.yaml, "
        "written at first start with a bootstrap policy for the local site.",
    )
    reload_check_s: float = Field(
        1.0, gt=0, description="How often each ingress replica checks for a reload request."
    )


class IngressConfig(_Replicated):
    num_cpus: float = Field(0.5, ge=0, description="Ray logical CPUs per ingress replica.")
    max_ongoing_requests: int = Field(256, ge=1, description="Concurrent requests per replica.")


class StructuredOutputConfig(_Strict):
    retries: int = Field(
        1,
        ge=0,
        le=3,
        description="New generations of a whole answer that does not satisfy its "
        "`response_format` before the request fails with 422 invalid_structured_output "
        "(a streamed answer is not retried: its text has been sent).",
    )


class ServerConfig(_Strict):
    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port.")
    direct_ingress: bool = Field(
        True,
        description="`bastion serve`: the Ingress replica itself listens on host:port (Ray "
        "Serve direct ingress), skipping the hop through Serve's HTTP proxy; needs exactly one "
        "ingress replica. false: Serve's proxy listens on host:port and spreads requests over "
        "the ingress replicas. A cluster (`bastion serve-config`) always uses Serve's proxies.",
    )
    proxy_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="With direct_ingress, the port of Ray Serve's own HTTP proxy, which Serve "
        "still starts on host (clients do not need it). Empty: a free port chosen at start.",
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body.")
    metrics_public: bool = Field(False, description="Serve /metrics without an API key.")
    openapi_public: bool = Field(
        False, description="Serve the OpenAPI document (/openapi.json) without an API key."
    )
    max_messages: int = Field(
        2048,
        ge=1,
        description="Most messages one chat request may carry; a longer one is rejected (400) "
        "before anything is tokenized or redacted.",
    )
    ray_num_cpus: int | None = Field(
        None,
        ge=1,
        description="Logical CPUs the local Ray instance advertises (default: max(4, cores)).",
    )
    state_purge_interval_s: float = Field(
        600.0,
        gt=0,
        description="How often each ingress replica deletes expired values and counters "
        "(rate-limit windows, cache entries) from the shared state store.",
    )


class Settings(BaseSettings):
    """All of Bastion's configuration. Load it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="BASTION_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path("./data"), description="Keys, audit log and state live here.")
    site: str = Field("local", description="Site id this node advertises to Ray as `site:<id>`.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    server: ServerConfig = Field(default_factory=ServerConfig, description="HTTP settings.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Ingress deployment.")
    models: list[ModelConfig] = Field(
        default_factory=lambda: [ModelConfig(name="smollm2-135m-instruct")],
        description="Model versions to serve.",
    )
    embeddings: EmbeddingConfig = Field(
        default_factory=EmbeddingConfig, description="Embedding model."
    )
    policy: PolicySettings = Field(default_factory=PolicySettings, description="Policy layer.")
    registry: RegistryConfig = Field(
        default_factory=RegistryConfig,
        description="Prompt templates and starting points of aliases (docs/models.md).",
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig, description="Identifier detection (docs/privacy.md)."
    )
    audit: AuditConfig = Field(
        default_factory=AuditConfig, description="Audit log (docs/audit.md)."
    )
    structured_output: StructuredOutputConfig = Field(
        default_factory=StructuredOutputConfig,
        description="response_format validation (docs/structured-output.md).",
    )
    usage: UsageSettings = Field(
        default_factory=UsageSettings,
        description="Usage ledger, budgets and rate limits (docs/usage-and-budgets.md).",
    )
    cache: CacheSettings = Field(
        default_factory=CacheSettings,
        description="Semantic cache; tenants opt in by policy (docs/cache.md).",
    )
    batch: BatchSettings = Field(
        default_factory=BatchSettings,
        description="Batch API: concurrency, priority, retention (docs/batch.md).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: BASTION_* overrides what the YAML file (passed as init kwargs) says.
        return env_settings, init_settings

    @model_validator(mode="after")
    def _unique_models(self) -> Settings:
        if not self.models:
            raise ValueError("models: at least one model version is required")
        seen: set[str] = set()
        for model in self.models:
            if model.key in seen:
                raise ValueError(f"models: duplicate model version {model.key}")
            seen.add(model.key)
        return self

    @model_validator(mode="after")
    def _registry(self) -> Settings:
        from models.registry import check_registry

        check_registry(self)  # aliases name configured versions (docs/models.md)
        return self

    def policy_files(self) -> list[Path]:
        return list(self.policy.files) or [self.data_dir / "policy.yaml"]

    def model(self, key: str) -> ModelConfig:
        for model in self.models:
            if model.key == key:
                return model
        raise KeyError(key)


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def load_settings(path: Path | str | None = None) -> Settings:
    """Load ``path`` (YAML, optional, default ``$BASTION_CONFIG``), then ``BASTION_*`` env vars.

    Raises :class:`ConfigError` naming the file and each invalid field.
    """
    data: dict[str, Any] = {}
    source = "defaults and environment"
    if path is None and os.environ.get("BASTION_CONFIG"):
        path = os.environ["BASTION_CONFIG"]
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"configuration file {path} must be a mapping at the top level")
        data = loaded or {}
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc
