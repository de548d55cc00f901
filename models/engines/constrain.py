"""Constrained decoding: what each engine is given so that every token it samples keeps the
answer inside ``response_format`` (``json_object``: any JSON object; ``json_schema``: an instance
of the schema).

- llama.cpp: a GBNF grammar built from the JSON Schema (:func:`llama_grammar`);
- transformers: a logits processor over the tokenizer's vocabulary (:class:`JsonLogitsProcessor`,
  lm-format-enforcer's character-level JSON Schema parser);
- vLLM: its structured-output (guided decoding) parameters (:func:`vllm_sampling_kwargs`).

A schema feature a builder cannot express falls back to the generic JSON object constraint; the
serving layer validates every answer against the full schema whatever the engine did
(serving/pipeline/structured.py), so a weaker constraint can cost a retry, never correctness.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from models.engines.base import ResponseFormat

__all__ = [
    "JsonLogitsProcessor",
    "TokenizerData",
    "json_object_schema",
    "llama_grammar",
    "vllm_sampling_kwargs",
]

log = logging.getLogger("bastion.engines")

# JSON strings must not hold raw control characters (RFC 8259 §7); llama.cpp's converter allows
# them in ``char``, so the rule is tightened (a raw newline in a string is invalid JSON).
_LOOSE_CHAR = 'char ::= [^"\\\\]'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F]'


def json_object_schema() -> dict[str, Any]:
    """``json_object``: any JSON object."""
    return {"type": "object"}


def _schema(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type == "json_schema" and fmt.schema:
        return json.loads(fmt.schema)
    return json_object_schema()


@functools.lru_cache(maxsize=128)
def _gbnf(kind: str, schema: str | None) -> str:
    from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

    if kind == "json_schema" and schema:
        try:
            return json_schema_to_gbnf(schema).replace(_LOOSE_CHAR, _STRICT_CHAR)
        except Exception as exc:  # a feature the converter lacks: constrain to an object
            log.warning(
                "schema not expressible as a grammar; constraining to a JSON object",
                extra={"error_type": type(exc).__name__},
            )
    return JSON_GBNF


def llama_grammar(fmt: ResponseFormat) -> Any:
    """The ``llama_cpp.LlamaGrammar`` for ``fmt`` (None for ``text``). Grammar texts are cached
    per schema; the grammar object itself is cheap and made per generation."""
    if not fmt.structured:
        return None
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(_gbnf(fmt.type, fmt.schema), verbose=False)


def vllm_sampling_kwargs(fmt: ResponseFormat, sampling_params: Any) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` that constrain decoding to ``fmt``.

    ``sampling_params`` is the ``vllm.sampling_params`` module: vLLM ≥ 0.10.2 takes
    ``structured_outputs=StructuredOutputsParams(...)``, earlier releases
    ``guided_decoding=GuidedDecodingParams(...)``; both take ``json=`` (a schema) or
    ``json_object=True``.
    """
    if not fmt.structured:
        return {}
    spec: dict[str, Any] = (
        {"json": json.loads(fmt.schema)}
        if fmt.type == "json_schema" and fmt.schema
        else {"json_object": True}
    )
    new = getattr(sampling_params, "StructuredOutputsParams", None)
    if new is not None:
        return {"structured_outputs": new(**spec)}
    old = getattr(sampling_params, "GuidedDecodingParams", None)
    if old is not None:
        return {"guided_decoding": old(**spec)}
    raise RuntimeError("this vLLM has no structured-output parameters")


class TokenizerData:
    """lm-format-enforcer's view of one Hugging Face tokenizer (built once per engine: it
    decodes every token of the vocabulary, a few seconds for 50k tokens)."""

    def __init__(self, tokenizer: Any, eos_ids: list[int]) -> None:
        from lmformatenforcer.tokenenforcer import TokenEnforcerTokenizerData

        size = len(tokenizer)
        special = set(tokenizer.all_special_ids)
        zero = tokenizer.encode("0", add_special_tokens=False)[-1]
        regular: list[tuple[int, str, bool]] = []
        for token in range(size):
            if token in special:
                continue
            # decoded after "0" keeps a word-start token's leading space
            after_zero = tokenizer.decode([zero, token])[1:]
            alone = tokenizer.decode([token])
            regular.append((token, after_zero, len(after_zero) > len(alone)))

        def decode(tokens: list[int]) -> str:
            return tokenizer.decode(tokens).rstrip("\ufffd")

        self.data = TokenEnforcerTokenizerData(regular, decode, eos_ids, False, size)


class JsonLogitsProcessor:
    """Masks every token that cannot continue a valid answer (a logits processor: called with
    the token ids so far and the next token's logits, returns the masked logits).

    One instance per generation. The first call's ids are taken as the prompt.
    """

    def __init__(self, tokenizer: TokenizerData, fmt: ResponseFormat) -> None:
        from lmformatenforcer import JsonSchemaParser, TokenEnforcer

        try:
            parser = JsonSchemaParser(_schema(fmt))
        except Exception as exc:  # a feature the parser lacks: constrain to an object
            log.warning(
                "schema not supported by the logits processor; constraining to a JSON object",
                extra={"error_type": type(exc).__name__},
            )
            parser = JsonSchemaParser(json_object_schema())
        self._enforcer = TokenEnforcer(tokenizer.data, parser)

    def allowed(self, ids: list[int]) -> list[int]:
        return list(self._enforcer.get_allowed_tokens(ids).allowed_tokens)

    def __call__(self, ids: list[int], logits: Any) -> Any:
        import torch

        allowed = self.allowed(ids)
        mask = torch.full_like(logits, float("-inf"))
        mask[torch.tensor(allowed, dtype=torch.long, device=logits.device)] = 0
        return logits + mask
