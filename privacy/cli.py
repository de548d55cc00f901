"""``bastion redact``: redact JSON Lines (or plain text) from stdin to stdout.

Input, one object per line: ``{"text": "..."}``. Output, one line per input line::

    {"text": "<redacted>", "entities": [{"type": "PERSON", "start": 3, "end": 13, "score": 0.85}]}

``start``/``end`` index the original text (Python string offsets). This format is how others
evaluate the detector: keep it stable. ``--text`` reads all of stdin as one plain text and
writes one such line. Errors go to stderr and never quote the input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

__all__ = ["redact"]

_BATCH = 32


def _line(result: Any) -> str:
    entities = [
        {"type": s.entity_type, "start": s.start, "end": s.end, "score": round(s.score, 4)}
        for s in result.spans[0]
    ]
    return json.dumps({"text": result.texts[0], "entities": entities}, ensure_ascii=False)


def redact(
    text: bool = typer.Option(False, "--text", help="Read plain text on stdin, not JSON Lines."),
    config: Optional[Path] = typer.Option(  # noqa: UP045 - Typer needs Optional here
        None,
        "--config",
        help="Bastion YAML config; its top-level `privacy:` section is used.",
        exists=True,
        dir_okay=False,
    ),
) -> None:
    """Redact identifiers from stdin (JSON Lines {"text": ...}, or plain text with --text)."""
    from privacy.config import PrivacyConfig
    from privacy.errors import RedactionError
    from privacy.redactor import Redactor

    try:
        settings = PrivacyConfig.from_yaml(config) if config else PrivacyConfig()
    except Exception as exc:
        typer.echo(f"error: invalid privacy config: {exc}", err=True)
        raise typer.Exit(2) from None
    redactor = Redactor(settings)
    out = sys.stdout
    try:
        if text:
            out.write(_line(redactor.redact_messages([sys.stdin.read()], tenant="")) + "\n")
            return
        pending: list[str] = []

        def drain() -> None:  # one spaCy pass over up to _BATCH lines
            results = redactor.redact_batch([[v] for v in pending], [""] * len(pending))
            out.write("".join(_line(r) + "\n" for r in results))
            out.flush()
            pending.clear()

        for number, raw in enumerate(sys.stdin, start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
                value = item["text"]
                if not isinstance(value, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                if pending:
                    drain()
                typer.echo(f'error: line {number}: expected {{"text": "<string>"}}', err=True)
                raise typer.Exit(2) from None
            pending.append(value)
            if len(pending) >= _BATCH:
                drain()
        if pending:
            drain()
    except RedactionError as exc:
        typer.echo(f"error: redaction failed: {exc}", err=True)
        raise typer.Exit(1) from None
