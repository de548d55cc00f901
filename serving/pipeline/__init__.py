"""The request pipeline: one typed :class:`RequestState`, an ordered list of plain-Python stages
(serving/pipeline/compose.py), no HTTP and no Ray. Drivers (the HTTP routers in serving/http/,
a batch worker, ``bastion eval``) build a state, open the pipeline and read its stream."""

from serving.pipeline.compose import Pipelines
from serving.pipeline.errors import (
    BodyTooLarge,
    InvalidRequest,
    ModelUnavailable,
    PermissionDenied,
    UpstreamError,
    error_response,
)
from serving.pipeline.responses import chunks, whole
from serving.pipeline.stage import Pipeline, Stage
from serving.pipeline.state import Embeddings, Item, Outcome, RequestState, Route

__all__ = [
    "BodyTooLarge",
    "Embeddings",
    "InvalidRequest",
    "Item",
    "ModelUnavailable",
    "Outcome",
    "PermissionDenied",
    "Pipeline",
    "Pipelines",
    "RequestState",
    "Route",
    "Stage",
    "UpstreamError",
    "chunks",
    "error_response",
    "whole",
]
