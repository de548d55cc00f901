"""Batch API input for the batch tests: one chat line, and lines as a JSONL file's bytes."""

from __future__ import annotations

import json
from typing import Any

MODEL = "smollm2-135m-instruct"


def chat_line(cid: str, text: str, model: str = MODEL, max_tokens: int = 4) -> dict[str, Any]:
    """A ``/v1/chat/completions`` batch line (greedy, ``max_tokens`` tokens)."""
    return {
        "custom_id": cid,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": max_tokens,
            "temperature": 0,
        },
    }


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
