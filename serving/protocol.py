"""OpenAI-compatible request and response models: the one source of Bastion's wire schemas.

Request models are strict where OpenAI is strict: no type coercion (``"yes"`` is not a boolean,
``false`` is not a number; an integer is a valid number), unknown fields rejected, and every
text must be valid Unicode. Size caps (messages, embedding inputs) are checked before the items
themselves are validated, so an oversized request is rejected before any real work.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.prompts import PromptRef

__all__ = [
    "API_FIELDS",
    "REQUEST_LIMITS",
    "ChatCompletionRequest",
    "ChatMessage",
    "CompletionRequest",
    "EmbeddingRequest",
    "ErrorBody",
    "ErrorResponse",
    "JSONSchemaFormat",
    "RequestLimits",
    "ResponseFormat",
    "StreamOptions",
    "first_error",
    "param_path",
    "parse_request",
    "unrecognized_arguments",
    "validation_message",
]


@dataclass(frozen=True)
class RequestLimits:
    """Per-request caps, checked while the body is validated, before any text is tokenized or
    redacted (settings ``server.max_messages`` and ``embeddings.max_inputs``)."""

    max_messages: int = 2048
    max_embedding_inputs: int = 256


# The caps in force for the request being validated. The HTTP app sets them for each request
# (serving/limits.py), so two apps in one process may differ. Unset: the defaults.
REQUEST_LIMITS: ContextVar[RequestLimits | None] = ContextVar(
    "bastion_request_limits", default=None
)


def _limits() -> RequestLimits:
    return REQUEST_LIMITS.get() or RequestLimits()


_SURROGATE = re.compile("[\ud800-\udfff]")
UNICODE_ERROR = (
    "text must be valid Unicode: lone surrogate escapes (\\ud800-\\udfff) are not allowed"
)


def _valid_unicode(value: Any) -> Any:
    """JSON can carry a lone surrogate escape (``"\\ud800"``); such a string is not Unicode
    text (it cannot be encoded for the model), so the field is rejected with a 400."""
    items = value if isinstance(value, list) else (value,)
    for item in items:
        text = item.text if isinstance(item, TextPart) else item
        if isinstance(text, str) and not text.isascii() and _SURROGATE.search(text):
            raise ValueError(UNICODE_ERROR)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Request(_Strict):
    @field_validator("*", mode="after")
    @classmethod
    def _unicode(cls, value: Any) -> Any:
        return _valid_unicode(value)


class StreamOptions(_Request):
    include_usage: bool = False


class TextPart(_Strict):
    """Checked as part of its message's ``content`` (so the error names that field)."""

    type: Literal["text"]
    text: str


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(None, max_length=64)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


Stop = str | Annotated[list[str], Field(max_length=4)] | None

# Optional parameters that OpenAI documents as nullable: ``null`` means the default.
_NULLABLE = ("temperature", "top_p", "n", "stream", "presence_penalty", "frequency_penalty")


class _Sampling(_Request):
    model: str = Field(..., min_length=1, max_length=200)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: Stop = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    stream: bool = False
    stream_options: StreamOptions | None = Field(None, description="Only with `stream: true`.")
    n: int = Field(1, ge=1, le=1, description="Only n=1 is supported.")
    user: str | None = Field(None, max_length=256)
    presence_penalty: float = Field(0.0, ge=0.0, le=0.0, description="Not supported; must be 0.")
    frequency_penalty: float = Field(0.0, ge=0.0, le=0.0, description="Not supported; must be 0.")

    @field_validator(*_NULLABLE, mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name is not None:
            return cls.model_fields[info.field_name].default
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: Stop) -> Stop:
        if isinstance(value, list) and any(not s for s in value):
            raise ValueError("stop sequences must not be empty")
        return value

    @model_validator(mode="after")
    def _stream_options(self) -> _Sampling:
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed when stream is true")
        return self

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


_SCHEMA_DEPTH = 32  # nesting levels of a response_format schema (grammar builders recurse)


def _schema_problem(schema: Any, strict: bool, depth: int = 0) -> str | None:
    """Why ``schema`` cannot be served (None: it can). Names JSON Schema keywords only."""
    if depth > _SCHEMA_DEPTH:
        return f"nests deeper than {_SCHEMA_DEPTH} levels"
    if isinstance(schema, list):
        for item in schema:
            problem = _schema_problem(item, strict, depth + 1)
            if problem:
                return problem
        return None
    if not isinstance(schema, dict):
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        return "$ref must point inside the schema (#...): nothing is fetched"
    if strict and (schema.get("type") == "object" or "properties" in schema):
        if schema.get("additionalProperties") is not False:
            return "strict mode: every object must set additionalProperties to false"
        properties = schema.get("properties") or {}
        if isinstance(properties, dict) and set(schema.get("required") or ()) != set(properties):
            return "strict mode: every property of an object must be required"
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(
            value, dict
        ):
            value = list(value.values())
        if key not in ("enum", "const", "default", "examples"):
            problem = _schema_problem(value, strict, depth + 1)
            if problem:
                return problem
    return None


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, list):
        return [ref for item in schema for ref in _refs(item)]
    if not isinstance(schema, dict):
        return []
    own = [schema["$ref"]] if isinstance(schema.get("$ref"), str) else []
    return own + [ref for key, value in schema.items() if key != "enum" for ref in _refs(value)]


def _resolves(root: Any, ref: str) -> bool:
    """Whether ``#/a/b`` (a JSON pointer inside the schema) names a part of ``root``."""
    node = root
    for raw in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else ():
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


class JSONSchemaFormat(_Request):
    """``response_format.json_schema`` as OpenAI defines it."""

    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = Field(None, max_length=4096)
    schema_: dict[str, Any] | None = Field(
        None,
        alias="schema",
        description="A JSON Schema; absent: any JSON object. `$ref` only inside the schema.",
    )
    strict: bool | None = Field(
        None,
        description="true: the schema follows OpenAI's strict subset (every object sets "
        "additionalProperties false and requires all its properties).",
    )

    @model_validator(mode="after")
    def _valid_schema(self) -> JSONSchemaFormat:
        if self.schema_ is None:
            return self
        from jsonschema import Draft202012Validator, validators

        problem = _schema_problem(self.schema_, bool(self.strict))
        if problem:
            raise ValueError(f"schema {problem}")
        if not all(_resolves(self.schema_, ref) for ref in _refs(self.schema_)):
            raise ValueError("schema has a $ref that points nowhere inside it")
        try:
            validators.validator_for(self.schema_, default=Draft202012Validator).check_schema(
                self.schema_
            )
        except Exception:  # SchemaError, or a malformed $schema: never a 500
            raise ValueError("schema is not a valid JSON Schema") from None
        return self


class ResponseFormat(_Request):
    """``text``, ``json_object`` (any JSON object) or ``json_schema`` (an instance of
    ``json_schema.schema``): docs/structured-output.md."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JSONSchemaFormat | None = Field(None, description="With `type: json_schema`.")

    @model_validator(mode="after")
    def _schema_with_its_type(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema is required when type is json_schema")
        if self.type != "json_schema" and self.json_schema is not None:
            raise ValueError("json_schema is only allowed when type is json_schema")
        return self

    @property
    def answer_schema(self) -> dict[str, Any] | None:
        """The JSON Schema the answer must satisfy (None: text)."""
        if self.type == "text":
            return None
        if self.json_schema is None or self.json_schema.schema_ is None:
            return {"type": "object"}
        return self.json_schema.schema_

    def wire(self) -> Any:
        """The engine wire's ``ResponseFormat`` (models/engines/base.py)."""
        from models.engines.base import ResponseFormat as Wire

        spec = self.json_schema
        if self.type != "json_schema" or spec is None:
            return Wire(type=self.type)
        schema = json.dumps(spec.schema_) if spec.schema_ is not None else None
        return Wire("json_schema", schema, spec.name, bool(spec.strict))


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(
        ...,
        min_length=1,
        description="At most `server.max_messages` messages (default 2048).",
        json_schema_extra={"maxItems": RequestLimits.max_messages},
    )
    max_completion_tokens: int | None = Field(
        None, ge=1, description="Same as `max_tokens`; with both set, they must be equal."
    )
    response_format: ResponseFormat | None = None
    prompt: PromptRef | None = Field(
        None, description="Bastion: a prompt template (system prompt) to render first."
    )

    @field_validator("messages", mode="before")
    @classmethod
    def _message_cap(cls, value: Any) -> Any:
        limit = _limits().max_messages
        if isinstance(value, list) and len(value) > limit:
            raise ValueError(f"at most {limit} messages per request")
        return value

    @model_validator(mode="after")
    def _one_limit(self) -> ChatCompletionRequest:
        both = self.max_tokens is not None and self.max_completion_tokens is not None
        if both and self.max_tokens != self.max_completion_tokens:
            raise ValueError("set max_tokens or max_completion_tokens, not both")
        return self

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def _non_empty(value: str | list[str], what: str) -> str | list[str]:
    items = [value] if isinstance(value, str) else value
    if not items or value == "":
        raise ValueError(f"{what} must not be empty")
    if any(not item for item in items):
        raise ValueError(f"{what} strings must not be empty")
    return value


def _texts_schema(max_items: int | None = None) -> dict[str, Any]:
    """The JSON schema of ``str | list[str]`` with the validators' own limits."""
    text = {"type": "string", "minLength": 1}
    array: dict[str, Any] = {"type": "array", "items": text, "minItems": 1}
    if max_items is not None:
        array["maxItems"] = max_items
    return {"anyOf": [text, array]}


class CompletionRequest(_Sampling):
    prompt: str | list[str] = Field(
        ...,
        description="One non-empty prompt: a string, or a list of one string.",
        json_schema_extra=_texts_schema(max_items=1),
    )
    echo: bool = Field(False, description="Not supported; must be false.")

    @field_validator("echo", mode="before")
    @classmethod
    def _null_echo(cls, value: Any) -> Any:
        return False if value is None else value

    @field_validator("echo")
    @classmethod
    def _no_echo(cls, value: bool) -> bool:
        if value:
            raise ValueError("echo is not supported")
        return value

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        # An empty prompt gives the model nothing to continue from: 400, before any work.
        if isinstance(value, list) and len(value) > 1:
            raise ValueError("only one prompt per request is supported")
        return _non_empty(value, "prompt")

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def token_limit(self) -> int | None:
        return self.max_tokens


class EmbeddingRequest(_Request):
    model: str = Field(..., min_length=1, max_length=200)
    input: str | list[str] = Field(
        ...,
        description="A non-empty string, or a list of at most `embeddings.max_inputs` "
        "(default 256) non-empty strings.",
        json_schema_extra=_texts_schema(max_items=RequestLimits.max_embedding_inputs),
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)

    @field_validator("input", mode="before")
    @classmethod
    def _input_cap(cls, value: Any) -> Any:
        limit = _limits().max_embedding_inputs
        if isinstance(value, list) and len(value) > limit:
            raise ValueError(f"at most {limit} inputs per request")
        return value

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: str | list[str]) -> str | list[str]:
        return _non_empty(value, "input")

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


_M = TypeVar("_M", bound=BaseModel)


class ErrorResponse(BaseModel):
    """Every error Bastion returns: ``{"error": {...}}`` (OpenAI's shape)."""

    error: ErrorBody


def _request_fields() -> frozenset[str]:
    models = (
        ChatCompletionRequest,
        CompletionRequest,
        EmbeddingRequest,
        ChatMessage,
        TextPart,
        StreamOptions,
        ResponseFormat,
        JSONSchemaFormat,
    )
    return frozenset(name for model in models for name in model.model_fields) | {"schema"}


# Parameter names OpenAI's API defines that Bastion does not take. An unknown field with one of
# these names (or a name Bastion defines, misplaced) is named in the error; any other name is
# client-chosen text and is never echoed.
_OPENAI_ONLY = frozenset(
    {
        "audio",
        "best_of",
        "function_call",
        "functions",
        "image_url",
        "input_audio",
        "logit_bias",
        "logprobs",
        "metadata",
        "modalities",
        "parallel_tool_calls",
        "prediction",
        "reasoning_effort",
        "refusal",
        "service_tier",
        "store",
        "suffix",
        "tool_call_id",
        "tool_calls",
        "tool_choice",
        "tools",
        "top_logprobs",
        "web_search_options",
    }
)
API_FIELDS = _request_fields() | _OPENAI_ONLY


def param_path(loc: tuple[int | str, ...]) -> str | None:
    """A validation location as a ``param`` safe to echo: list indexes and field names the API
    defines; pydantic's union tags (``str``, ``list[TextPart]``) are left out, and any other
    key (client-chosen text) becomes ``?``."""
    parts = []
    for part in loc:
        if isinstance(part, int) or part in API_FIELDS:
            parts.append(str(part))
        elif not _UNION_TAG.match(str(part)):
            parts.append("?")
    return ".".join(parts) or None


_UNION_TAG = re.compile(r"^(str|int|float|bool|list\[.*\]|[a-z]+-[a-z-]+\[.*\])$")


def first_error(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The error to report. When a value fits no member of a union, pydantic lists one error
    per member; the member whose type matched (its error is not a ``*_type`` one) says what is
    really wrong, e.g. an unknown key inside a list of parts rather than "not a string"."""
    first = errors[0]
    if not first.get("type", "").endswith("_type"):
        return first
    for error in errors[1:]:
        if not error.get("type", "").endswith("_type") and error["loc"][:1] == first["loc"][:1]:
            return error
    return first


def validation_message(errors: list[Any]) -> tuple[str, str | None]:
    """``(message, param)`` for a failed request validation (pydantic's or FastAPI's error
    list). Never echoes request content: no input values, and only field names the API
    defines (:func:`param_path`, :func:`unrecognized_arguments`)."""
    if not errors:
        return "invalid request", None
    unknown = [_field_loc(e) for e in errors if e.get("type") == "extra_forbidden"]
    if unknown:
        return unrecognized_arguments(unknown)
    first = first_error(errors)
    kind = first.get("type", "")
    if kind == "json_invalid":
        return "request body is not valid JSON", None
    param = param_path(_field_loc(first))
    if kind == "missing":
        return f"missing required argument: {param}", param
    if kind == "string_unicode":  # pydantic's own check of a plain string field
        return f"invalid value for {param}: {UNICODE_ERROR}", param
    # pydantic's message; "input" (which may hold request content) is never included
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return (f"invalid value for {param}: {msg}" if param else msg), param


def _field_loc(error: dict[str, Any]) -> tuple[int | str, ...]:
    loc = tuple(error.get("loc", ()))
    return loc[1:] if loc[:1] in (("body",), ("query",), ("path",)) else loc


def parse_request(model: type[_M], raw: bytes | str) -> _M:
    """Validate a JSON body against a request model. JSON that Python's own parser accepts but
    pydantic's rejects (a lone surrogate escape) is validated again from Python's parse, so the
    error names the field, as on every other path."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if not any(e.get("type") == "json_invalid" for e in exc.errors()):
            raise
        try:
            data = json.loads(raw)
        except ValueError:
            raise exc from None
        return model.model_validate(data)


def unrecognized_arguments(locations: list[tuple[int | str, ...]]) -> tuple[str, str | None]:
    """The error message and ``param`` for unknown request fields, from each one's validation
    location. A field is named only if its name is one the API defines; any other name is
    client-chosen text (it could be an identifier) and only counted."""
    paths = []
    for loc in locations:
        if not loc or loc[-1] not in API_FIELDS:
            paths = []
            break
        # list indexes and field names; pydantic's union tags ("list[TextPart]") are left out
        parts = [str(p) for p in loc[:-1] if isinstance(p, int) or p in API_FIELDS]
        paths.append(".".join([*parts, str(loc[-1])]))
    if paths and len(paths) == 1:
        return f"unrecognized request argument: {paths[0]}", paths[0]
    if paths:
        return f"unrecognized request arguments: {', '.join(paths)}", paths[0]
    count = len(locations)
    return f"{count} unrecognized request argument{'s' if count != 1 else ''}", None
