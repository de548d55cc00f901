"""Where time to first token goes, without Ray: the engine alone, identifier detection alone,
and the whole gateway (auth, redaction, policy, audit trail) served by uvicorn over real HTTP.
The difference to bench/serving.py's Bastion TTFT is what Ray Serve's hops add.

    .venv/bin/python bench/ttft_breakdown.py [--requests 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.deployment import ModelServer
from models.engines import GenerationRequest
from models.engines.llamacpp import LlamaCppEngine
from models.registry import Registry
from policies.access import KeyStore, Role
from policies.audit import AuditConfig, build_audit_log
from policies.decide import PolicyEngine
from policies.defaults import bootstrap_policy_yaml
from privacy import PrivacyConfig, Redactor
from serving.api import create_api
from serving.audit_client import LocalAuditClient
from serving.config import Settings
from serving.gateway import Gateway, StaticSites

MODEL = "smollm2-135m-instruct"
PROMPT = "Here is a list of numbers: 1, 2, 3, 4, 5,"  # as in bench/serving.py


def prompt(n: int) -> str:
    """Distinct prompts, as in bench/serving.py: no request reuses another's KV cache."""
    return f"Note {n}. {PROMPT}"


def ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


async def main(requests: int, threads: int) -> None:
    data = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=data)
    models = [f"{MODEL}@v1", "all-minilm-l6-v2@v1"]
    (data / "policy.yaml").write_text(bootstrap_policy_yaml("local", "default", models))
    engine = LlamaCppEngine(MODEL, threads=threads)
    await engine.start()
    keys = KeyStore(data / "keys.db")
    key = keys.create("default", Role.APP)[0]
    redactor = Redactor(PrivacyConfig())
    redactor.warmup()
    server = ModelServer(engine)
    server.ready = True
    gateway = Gateway(
        keys, Registry(settings.models, settings.embeddings),
        PolicyEngine.from_paths([data / "policy.yaml"]), StaticSites({"local"}),
        {f"{MODEL}@v1": server}, None, redactor,
    )  # fmt: skip
    app = create_api()
    app.state.gateway = gateway
    app.state.audit = LocalAuditClient(await build_audit_log(AuditConfig(), data))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.get_running_loop().create_task(web.serve())
    while not web.started:
        await asyncio.sleep(0.05)

    # One token per request, read to the end, each request with its own prompt: the two paths
    # alternate on equal terms.
    engine_ttft, redact, gateway_ttft = [], [], []
    body = {"model": MODEL, "max_tokens": 1, "temperature": 0, "stream": True}
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        for i in range(requests):
            start, first = time.perf_counter(), None
            async for delta in engine.generate(GenerationRequest(prompt(2 * i), 1, 0.0)):
                if delta.text and first is None:
                    first = time.perf_counter() - start
            engine_ttft.append(first or 0.0)
            start = time.perf_counter()
            redactor.redact_messages([prompt(2 * i + 1)], "default")
            redact.append(time.perf_counter() - start)
            start, first = time.perf_counter(), None
            request = {**body, "prompt": prompt(2 * i + 1)}
            async with http.stream("POST", "/v1/completions", json=request, headers=headers) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: {") and first is None:
                        choices = json.loads(line[6:])["choices"]
                        if choices and choices[0]["text"]:
                            first = time.perf_counter() - start
            gateway_ttft.append(first or 0.0)
    web.should_exit = True
    await task
    print(f"llama.cpp threads {threads}; {requests} requests; medians")
    print(f"engine alone (in-process)          TTFT {ms(engine_ttft):6.1f} ms")
    print(f"identifier detection of the prompt      {ms(redact):6.1f} ms")
    print(
        f"gateway over HTTP, no Ray          TTFT {ms(gateway_ttft):6.1f} ms "
        f"(+{ms(gateway_ttft) - ms(engine_ttft):.1f} ms over the engine)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.threads))
