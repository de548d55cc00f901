"""Render a model's own Jinja2 chat template (the one stored with its weights) exactly as
transformers' ``apply_chat_template`` does: the same sandboxed environment
(``trim_blocks``, ``lstrip_blocks``), the same extensions (``loopcontrols`` and the
``{% generation %}`` block), the same ``tojson`` filter (no HTML escaping, ``ensure_ascii=False``,
``indent``/``separators``/``sort_keys`` options) and the same globals (``raise_exception``,
``strftime_now``). tests/models/test_chat_template.py renders through both and compares.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import TemplateError, nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["ChatTemplateError", "render_chat_template"]

# Used only when the weights carry no template at all (ChatML, the most common default).
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class ChatTemplateError(ValueError):
    """The messages do not fit the model's chat template (e.g. roles out of order)."""


class _TemplateRaised(TemplateError):
    """``raise_exception(...)`` called by the template itself."""


def _raise(message: str) -> None:
    raise _TemplateRaised(message)


def _tojson(
    x: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # transformers' override: jinja's own tojson escapes HTML characters.
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


class _Generation(Extension):
    """``{% generation %}...{% endgeneration %}``: marks assistant text for training masks in
    transformers; rendering the body unchanged is all inference needs."""

    tags = {"generation"}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_render", [])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render(self, caller: Any) -> str:
        return caller()


@lru_cache(maxsize=16)
def _compile(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


def render_chat_template(
    template: str | None,
    messages: list[dict[str, str]],
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """Render ``messages`` with ``add_generation_prompt=True``."""
    try:
        return _compile(template or CHATML).render(
            messages=messages,
            tools=None,
            documents=None,
            add_generation_prompt=True,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except _TemplateRaised as exc:
        raise ChatTemplateError(str(exc.message)) from None
    except TemplateError as exc:
        raise ChatTemplateError(f"chat template failed: {exc.message}") from exc
