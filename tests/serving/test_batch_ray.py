"""The Batch API under Ray Serve (`bastion serve`: the Ingress replica runs the batch worker, the
model server is another replica, the audit log goes through the sequencer), driven with the
official openai SDK's ``files`` and ``batches`` clients: every line answered or failed as its
own request, one audit record per line, lines marked background all the way to the model
server, and no client text in the state store."""

from __future__ import annotations

import json
import threading
import time

import httpx
import openai
import pytest

from tests.serving.batch_lines import MODEL, chat_line, jsonl
from tests.serving.live import ONE_SITE_POLICY, Server, exported_records

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SECRET = "Philippa Drummond-Achterberg"  # must never be stored or audited in the clear


def test_a_batch_through_ray_serve_with_the_openai_sdk(tmp_path):
    srv = Server(tmp_path, ONE_SITE_POLICY)
    try:
        key = srv.app_key()
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=120)
        rows = [
            chat_line(f"note-{i}", f"Summarise: {SECRET} visited on day {i}.", max_tokens=8)
            for i in range(3)
        ]
        # not this tenant's
        rows.append(chat_line("elsewhere", "hello", model="smollm2-muc", max_tokens=8))
        data = jsonl(rows)

        up = client.files.create(file=("in.jsonl", data), purpose="batch")
        assert up.purpose == "batch" and up.bytes == len(data)
        batch = client.batches.create(
            input_file_id=up.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"run": "ray"},
        )
        assert batch.request_counts.total == 4

        # interactive traffic while the batch runs (its lines yield to it; no timing asserted)
        answers: list[str] = []

        def interactive() -> None:
            for i in range(3):
                r = client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": f"Say hello {i}."}],
                    max_tokens=4,
                    temperature=0,
                )
                answers.append(r.choices[0].finish_reason)

        side = threading.Thread(target=interactive)
        side.start()
        for _ in range(1200):  # a bound on polls, not a timing assertion
            done = client.batches.retrieve(batch.id)
            if done.status in ("completed", "failed", "cancelled", "expired"):
                break
            time.sleep(0.25)
        side.join(300)
        assert len(answers) == 3

        assert done.status == "completed", done
        assert (done.request_counts.completed, done.request_counts.failed) == (3, 1)
        assert done.metadata == {"run": "ray"}
        good = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
        bad = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
        assert sorted(g["custom_id"] for g in good) == ["note-0", "note-1", "note-2"]
        for g in good:
            assert g["response"]["status_code"] == 200
            assert g["response"]["body"]["choices"][0]["message"]["content"]
        assert [b["custom_id"] for b in bad] == ["elsewhere"]
        assert bad[0]["response"]["status_code"] >= 400

        # the background mark travelled with each line's request to the model server replica
        admin = {"authorization": f"Bearer {srv.key}"}
        stats = httpx.get(srv.url + "/v1/admin/models", headers=admin, timeout=30).json()
        mine = stats["models"][f"{MODEL}@v1"]
        assert mine["background"] >= 3 and mine["interactive"] == 0

        # one audit record per line, through the sequencer, with no identifier in it
        records = exported_records(srv.data, tmp_path / "bundle.zip")
        lines = [
            r
            for r in records
            if r.get("event_type") == "inference.chat"
            and (r.get("detail") or {}).get("batch_id") == done.id
        ]
        assert sorted(r["detail"]["batch_line"] for r in lines) == [0, 1, 2, 3]
        assert SECRET not in json.dumps(records)
    finally:
        srv.stop()
    # the input and output files, the job and the line results are ciphertext at rest
    for path in srv.data.glob("state.db*"):
        raw = path.read_bytes()
        assert SECRET.encode() not in raw and b"Drummond" not in raw
