"""Restart right after a crash (#15): SIGKILL `bastion serve`'s process group under load, start it
again at once on the same data folder and port: it comes up within the normal start time. Also
checked on that live server: Ray's own servers listen on the loopback address only, the data
folder is private, and a second server on the taken port exits 2 naming the port's owner."""

from __future__ import annotations

import ipaddress
import os
import stat
import subprocess
import threading
import time

import httpx
import psutil
import pytest

from tests.serving import live
from tests.serving.live import BIN, Server

pytestmark = [pytest.mark.ray, pytest.mark.slow]

POLICY = live.ONE_SITE_POLICY

_CLOSING = {psutil.CONN_TIME_WAIT, psutil.CONN_FIN_WAIT1, psutil.CONN_FIN_WAIT2}


def _load(url: str, key: str, stop: threading.Event, done: list[int], n: int) -> None:
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=30) as http:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = http.post(
                    "/v1/embeddings",
                    headers=headers,
                    json={"model": "all-minilm-l6-v2", "input": f"load {n} {i}"},
                )
            except httpx.HTTPError:
                return  # the server died
            if r.status_code == 200:
                done.append(1)


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is IPv4 loopback
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _tree(pid: int) -> dict[int, psutil.Process]:
    root = psutil.Process(pid)
    return {p.pid: p for p in [root, *root.children(recursive=True)]}


def test_restart_at_once_after_a_crash_on_the_same_port(tmp_path, monkeypatch):
    first = Server(tmp_path, POLICY)
    stop, done = threading.Event(), []
    threads = [
        threading.Thread(target=_load, args=(first.url, first.key, stop, done, n)) for n in range(6)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(done) < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    first.kill()  # SIGKILL the process group under load
    stop.set()
    for t in threads:
        t.join(60)
    assert len(done) >= 30
    # The crash left connections on the port closing (what used to block the restart).
    closing = [
        c
        for c in psutil.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == first.port and c.status in _CLOSING
    ]
    assert closing, "no closing connections left on the port: the scenario was not reproduced"

    # Same data folder, same port, at once; Server waits the normal start time (240 s).
    monkeypatch.setattr(live, "_free_port", lambda: first.port)
    second = Server(tmp_path, POLICY, key=first.key)
    try:
        r = httpx.post(
            second.url + "/v1/embeddings",
            headers={"authorization": f"Bearer {second.key}"},
            json={"model": "all-minilm-l6-v2", "input": "after the restart"},
            timeout=60,
        )
        assert r.status_code == 200, r.text

        # Ray's own servers (and Bastion's, server.host being 127.0.0.1) listen on loopback.
        tree = _tree(second.proc.pid)
        listening = [
            (c.laddr.ip, c.laddr.port, tree[c.pid].name())
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in tree
        ]
        assert any(port == second.port for _, port, _ in listening), listening
        exposed = [item for item in listening if not _loopback(item[0])]
        assert exposed == [], f"listening beyond loopback: {exposed}"

        # Every file in the data folder is private, whichever process created it.
        for path in [second.data, *second.data.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:04o}"

        # The port is really taken now: another server exits 2 naming it and its owner.
        env = {**os.environ, "BASTION_DATA_DIR": str(tmp_path / "other-data")}
        taken = subprocess.run(
            [str(BIN), "serve", "--port", str(second.port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert taken.returncode == 2, taken.stdout + taken.stderr
        assert f"port {second.port} is in use by process " in taken.stderr, taken.stderr
        owner = int(taken.stderr.split("in use by process ")[1].split()[0])
        assert owner in tree, taken.stderr
    finally:
        second.stop()
