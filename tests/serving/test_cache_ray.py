"""The semantic cache under Ray Serve (`bastion serve`: Ingress, the Embedder deployment, the
model server; entries in the SQLite state store): a hit for a request that differs only in
identifiers carries none of the first request's, a streamed hit, bypass, and invalidation over
the admin route."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.serving.live import ONE_SITE_POLICY, Server

pytestmark = [pytest.mark.ray, pytest.mark.slow]

POLICY = ONE_SITE_POLICY + "    cache: {enabled: true}\n"
MODEL = "smollm2-135m-instruct"
TEMPLATE = "Write one short sentence reminding {name} (phone {phone}) of the flu vaccine."


def test_the_cache_under_ray_serve(tmp_path):
    srv = Server(tmp_path, POLICY)
    try:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key=srv.key, max_retries=0)

        def ask(content: str, **kw):
            raw = client.chat.completions.with_raw_response.create(
                model=MODEL,
                messages=[{"role": "user", "content": content}],
                max_tokens=16,
                temperature=0,
                **kw,
            )
            return raw.headers.get("x-bastion-cache"), raw.parse().choices[0].message.content

        first = ask(TEMPLATE.format(name="Johanna Whitfield", phone="+44 20 7946 0958"))
        second = ask(TEMPLATE.format(name="Marcus Okonkwo-Reyes", phone="+44 20 7946 0321"))
        assert first[0] == "miss" and second[0] == "hit"
        for value in ("Johanna", "Whitfield", "0958"):
            assert value not in second[1]
        bypass = ask(
            TEMPLATE.format(name="Marcus Okonkwo-Reyes", phone="+44 20 7946 0321"),
            extra_headers={"x-bastion-cache": "bypass"},
        )
        assert bypass[0] == "bypass"

        auth = {"authorization": f"Bearer {srv.key}"}
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Name two symptoms of dehydration."}],
            "max_tokens": 16,
            "temperature": 0,
        }
        whole = httpx.post(srv.url + "/v1/chat/completions", json=body, headers=auth, timeout=120)
        assert whole.headers["x-bastion-cache"] == "miss"
        with httpx.stream(
            "POST",
            srv.url + "/v1/chat/completions",
            headers=auth,
            timeout=120,
            json={**body, "stream": True},
        ) as streamed:
            assert streamed.headers["x-bastion-cache"] == "hit"
            events = [line[6:] for line in streamed.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        assert text == whole.json()["choices"][0]["message"]["content"]

        done = httpx.post(
            srv.url + "/v1/admin/cache/invalidate",
            headers=auth,
            timeout=60,
            json={"model_version": f"{MODEL}@v1"},
        )
        assert done.status_code == 200 and done.json()["deleted"] == 2
        again = httpx.post(srv.url + "/v1/chat/completions", json=body, headers=auth, timeout=120)
        assert again.headers["x-bastion-cache"] == "miss"
    finally:
        srv.stop()
