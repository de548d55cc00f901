"""Kill `bastion serve` (SIGKILL, whole process group) under concurrent load; after a restart
the audit log verifies and every request that had received a response has its record."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.serving import live
from tests.serving.live import Server, exported_records

pytestmark = [pytest.mark.ray, pytest.mark.slow]

POLICY = live.ONE_SITE_POLICY


def _load(
    url: str, key: str, stop: threading.Event, acked: list[str], lock: threading.Lock, n: int
) -> None:
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=30) as http:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if (i + n) % 3 == 0:
                    r = http.post(
                        "/v1/completions",
                        headers=headers,
                        json={"model": "smollm2-135m-instruct", "prompt": "1, 2,", "max_tokens": 2},
                    )
                else:
                    r = http.post(
                        "/v1/embeddings",
                        headers=headers,
                        json={"model": "all-minilm-l6-v2", "input": f"load {n} {i}"},
                    )
            except httpx.HTTPError:
                return  # the server died mid-request: that request was never acknowledged
            if r.status_code == 200:
                with lock:
                    acked.append(r.headers["x-request-id"])


def test_sigkill_under_load_loses_no_acknowledged_request(tmp_path):
    first = Server(tmp_path, POLICY)
    stop, lock, acked = threading.Event(), threading.Lock(), []
    threads = [
        threading.Thread(target=_load, args=(first.url, first.key, stop, acked, lock, n))
        for n in range(8)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.2)
    first.kill()  # while the load is still running
    stop.set()
    for t in threads:
        t.join(60)
    with lock:
        acknowledged = list(acked)
    assert len(acknowledged) >= 40

    second = Server(tmp_path, POLICY, key=first.key)  # same data folder: the log is reopened
    try:
        records = exported_records(second.data, tmp_path / "after-crash.zip")
        ids = {record.get("request_id") for record in records}
        missing = [rid for rid in acknowledged if rid not in ids]
        assert missing == [], f"{len(missing)} acknowledged requests have no audit record"
        # The restarted server serves and audits again.
        r = httpx.post(
            second.url + "/v1/embeddings",
            headers={"authorization": f"Bearer {second.key}"},
            json={"model": "all-minilm-l6-v2", "input": "after"},
            timeout=60,
        )
        assert r.status_code == 200
    finally:
        second.stop()
