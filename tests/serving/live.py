"""A real `bastion serve` in a subprocess (its own process group), for the Ray-backed tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import openai

BIN = Path(sys.executable).parent / "bastion"


# One site, the bundled chat model and embedder: the policy of the single-site Ray tests.
ONE_SITE_POLICY = """
sites:
  - {id: de-fra-1, jurisdiction: DE, region: EU}
models:
  - {id: smollm2-135m-instruct@v1, site: de-fra-1, approved_data_classes: [PHI, PCI, PII]}
  - {id: all-minilm-l6-v2@v1, site: de-fra-1, approved_data_classes: [PHI, PCI, PII]}
tenants:
  - id: default
    sites: [de-fra-1]
    models: [smollm2-135m-instruct, all-minilm-l6-v2]
"""


def exported_records(data_dir: Path, bundle: Path) -> list[dict]:
    """`bastion audit export` the whole log of ``data_dir``, check the bundle with `bastion
    audit verify` (offline), and return its records."""
    env = {**os.environ, "BASTION_DATA_DIR": str(data_dir)}
    window = ["--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z"]
    subprocess.run(
        [str(BIN), "audit", "export", *window, "--out", str(bundle)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    verified = subprocess.run(
        [str(BIN), "audit", "verify", str(bundle)], capture_output=True, text=True, timeout=300
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with zipfile.ZipFile(bundle) as z:
        name = next(n for n in z.namelist() if n.endswith(".jsonl") and "record" in n)
        return [json.loads(line) for line in z.read(name).decode().splitlines() if line]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``bastion serve`` on a free port with ``tmp/data``; ``key`` is the bootstrap admin key
    (pass it back in when restarting on the same data folder)."""

    def __init__(
        self, tmp: Path, policy: str, log_level: str = "INFO", key: str | None = None
    ) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.data = tmp / "data"
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp / "bastion.yaml"
        policy_file = tmp / "policy.yaml"
        policy_file.write_text(policy)
        config.write_text(
            f"log_level: {log_level}\n"
            "site: de-fra-1\n"
            f"policy:\n  files: [{policy_file}]\n"
            "server:\n  max_body_bytes: 65536\n"
            "embeddings:\n  site: de-fra-1\n"
            "models:\n  - name: smollm2-135m-instruct\n    version: v1\n    site: de-fra-1\n"
            "    context_length: 2048\n    threads: 2\n    default_max_tokens: 32\n"
            # Same weights, pinned to a site this one-node cluster does not advertise.
            "  - name: smollm2-muc\n    version: v1\n    site: de-muc-1\n"
        )
        self.stdout = open(tmp / "stdout.log", "a+")  # noqa: SIM115
        self.stderr = open(tmp / "stderr.log", "a+")  # noqa: SIM115
        env = {**os.environ, "BASTION_DATA_DIR": str(self.data)}
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--config", str(config), "--port", str(self.port)],
            stdout=self.stdout,
            stderr=self.stderr,
            env=env,
            start_new_session=True,
            cwd=tmp,
        )
        self.key = self._wait(key)

    def app_key(self, tenant: str = "default") -> str:
        """A new app key of ``tenant``, made with ``bastion keys create`` on the data folder."""
        made = subprocess.run(
            [str(BIN), "keys", "create", "--tenant", tenant, "--role", "app"],
            env={**os.environ, "BASTION_DATA_DIR": str(self.data)},
            capture_output=True,
            text=True,
            check=True,
        )
        return made.stdout.strip().splitlines()[-1]

    def _wait(self, known: str | None) -> str:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("bastion serve exited:\n" + self.logs()[-4000:])
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    if known is not None:
                        return known
                    lines = (self.tmp / "stdout.log").read_text().splitlines()
                    keys = [line for line in lines if line.startswith("bst_")]
                    assert len(keys) == 1, lines
                    return keys[0]
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError("bastion serve not ready in time:\n" + self.logs()[-4000:])

    def logs(self) -> str:
        self.stdout.flush()
        self.stderr.flush()
        return (self.tmp / "stdout.log").read_text() + (self.tmp / "stderr.log").read_text()

    def kill(self) -> None:
        """SIGKILL the whole process group (server, Ray and its workers): a crash."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        # Ray processes that left the group are stopped too, so a restart starts clean.
        subprocess.run(
            [str(BIN.parent / "ray"), "stop", "--force"],
            capture_output=True,
            timeout=120,
            check=False,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class ServeCluster:
    """A real ``bastion serve`` whose state and audit log live in the PostgreSQL at ``dsn``,
    which reaches it only through ``BASTION_AUDIT__DSN``; the caller gives the policy and the
    configuration after ``site`` and ``policy`` (servers, replicas, models). ``admin_key`` is
    the bootstrap key; ``bastion(...)`` runs the CLI against the same configuration and
    database. ``wait_all``: also wait until `bastion serve` says every replica is up (/readyz
    answers from the first ingress replica)."""

    def __init__(
        self,
        tmp: Path,
        dsn: str,
        policy: str,
        config: str,
        reload_check_s: float = 1.0,
        wait_all: bool = False,
    ) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.policy = tmp / "policy.yaml"
        self.policy.write_text(policy)
        self.config = tmp / "bastion.yaml"
        self.config.write_text(
            "site: de-fra-1\n"
            f"policy:\n  files: [{self.policy}]\n  reload_check_s: {reload_check_s}\n" + config
        )
        self.env = {**os.environ, "BASTION_DATA_DIR": str(tmp / "data"), "BASTION_AUDIT__DSN": dsn}
        self.log = open(tmp / "serve.log", "a+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--config", str(self.config), "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            cwd=tmp,
        )
        self.admin_key = self._wait()
        deadline = time.monotonic() + 600
        while wait_all and "Bastion serving on" not in self.logs():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("not all replicas started:\n" + self.logs()[-4000:])
            time.sleep(1)

    def _wait(self) -> str:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("bastion serve exited:\n" + self.logs()[-4000:])
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    keys = [ln for ln in self.logs().splitlines() if ln.startswith("bst_")]
                    assert len(keys) == 1, self.logs()[-4000:]
                    return keys[0]
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError("bastion serve not ready in time:\n" + self.logs()[-4000:])

    def logs(self) -> str:
        self.log.flush()
        return (self.tmp / "serve.log").read_text()

    def bastion(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(BIN), *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def key(self, tenant: str) -> str:
        """A new app key of ``tenant``, made with the CLI."""
        out = self.bastion("keys", "create", "--tenant", tenant, "--role", "app")
        return out.stdout.strip().splitlines()[-1]

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, timeout=120)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
