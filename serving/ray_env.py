"""Environment for Bastion's Ray processes. No Ray import here: Ray Serve reads these variables
once, when it is first imported, so ``bastion serve`` sets them before importing it.

- Offline: nothing is downloaded and nothing is reported at run time.
- Ray Serve's request path, tuned for few cores (measured by bench/serving.py): user code and the
  request router run in each replica's main event loop instead of an extra thread and loop each
  (saves thread hand-offs and GIL contention with the engine thread in the same process), and
  Serve's own log lines go to its log files only.
- Direct ingress (``bastion serve`` only): the one Ingress replica listens on the configured
  port itself, so requests skip Serve's HTTP proxy and the proxy round trip each request body
  takes. Serve still runs its proxy on the head node, on an internal port.

- One host (``bastion serve``): Ray's own servers listen on 127.0.0.1 (``LOCAL_NODE_IP``), and
  the Ingress replica binds its port with ``SO_REUSEADDR`` (``WORKER_SETUP_HOOK``), so a
  restart right after a crash is not refused while the old connections close (docs/ports.md).

An operator's own value of a tuning variable wins (``apply``); offline operation and the
ingress mode follow Bastion's configuration whatever the environment says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "LOCAL_ENV",
    "LOCAL_NODE_IP",
    "OFFLINE_ENV",
    "SERVE_TUNING_ENV",
    "WORKER_SETUP_HOOK",
    "apply",
    "ingress_bind_patchable",
    "ingress_env",
    "reuse_address_on_ingress_bind",
    "serve_grpc_on_loopback",
    "setup_local_worker",
    "worker_env",
]

# `bastion serve` is one host: Ray's own servers (GCS, raylet, workers, agents) listen on the
# loopback address only (docs/ports.md). Only server.host:server.port faces clients.
LOCAL_NODE_IP = "127.0.0.1"
# Ray on Linux replaces a loopback node address by the host's routable one unless it is told
# that this is no cluster (the variable's name is Ray's; it only decides that replacement).
# Set before Ray is first imported: Ray reads it at import.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
}

SERVE_TUNING_ENV = {
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
    "RAY_SERVE_LOG_TO_STDERR": "0",
    # Serve's HTTP servers issue Bastion's request id (serving/http/request_id.py).
    "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": "serving.http.request_id:ray_middlewares",
}


def ingress_env(direct: bool, port: int) -> dict[str, str]:
    """Ray Serve direct ingress with exactly ``port`` for the Ingress replica, or none. No
    external load balancer has to deregister a local replica, so it neither waits out a draining
    period on shutdown nor quarantines its port before a restarted replica may bind it again."""
    if not direct:
        return {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "0"}
    return {
        "RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(port),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(port + 1),
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0",
        "RAY_SERVE_PORT_QUARANTINE_S": "0",
    }


def worker_env() -> dict[str, str]:
    """What every replica of the application needs (the Serve config's ``runtime_env``)."""
    return {**OFFLINE_ENV, **SERVE_TUNING_ENV}


def apply(env: Mapping[str, str]) -> dict[str, str]:
    """Set ``env`` in this process (inherited by a local Ray instance it starts) unless the
    operator set a variable already; returns the values in effect."""
    for name, value in env.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in env}


# Run in every worker process `bastion serve` starts (runtime_env worker_process_setup_hook).
WORKER_SETUP_HOOK = "serving.ray_env.setup_local_worker"


def setup_local_worker() -> None:
    """Worker setup hook of `bastion serve` (one host): see the two functions it calls."""
    reuse_address_on_ingress_bind()
    serve_grpc_on_loopback()


def serve_grpc_on_loopback() -> None:
    """Ray Serve starts an inter-deployment gRPC server in every replica on all interfaces
    (``[::]``), whatever the node address; on one host it listens on 127.0.0.1 instead, where
    the node address (``LOCAL_NODE_IP``) sends its callers."""
    try:
        from ray.serve._private import replica
    except ImportError:
        return
    add = getattr(replica, "add_port_to_grpc_server", None)
    if add is None or getattr(add, "_bastion_loopback", False):
        return

    def add_on_loopback(server: Any, address: str) -> Any:
        if address.startswith("[::]:"):
            address = f"{LOCAL_NODE_IP}:{address.rsplit(':', 1)[1]}"
        return add(server, address)

    add_on_loopback._bastion_loopback = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = add_on_loopback


class _ReuseAddressSockets:
    """The ``socket`` module, except that new sockets have ``SO_REUSEADDR`` set."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def socket(self, *args: Any, **kwargs: Any) -> Any:
        sock = self._module.socket(*args, **kwargs)
        sock.setsockopt(self._module.SOL_SOCKET, self._module.SO_REUSEADDR, 1)
        return sock


def ingress_bind_patchable() -> bool:
    """Whether this Ray Serve creates the direct-ingress socket where
    :func:`reuse_address_on_ingress_bind` can reach it."""
    try:
        from ray.serve._private import http_util
    except ImportError:
        return False
    return hasattr(http_util, "start_asgi_http_server") and hasattr(http_util, "socket")


def reuse_address_on_ingress_bind() -> None:
    """Bind the Ingress replica's port with ``SO_REUSEADDR``, as every HTTP server does.

    Ray Serve binds the direct-ingress socket without it, so after a crash the port cannot be
    bound again until the old connections' TIME_WAIT (60 s on Linux) has passed, and a restart
    fails. ``SO_REUSEADDR`` still refuses a port another process is listening on. Applied in
    the worker processes of `bastion serve` only, before any replica starts its server."""
    if not ingress_bind_patchable():
        return
    from ray.serve._private import http_util

    if not isinstance(http_util.socket, _ReuseAddressSockets):
        http_util.socket = _ReuseAddressSockets(http_util.socket)  # type: ignore[assignment]
