"""Batch input files: parsed and validated whole before a job is accepted (400 otherwise), and
the OpenAI batch object."""

from __future__ import annotations

import json
from typing import Any

from serving.pipeline.errors import InvalidRequest
from serving.pipeline.state import Route

__all__ = ["ENDPOINTS", "openai_batch", "parse_input"]

ENDPOINTS: dict[str, Route] = {
    "/v1/chat/completions": Route.CHAT,
    "/v1/completions": Route.COMPLETION,
    "/v1/embeddings": Route.EMBEDDING,
}


def parse_input(data: bytes, endpoint: str, max_lines: int) -> list[dict[str, Any]]:
    """The lines of a batch input file: ``{custom_id, method, url, body}`` objects, custom ids
    unique, every url the batch's endpoint. Errors name the line number, never its text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the input file is not UTF-8 JSONL", "input_file_id") from None
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            line = json.loads(raw)
        except ValueError:
            raise InvalidRequest(f"{where}: not valid JSON", "input_file_id") from None
        if not isinstance(line, dict):
            raise InvalidRequest(f"{where}: not a JSON object", "input_file_id")
        cid = line.get("custom_id")
        if not isinstance(cid, str) or not cid or len(cid) > 512:
            raise InvalidRequest(f"{where}: custom_id must be a non-empty string", "input_file_id")
        if cid in seen:
            raise InvalidRequest(f"{where}: duplicate custom_id", "input_file_id")
        seen.add(cid)
        if line.get("method", "POST") != "POST":
            raise InvalidRequest(f"{where}: method must be POST", "input_file_id")
        if line.get("url") != endpoint:
            raise InvalidRequest(f"{where}: url must be the batch's endpoint", "input_file_id")
        body = line.get("body")
        if not isinstance(body, dict):
            raise InvalidRequest(f"{where}: body must be a JSON object", "input_file_id")
        if body.get("stream"):
            raise InvalidRequest(f"{where}: streaming is not supported in a batch", "input_file_id")
        lines.append({"custom_id": cid, "url": endpoint, "body": body})
        if len(lines) > max_lines:
            raise InvalidRequest(f"the input file has more than {max_lines} lines", "input_file_id")
    if not lines:
        raise InvalidRequest("the input file has no requests", "input_file_id")
    return lines


def openai_batch(job: dict[str, Any], cancelling: bool = False) -> dict[str, Any]:
    """The job as OpenAI's batch object (Bastion's own fields, prefixed ``_``, left out)."""
    out = {k: v for k, v in job.items() if not k.startswith("_")}
    if cancelling and out["status"] in ("validating", "in_progress", "finalizing"):
        out["status"] = "cancelling"
    out.setdefault("metadata", None)
    return out
