"""Engine ``openai``: forwards to an existing OpenAI-compatible server on the site's own network.

Many sites already run vLLM, TGI, a llama.cpp server or Ollama. This engine puts Bastion's
privacy, policy and audit layers in front of such a server: it sends what the pipeline hands it
(redacted text only) to ``<base_url>/chat/completions`` or ``<base_url>/completions``, always
streaming, and passes the deltas through as they arrive.

Invariants:
- The upstream host MUST be listed for the model version's site in the policy documents
  (``sites[].upstream_hosts``); :func:`check_upstream_hosts` is run at start-up.
- Nothing is sent anywhere else: no proxy from the environment, no redirect followed.
- Errors are the typed errors below with fixed messages; upstream error text (which may quote
  the request) is never logged, echoed or kept.
- The API key comes from an environment variable or a file, never from the configuration file.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import re
import ssl
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.engines.base import (
    ChatMessage,
    ContextLengthExceeded,
    Delta,
    Engine,
    EngineError,
    EngineUnavailable,
    GenerationRequest,
    ModelInfo,
    ResponseFormat,
    Sampling,
    Usage,
)

__all__ = [
    "OpenAIEngine",
    "OpenAIUpstream",
    "UpstreamFailed",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "check_upstream_hosts",
]

log = logging.getLogger("bastion.model")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_RETRY_STATUS = frozenset({502, 503, 504})
_ERROR_BODY_LIMIT = 16_384  # bytes of an upstream error body read to recognise context errors


class UpstreamUnavailable(EngineUnavailable):
    """The upstream cannot take requests: unreachable, overloaded, or refusing Bastion's key."""


class UpstreamTimeout(EngineError):
    """The upstream did not answer within the read timeout."""


class UpstreamFailed(EngineError):
    """The upstream failed (5xx, a broken or malformed stream)."""


class UpstreamRejected(EngineError):
    """The upstream rejected the request (4xx other than a context-length error)."""


class OpenAIUpstream(BaseModel):
    """Where and how to reach the upstream server (``engine: openai``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(
        ...,
        description="The server's OpenAI API root, e.g. https://vllm.gpu.internal:8000/v1. "
        "Its host must be listed in the policy's upstream_hosts for the model's site.",
    )
    model: str = Field(
        ..., min_length=1, max_length=256, description="Model name the upstream server expects."
    )
    api_key_env: str | None = Field(
        None,
        description="Name of the environment variable holding the upstream's API key "
        "(sent as a bearer token). The key itself never goes into the configuration file.",
    )
    api_key_file: Path | None = Field(
        None, description="File holding the upstream's API key (first line; read at start)."
    )
    ca_bundle: Path | None = Field(
        None, description="PEM file of CA certificates to verify the upstream (https)."
    )
    client_cert: Path | None = Field(
        None, description="PEM client certificate for mutual TLS (may include the key)."
    )
    client_key: Path | None = Field(
        None, description="PEM private key of client_cert, when not in the same file."
    )
    connect_timeout_s: float = Field(5.0, gt=0, description="Timeout to open a connection.")
    read_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Longest wait for the next bytes of an answer (also the first ones, so it "
        "must cover the upstream's queueing and prompt processing).",
    )
    max_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries of a request that failed before any byte was streamed: connection "
        "errors, a connection dropped before the answer began, HTTP 502/503/504.",
    )
    retry_backoff_s: float = Field(
        0.2, ge=0, description="First pause between retries; doubles at each retry."
    )
    max_connections: int = Field(
        64, ge=1, description="Concurrent connections to the upstream per model server replica."
    )
    stream_usage: bool = Field(
        True,
        description="Ask for token usage at the end of streams (stream_options.include_usage). "
        "false for a server that rejects the field; usage is then estimated.",
    )
    response_format: bool = Field(
        False,
        description="The upstream enforces `response_format` (JSON mode / JSON schema), as vLLM "
        "and llama.cpp servers do: pass it through. false: such requests are refused.",
    )
    allow_plain_http: bool = Field(
        False,
        description="Allow http:// to a host other than loopback. Without it, an http:// "
        "base_url must point at 127.0.0.1, ::1 or localhost; use https otherwise.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_literal_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in ("api_key", "key", "token")):
            raise ValueError(
                "an API key must not be written in the configuration: name an environment "
                "variable (api_key_env) or a file (api_key_file)"
            )
        return data

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            # Never echo the value: it may be a key pasted into the wrong field.
            raise ValueError("must be the name of an environment variable, not the key itself")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError):
            raise ValueError("not a valid URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http(s) URL with a host")
        if url.userinfo:
            raise ValueError("must not contain credentials: use api_key_env or api_key_file")
        if url.query or url.fragment:
            raise ValueError("must not have a query or a fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> OpenAIUpstream:
        if self.api_key_env and self.api_key_file:
            raise ValueError("set api_key_env or api_key_file, not both")
        if self.client_key and not self.client_cert:
            raise ValueError("client_key needs client_cert")
        url = httpx.URL(self.base_url)
        if url.scheme == "http" and not self.allow_plain_http and not _is_loopback(url.host):
            raise ValueError(
                "base_url uses plain http to a non-loopback host: use https, or set "
                "allow_plain_http: true"
            )
        if url.scheme == "http" and (self.ca_bundle or self.client_cert):
            raise ValueError("ca_bundle and client_cert need an https base_url")
        return self

    @property
    def host(self) -> str:
        return httpx.URL(self.base_url).host

    @property
    def port(self) -> int:
        url = httpx.URL(self.base_url)
        return url.port or (443 if url.scheme == "https" else 80)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _UpstreamModel(Protocol):
    """What the host check needs of a model version's configuration (serving.config)."""

    engine: str
    site: str | None
    upstream: OpenAIUpstream | None

    @property
    def key(self) -> str: ...


class _Sites(Protocol):
    def site(self, site_id: str) -> Any: ...


def check_upstream_hosts(models: Iterable[_UpstreamModel], policy: _Sites) -> list[str]:
    """Problems (empty when none) with each ``engine: openai`` version's upstream host: it must be
    listed in ``upstream_hosts`` of the version's site in ``policy`` (a PolicySet). The site is
    the one the policy documents declare for the version (the configuration need not repeat it;
    when it does, the two agree: models/registry.py)."""
    declared = {m.id: m.site for m in getattr(policy, "models", ())}
    problems = []
    for model in models:
        if model.engine != "openai" or model.upstream is None:
            continue
        site_id = model.site or declared.get(model.key)
        site = policy.site(site_id) if site_id is not None else None
        upstream = model.upstream
        if site is None:
            problems.append(
                f"model {model.key}: site {site_id} is not declared in the policy documents"
            )
        elif not site.allows_upstream(upstream.host, upstream.port):
            problems.append(
                f"model {model.key}: upstream host {upstream.host}:{upstream.port} is not in "
                f"upstream_hosts of site {site_id} in the policy documents"
            )
    return problems


class OpenAIEngine(Engine):
    """Forwards generations to an OpenAI-compatible server (see the module docstring).

    ``chat`` sends the messages as a chat request (the upstream applies its own template);
    ``complete`` sends a plain prompt. The upstream owns the tokenizer: ``count_tokens`` is only
    an estimate, and a request without ``max_tokens`` asks for ``default_max_tokens``. Usage
    figures are the upstream's own (``stream_options.include_usage``); a server that reports
    none in streams (llama-cpp-python's) gets estimates instead: the number of content chunks
    (one token each on vLLM, TGI and llama.cpp servers) and the prompt estimate, and a warning
    says so once.
    """

    def __init__(
        self,
        name: str,
        version: str,
        upstream: OpenAIUpstream,
        context_length: int = 2048,
    ) -> None:
        self.upstream = upstream
        self._client: httpx.AsyncClient | None = None
        self._headers: dict[str, str] = {}
        self._start_lock = asyncio.Lock()
        self._warned_usage = False
        self.info = ModelInfo(
            name, version, "openai", context_length, {"upstream_host": upstream.host}
        )

    async def start(self) -> None:
        async with self._start_lock:
            if self._client is not None:
                return
            up = self.upstream
            key = _read_key(up)
            self._headers = {"authorization": f"Bearer {key}"} if key else {}
            verify: ssl.SSLContext | bool = True
            if httpx.URL(up.base_url).scheme == "https":
                verify = _tls_context(up)
            self._client = httpx.AsyncClient(
                base_url=up.base_url + "/",
                verify=verify,
                timeout=httpx.Timeout(
                    connect=up.connect_timeout_s,
                    read=up.read_timeout_s,
                    write=up.read_timeout_s,
                    pool=up.read_timeout_s,
                ),
                limits=httpx.Limits(
                    max_connections=up.max_connections,
                    max_keepalive_connections=up.max_connections,
                ),
                follow_redirects=False,  # a redirect could lead off the allowed host
                trust_env=False,  # no HTTP(S)_PROXY, no netrc: talk to base_url only
            )

    def chat(self, messages: tuple[ChatMessage, ...], sampling: Sampling) -> AsyncIterator[Delta]:
        body = self._body(sampling)
        body["messages"] = [m.as_dict() for m in messages]
        prompt_chars = "".join(m.content for m in messages)
        return self._stream("chat/completions", body, True, prompt_chars, len(messages))

    def complete(self, prompt: str, sampling: Sampling) -> AsyncIterator[Delta]:
        body = self._body(sampling)
        body["prompt"] = prompt
        return self._stream("completions", body, False, prompt, 0)

    def generate(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        """A rendered prompt, sent as a plain completion (prefer :meth:`chat`)."""
        body = self._body(request)
        body["prompt"] = request.prompt
        return self._stream("completions", body, False, request.prompt, 0)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        raise EngineError("the upstream model server applies its own chat template")

    def count_tokens(self, text: str) -> int:
        """An estimate (about four UTF-8 bytes per token): the tokenizer is the upstream's."""
        return len(text.encode("utf-8")) // 4 + 1

    def _body(self, sampling: Sampling | GenerationRequest) -> dict[str, Any]:
        if self._client is None:
            raise EngineUnavailable("engine not started")
        max_tokens = sampling.max_tokens
        body: dict[str, Any] = {
            "model": self.upstream.model,
            "max_tokens": self.default_max_tokens if max_tokens is None else max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "stream": True,
        }
        if self.upstream.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        fmt = sampling.response_format
        if fmt.structured:
            if not self.upstream.response_format:
                raise EngineError(f"response_format {fmt.type} is not supported by this upstream")
            body["response_format"] = _response_format(fmt)
        return body

    async def _stream(
        self, path: str, body: dict[str, Any], chat: bool, prompt: str, turns: int
    ) -> AsyncIterator[Delta]:
        response = await self._send(path, body)
        finish: str | None = None
        usage: Usage | None = None
        done = False
        pieces = 0
        try:
            async for data in _sse_data(response):
                if data == "[DONE]":
                    done = True
                    break
                try:
                    event = json.loads(data)
                except ValueError:
                    raise UpstreamFailed(
                        "the upstream model server sent a malformed event"
                    ) from None
                if not isinstance(event, dict) or "error" in event:
                    raise UpstreamFailed("the upstream model server failed while streaming")
                if event.get("usage"):
                    usage = _usage(event["usage"])
                for choice in event.get("choices") or ():
                    if choice.get("index", 0) != 0:
                        continue
                    text = (
                        (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                    )
                    if text:
                        pieces += 1
                        yield Delta(text)
                    if choice.get("finish_reason"):
                        finish = "length" if choice["finish_reason"] == "length" else "stop"
        except httpx.TimeoutException:
            raise UpstreamTimeout("the upstream model server stopped answering in time") from None
        except httpx.TransportError:
            raise UpstreamFailed("the upstream model server broke the stream") from None
        finally:
            await response.aclose()
        if finish is None and not done:
            raise UpstreamFailed("the upstream model server ended the stream early")
        if usage is None:
            if not self._warned_usage:
                self._warned_usage = True
                log.warning(
                    "upstream reports no usage in streams; token figures are estimates",
                    extra={"model": self.info.name},
                )
            usage = Usage(self.count_tokens(prompt) + 4 * turns, pieces)
        yield Delta("", finish or "stop", usage)

    async def _send(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST and return the streaming response once its status is 2xx, retrying failures that
        happened before any byte of an answer (connection errors, 502/503/504)."""
        assert self._client is not None
        up = self.upstream
        for attempt in range(up.max_retries + 1):
            last = attempt == up.max_retries
            if attempt:
                await asyncio.sleep(up.retry_backoff_s * 2 ** (attempt - 1))
            request = self._client.build_request("POST", path, json=body, headers=self._headers)
            try:
                response = await self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError):
                # RemoteProtocolError here: the connection closed before an answer began (a
                # kept-alive connection the server had just dropped), so nothing was streamed.
                if last:
                    raise UpstreamUnavailable("the upstream model server is unreachable") from None
                continue
            except httpx.PoolTimeout:
                raise UpstreamUnavailable("too many requests waiting for the upstream") from None
            except httpx.TimeoutException:
                raise UpstreamTimeout("the upstream model server did not answer in time") from None
            except httpx.TransportError:
                raise UpstreamFailed("the upstream model server connection failed") from None
            if response.status_code < 300:
                return response
            if response.status_code in _RETRY_STATUS and not last:
                await response.aclose()
                continue
            raise await _status_error(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _response_format(fmt: ResponseFormat) -> dict[str, Any]:
    """``response_format`` as the upstream's OpenAI API takes it (name and strict kept)."""
    if fmt.type == "json_object":
        return {"type": "json_object"}
    schema = json.loads(fmt.schema or "{}")
    spec: dict[str, Any] = {"name": fmt.name or "response", "schema": schema}
    if fmt.strict:
        spec["strict"] = True
    return {"type": "json_schema", "json_schema": spec}


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)


def _usage(raw: Any) -> Usage:
    try:
        return Usage(int(raw["prompt_tokens"]), int(raw["completion_tokens"]))
    except (KeyError, TypeError, ValueError):
        raise UpstreamFailed("the upstream model server sent malformed usage figures") from None


# Context-window errors of common servers, read for their numbers only (never echoed):
# vLLM / OpenAI / llama-cpp-python's server: "maximum context length is 2048 tokens. However, you
# requested 2100 tokens (2000 in the messages, 100 in the completion)" (wording varies a little);
# llama-cpp-python's Llama: "Requested tokens (2100) exceed context window of 2048".
_VLLM_CONTEXT = re.compile(
    r"maximum context length is (\d+) tokens.{0,40}?requested (\d+) tokens \((\d+) in",
    re.DOTALL | re.IGNORECASE,
)
_LLAMA_CONTEXT = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


async def _status_error(response: httpx.Response) -> EngineError:
    """A typed error for a non-2xx answer; the body is read (bounded) only to recognise a
    context-length error by its numbers, and then dropped."""
    status = response.status_code
    body = b""
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    if status in (400, 413, 422):
        text = body.decode("utf-8", errors="replace")
        if match := _VLLM_CONTEXT.search(text):
            context, total, prompt = (int(g) for g in match.groups())
            return ContextLengthExceeded(context, prompt, max(0, total - prompt))
        if match := _LLAMA_CONTEXT.search(text):
            total, context = (int(g) for g in match.groups())
            return ContextLengthExceeded(context, total, 0)
    if status in (401, 403):
        return UpstreamUnavailable(
            f"the upstream model server refused Bastion's key (HTTP {status})"
        )
    if status == 429 or status in _RETRY_STATUS:
        return UpstreamUnavailable(f"the upstream model server is unavailable (HTTP {status})")
    if 300 <= status < 400:
        return UpstreamFailed(f"the upstream model server redirected (HTTP {status})")
    if status < 500:
        return UpstreamRejected(f"the upstream model server rejected the request (HTTP {status})")
    return UpstreamFailed(f"the upstream model server failed (HTTP {status})")


def _read_key(up: OpenAIUpstream) -> str | None:
    if up.api_key_env:
        key = os.environ.get(up.api_key_env, "").strip()
        if not key:
            raise EngineUnavailable(f"environment variable {up.api_key_env} (API key) is not set")
        return key
    if up.api_key_file:
        try:
            key = up.api_key_file.expanduser().read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise EngineUnavailable(f"cannot read the API key file: {type(exc).__name__}") from None
        if not key or not key[0].strip():
            raise EngineUnavailable("the API key file is empty")
        return key[0].strip()
    return None


def _tls_context(up: OpenAIUpstream) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(
            cafile=str(up.ca_bundle.expanduser()) if up.ca_bundle else None
        )
        if up.client_cert:
            context.load_cert_chain(
                str(up.client_cert.expanduser()),
                str(up.client_key.expanduser()) if up.client_key else None,
            )
    except (OSError, ssl.SSLError) as exc:
        raise EngineUnavailable(f"cannot load the TLS files: {type(exc).__name__}") from None
    return context
