"""The auditor API and the audit page (serving/http/audit.py), for callers of the older name."""

from __future__ import annotations

from fastapi import FastAPI

from serving.http.audit import OPERATOR_TENANT, PAGE_CSP, router

__all__ = ["OPERATOR_TENANT", "PAGE_CSP", "add_audit_routes"]


def add_audit_routes(app: FastAPI) -> None:
    """Register the audit API and page on ``app`` (create_api already does)."""
    app.include_router(router)
