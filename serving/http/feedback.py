"""``POST /v1/feedback``: a rating (and an optional comment or corrected answer) on an answer of
the caller's own tenant, redacted, stored, recorded and counted (serving/feedback.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from policies.access import Role
from serving.feedback import parse_feedback, store_feedback
from serving.http.drive import respond
from serving.observability import METRICS
from serving.pipeline import RequestState

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/feedback")
async def feedback(request: Request) -> Response:
    async def work(st: RequestState) -> dict:
        gateway = request.app.state.gateway
        assert st.principal is not None and st.read_body is not None
        fb = parse_feedback(await st.read_body())
        record = await store_feedback(
            gateway.keys.store, gateway.batcher, st.principal.tenant, st.principal.key_id, fb
        )
        # the record of this request: which answer, the rating, whether texts came (no text)
        st.detail = {
            "feedback_for": fb.request_id,
            "model_version": record["model_version"],
            "rating": fb.label,
            "comment": "yes" if record["comment"] is not None else "no",
            "correction": "yes" if record["correction"] is not None else "no",
        }
        METRICS.feedback.labels(record["model_version"], fb.label).inc()
        return {
            "object": "feedback",
            "request_id": fb.request_id,
            "model_version": record["model_version"],
            "rating": fb.rating,
            "scale": fb.scale,
        }

    return await respond(request, work, (Role.APP,))
