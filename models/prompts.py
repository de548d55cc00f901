"""Prompt templates: named system prompts with versions (``name@version``), rendered with
variables. They are declared in the configuration (``registry.prompts``), are immutable once
served (a change is a new version), and are selected per request by the client (``prompt`` in
the chat request body) directly (``triage@2``), by name (its newest version) or through an alias
(models/aliases.py), which an ML owner can promote, split and roll back like a model alias.

Rendering is plain substitution of ``{{ name }}`` placeholders, never code: a template cannot
run anything and a value cannot inject another placeholder (one pass, left to right). The
rendered text becomes the request's first (system) message *before* redaction, so a variable
holding an identifier is redacted like any message text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PromptError",
    "PromptRef",
    "PromptTemplate",
    "PromptTemplates",
    "render",
]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_VAR = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_VALUE_CHARS = 4000


class PromptError(ValueError):
    """A prompt reference or its variables are invalid; the message names no value the client
    sent beyond variable names (which the template declares)."""

    def __init__(self, message: str, param: str = "prompt") -> None:
        super().__init__(message)
        self.param = param


class PromptTemplate(BaseModel):
    """One version of a named system prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., description="Template name, e.g. `triage`.")
    version: str = Field(..., description="Version label; the template id is `name@version`.")
    template: str = Field(
        ...,
        min_length=1,
        max_length=32_000,
        description="System prompt text with `{{ variable }}` placeholders.",
    )
    variables: dict[str, str | None] = Field(
        default_factory=dict,
        description="Each placeholder's default value; null: the request must supply it.",
    )

    @field_validator("name", "version")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("use lowercase letters, digits, '.', '_' or '-' (max 63 chars)")
        return value

    @model_validator(mode="after")
    def _declared(self) -> PromptTemplate:
        used = set(_PLACEHOLDER.findall(self.template))
        for var in used | set(self.variables):
            if not _VAR.match(var):
                raise ValueError("variable names: lowercase letters, digits, '_' (max 32)")
        if missing := used - set(self.variables):
            raise ValueError(f"placeholders not declared in variables: {sorted(missing)}")
        if unused := set(self.variables) - used:
            raise ValueError(f"variables not used by the template: {sorted(unused)}")
        return self

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class PromptRef(BaseModel):
    """What a chat request names (``"prompt": {...}`` in the body): a template by
    ``name@version``, by name (its newest version) or by alias, and its variables."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=1, max_length=128, description="name, name@version or alias.")
    version: str | None = Field(
        None, max_length=64, description="Version label (instead of `name@version`)."
    )
    variables: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Values of the template's variables."
    )


def render(template: PromptTemplate, values: Mapping[str, str]) -> str:
    """The template with every placeholder replaced (a request value, else its default).
    Raises PromptError for an unknown or missing variable, or a value that is too long."""
    for name, value in values.items():
        if name not in template.variables:
            raise PromptError("the prompt template has no such variable", "prompt.variables")
        if len(value) > MAX_VALUE_CHARS:
            raise PromptError(
                f"prompt variables are at most {MAX_VALUE_CHARS} characters", "prompt.variables"
            )
    merged = {**{k: v for k, v in template.variables.items() if v is not None}, **values}
    if missing := sorted(set(template.variables) - set(merged)):
        raise PromptError(f"prompt variables required: {', '.join(missing)}", "prompt.variables")
    return _PLACEHOLDER.sub(lambda m: merged[m.group(1)], template.template)


class PromptTemplates:
    """The configured templates by id; ``latest(name)`` is the one configured last."""

    def __init__(self, templates: Iterable[PromptTemplate] = ()) -> None:
        self._by_key: dict[str, PromptTemplate] = {}
        self._latest: dict[str, str] = {}
        for t in templates:
            if t.key in self._by_key:
                raise ValueError(f"prompt template {t.key} is declared twice")
            self._by_key[t.key] = t
            self._latest[t.name] = t.key

    def get(self, key: str) -> PromptTemplate | None:
        return self._by_key.get(key)

    def latest(self, name: str) -> PromptTemplate | None:
        key = self._latest.get(name)
        return self._by_key[key] if key else None

    def names(self) -> set[str]:
        return set(self._latest)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_key.values())

    def __contains__(self, key: object) -> bool:
        return key in self._by_key
