"""The port checks behind a restart right after a crash (#15), without a Ray cluster: closing
connections (TIME_WAIT) no longer keep Ray Serve's direct-ingress server from binding, and a
port that another live process listens on makes `bastion serve` exit 2 naming the owner."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from serving import ray_env
from serving.ports import bind_error, listener_on

BIN = Path(sys.executable).parent / "bastion"
HOLD = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1], flush=True)\n"
    "c, _ = s.accept(); time.sleep(300)\n"
)


def _closing_port() -> int:
    """A port whose server was killed with a connection open: it is left in TIME_WAIT."""
    server = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = int(server.stdout.readline())
    client = socket.create_connection(("127.0.0.1", port))
    time.sleep(0.2)
    os.kill(server.pid, signal.SIGKILL)  # a crash: the kernel closes the server's side first
    server.wait(10)
    time.sleep(0.2)
    client.close()
    time.sleep(0.2)
    return port


def test_direct_ingress_binds_a_port_left_in_time_wait():
    from ray.serve._private import http_util
    from ray.serve.config import HTTPOptions

    port = _closing_port()
    states = {c.status for c in psutil.net_connections(kind="tcp") if c.laddr.port == port}
    assert psutil.CONN_TIME_WAIT in states, states
    assert bind_error("127.0.0.1", port, reuse_address=False) is not None  # what broke restarts
    assert listener_on("127.0.0.1", port) is None  # but nobody holds the port

    assert ray_env.ingress_bind_patchable()
    ray_env.reuse_address_on_ingress_bind()  # what every worker of `bastion serve` runs

    async def start() -> None:
        async def app(scope, receive, send):  # pragma: no cover - never called
            raise AssertionError

        loop = asyncio.get_running_loop()
        task, server = await http_util.start_asgi_http_server(
            app, HTTPOptions(host="127.0.0.1", port=port), event_loop=loop
        )
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        server.should_exit = True
        await asyncio.wait_for(task, 10)

    asyncio.run(start())


def test_serve_on_a_port_held_by_a_live_process_exits_2_naming_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        port = int(holder.stdout.readline())
        owner = listener_on("127.0.0.1", port)
        assert owner is not None and owner.pid == holder.pid
        env = {**os.environ, "BASTION_DATA_DIR": str(tmp_path / "data")}
        r = subprocess.run(
            [str(BIN), "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert r.returncode == 2, r.stdout + r.stderr
        assert f"port {port} is in use by process {holder.pid} (" in r.stderr, r.stderr
        assert not (tmp_path / "data").exists()  # stopped before anything was created
    finally:
        holder.kill()
        holder.wait(10)
