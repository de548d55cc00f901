"""The places of the stages that later work plugs in (they pass everything through today):

- :class:`InputGuard` (after decide): injection classification, limits, blocked topics.
- :class:`OutputGuard` (after output redaction, serving/pipeline/output_redaction.py):
  structured-output validation, leakage, blocked content.

Each is a :class:`~serving.pipeline.stage.Stage`: ``before`` may stop the request with a typed
error; ``wrap`` may transform the stream, and MUST stay stream-safe (whole and streamed answers
equal).
"""

from __future__ import annotations

from serving.pipeline.stage import Stage

__all__ = ["InputGuard", "OutputGuard"]


class InputGuard(Stage):
    name = "input_guard"


class OutputGuard(Stage):
    name = "output_guard"
