"""Is the HTTP port free, and if not, who holds it.

``bastion serve`` checks its port before it starts Ray: a port held by another live process is
a configuration problem (exit 2, naming the port and its owner). A port that only has closing
connections of a previous Bastion (TIME_WAIT, e.g. right after a crash) is not taken: the
Ingress replica binds it with ``SO_REUSEADDR`` (serving/ray_env.py).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

__all__ = ["Listener", "bind_error", "listener_on"]

_ANY = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class Listener:
    """A process listening on a port: its pid and name when this user may see them."""

    port: int
    address: str
    pid: int | None
    name: str | None
    command: str | None

    def describe(self) -> str:
        if self.pid is None:
            return (
                f"port {self.port} is in use by another user's process (listening on "
                f"{self.address}); `ss -ltnp 'sport = :{self.port}'` as root names it"
            )
        what = self.command or self.name or "?"
        return (
            f"port {self.port} is in use by process {self.pid} ({what}), listening on "
            f"{self.address}"
        )


def _overlaps(bound: str, host: str) -> bool:
    """Would binding ``host`` conflict with a socket bound to ``bound``?"""
    if bound in _ANY or host in _ANY:
        return True
    try:
        a, b = ipaddress.ip_address(bound), ipaddress.ip_address(host)
    except ValueError:
        return bound == host
    mapped = getattr(a, "ipv4_mapped", None)
    return a == b or (mapped is not None and mapped == b)


def listener_on(host: str, port: int) -> Listener | None:
    """The live process listening on ``port`` at an address that overlaps ``host``, if any."""
    import psutil

    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:  # some platforms need privileges for the whole table
        return None
    for conn in connections:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        if not _overlaps(conn.laddr.ip, host):
            continue
        name = command = None
        if conn.pid is not None:
            try:
                proc = psutil.Process(conn.pid)
                name = proc.name()
                command = " ".join(proc.cmdline()[:3])[:120] or None
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return Listener(port, conn.laddr.ip, conn.pid, name, command)
    return None


def bind_error(host: str, port: int, reuse_address: bool) -> str | None:
    """Why ``host:port`` cannot be bound now (with or without ``SO_REUSEADDR``), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
