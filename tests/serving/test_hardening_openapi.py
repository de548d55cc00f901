"""Schemathesis against the served OpenAPI document (#15): for a bounded number of generated
requests per operation, valid ones and invalid ones, the server never answers 5xx and every
answer conforms to the document (status, content type, body schema).

Runs against the in-process app (FastAPI + the real pipeline, models and audit log, no Ray):
the same routes and stages `bastion serve` hosts, fast enough for many examples. The document
is the one the server itself serves at /openapi.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 40
OPERATIONS = [
    ("/v1/chat/completions", "POST"),
    ("/v1/completions", "POST"),
    ("/v1/embeddings", "POST"),
    ("/v1/models", "GET"),
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def schema(api: Any) -> Any:
    r = api.get("/openapi.json")
    assert r.status_code == 200, r.text
    return schemathesis.openapi.from_dict(r.json())


def _send(api: Any, case: Any) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://bastion.test")
    headers = {"content-type": kwargs["headers"].get("Content-Type", "application/json")}
    request: dict[str, Any] = {"headers": headers, "params": kwargs.get("params") or None}
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes) else str(data).encode()
    path = kwargs["url"].removeprefix("http://bastion.test")
    return api.request(kwargs["method"], path, **request)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_generated_requests_get_no_5xx_and_conform(api, schema, path, method, mode):
    operation = schema[path][method]
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = _send(api, case)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    assert statuses and all(s < 500 for s in statuses), statuses
