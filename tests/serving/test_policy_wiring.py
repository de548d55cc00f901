"""Policy decisions on the request path (pipeline step 3), in-process with the real model."""

from __future__ import annotations

import time

from tests.serving.conftest import MODEL, POLICY

CHAT = "/v1/chat/completions"


def _chat(api, key: str, model: str = MODEL, **headers):
    return api.post(
        CHAT,
        key=key,
        headers=headers,
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2},
    )


def test_unknown_tenant_is_denied_naming_the_rule(api):
    r = _chat(api, "stranger")
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "policy_denied" and error["type"] == "permission_error"
    assert "default-deny/unknown-tenant" in error["message"]
    assert "test+sha256:" in error["message"]  # the policy version that decided


def test_model_not_granted_to_tenant_is_denied(api):
    r = api.post(
        "/v1/embeddings",
        key="clinic",
        headers={"x-bastion-purpose": "treatment"},
        json={"model": "all-minilm-l6-v2", "input": "x"},
    )
    assert r.status_code == 403
    assert "tenant/model-not-allowed" in r.json()["error"]["message"]


def test_purpose_header_is_required_when_the_tenant_declares_purposes(api):
    r = _chat(api, "clinic", model="chat-secure")
    assert r.status_code == 403 and "tenant/purpose-required" in r.json()["error"]["message"]
    r = _chat(api, "clinic", model="chat-secure", **{"x-bastion-purpose": "marketing"})
    assert r.status_code == 403 and "purpose-not-allowed" in r.json()["error"]["message"]
    r = _chat(api, "clinic", model="chat-secure", **{"x-bastion-purpose": "treatment"})
    assert r.status_code == 200, r.text


def test_model_at_an_absent_site_fails_at_once(api):
    started = time.monotonic()
    r = _chat(api, "clinic", model="remote-model", **{"x-bastion-purpose": "treatment"})
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["code"] == "model_unavailable" and "site remote" in error["message"]
    assert (
        time.monotonic() - started < 30
    )  # answered, not queued behind a replica that never starts


def test_models_listing_is_per_tenant_and_shows_placement(api):
    acme = {m["id"]: m for m in api.get("/v1/models").json()["data"]}
    assert set(acme) == {MODEL, f"{MODEL}@v1", "all-minilm-l6-v2", "all-minilm-l6-v2@v1"}
    assert acme[MODEL]["ready"] and acme[MODEL]["site"] == "local"
    clinic = {m["id"]: m for m in api.get("/v1/models", key="clinic").json()["data"]}
    assert clinic["remote-model@v1"]["site_available"] is False
    assert clinic["remote-model@v1"]["ready"] is False
    assert "all-minilm-l6-v2" not in clinic


def test_readyz_reports_unplaceable_models_without_failing(api):
    r = api.get("/readyz", key=None)
    assert r.status_code == 200
    assert r.json()["models"] == {
        f"{MODEL}@v1": "ready",
        "pii-only@v1": "ready",
        "remote-model@v1": "unavailable",
        "all-minilm-l6-v2@v1": "ready",
    }


def test_admin_reload_good_and_bad_documents(api, settings):
    path = settings.data_dir / "policy.yaml"
    assert _chat(api, "app").status_code == 200
    try:
        # Remove acme's grant of the chat model: after reload acme is denied.
        path.write_text(
            POLICY.replace(
                "models: [smollm2-135m-instruct, all-minilm-l6-v2]", "models: [all-minilm-l6-v2]"
            ).replace("label: test", "label: test2")
        )
        assert api.post("/v1/admin/policy/reload").status_code == 403  # app role may not
        r = api.post("/v1/admin/policy/reload", key="admin")
        assert r.status_code == 200 and r.json()["policy_version"].startswith("test2+")
        assert _chat(api, "app").status_code == 403
        # A broken document is rejected and the policy in force stays.
        path.write_text(POLICY + "\nunknown_section: 1\n")
        r = api.post("/v1/admin/policy/reload", key="admin")
        assert r.status_code == 400 and "rejected" in r.json()["error"]["message"]
        time.sleep(0.05)
        assert _chat(api, "app").status_code == 403  # still test2
    finally:
        path.write_text(POLICY)
        assert api.post("/v1/admin/policy/reload", key="admin").status_code == 200
    assert _chat(api, "app").status_code == 200
