"""Nothing in privacy/ opens a network connection: not spaCy, not Presidio, not tldextract.

The socket layer is patched to raise on any non-loopback connect or DNS lookup: a fault
injector, since "the network is unreachable" cannot be arranged otherwise inside a test.
"""

from __future__ import annotations

import socket

import pytest

import privacy.offline as offline
from privacy import PrivacyConfig, Redactor

_LOOPBACK = ("127.", "::1", "localhost")


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guard(address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if isinstance(host, str) and (host.startswith(_LOOPBACK) or host.startswith("/")):
            return
        attempts.append(repr(host))
        raise NetworkUsed(f"network connection attempted to {host!r}")

    def connect(self: socket.socket, address: object) -> None:
        if self.family != socket.AF_UNIX:
            guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family != socket.AF_UNIX:
            guard(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        guard((host,))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(offline, "_extractor", None)  # force a fresh tldextract extractor
    return attempts


def test_guard_catches_a_real_connection_attempt(no_network: list[str]) -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("192.0.2.1", 443), timeout=0.01)
    assert no_network


def test_analyzer_build_and_analysis_open_no_socket(no_network: list[str]) -> None:
    r = Redactor(PrivacyConfig())
    result = r.redact_messages(
        [
            "Email jane.doe@mercy-health.org or visit https://portal.mercy-health.org/x and "
            "smith-jones.co.uk; Dr. Ana Ruiz, MRN 4829113, IP 203.0.113.7",
        ],
        tenant="",
    )
    assert {"EMAIL", "URL", "PERSON", "MRN", "IP"} <= set(result.entity_counts)
    assert no_network == []


def test_presidio_email_recognizer_uses_offline_suffix_list(no_network: list[str]) -> None:
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    offline.configure_offline()
    assert EmailRecognizer().validate_result("jane@example.co.uk") is True
    assert no_network == []
