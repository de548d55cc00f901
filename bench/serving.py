"""Bastion (real `bastion serve`: Ray Serve + HTTP + SSE) vs. the same engine called in-process.

Streams the same completions at 1, 4 and 16 concurrent clients through both, in one run, and
prints tokens/s, TTFT p50/p95 and request latency p50/p95 with Bastion/in-process ratios.

    .venv/bin/python bench/serving.py [--tokens 32] [--requests-per-client 2]
        [--single-client-requests 20] [--runs 3] [--threads N] [--json out.json]

Both paths are measured in the same conditions, because this machine is noisy: the server is
started first and stays up (idle while the in-process engine runs); at one client the two paths
alternate request by request (A B B A ...), so the TTFT overhead compares requests seconds
apart; at 4 and 16 clients whole levels alternate, in swapped order from one run to the next.
Each run reports ratios; the summary gives the medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "smollm2-135m-instruct"
PROMPT = "Here is a list of numbers: 1, 2, 3, 4, 5,"


def prompt(n: int) -> str:
    """The n-th request's prompt. Each one starts differently: llama-cpp-python reuses the KV
    cache of a prompt prefix it has just seen, and a benchmark that repeats one prompt would
    measure that cache, not prompt processing (TTFT ~0.5-13 ms instead of ~140 ms here)."""
    return f"Note {n}. {PROMPT}"


LEVELS = (1, 4, 16)
One = Callable[[], Awaitable[tuple[float, float, int]]]  # -> (TTFT s, latency s, tokens)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def requests_per_client(clients: int, per_client: int, single: int) -> int:
    return single if clients == 1 else per_client


def summary(samples: list[tuple[float, float, int]], wall: float) -> dict[str, float]:
    ttfts = [ttft for ttft, _, _ in samples]
    latencies = [latency for _, latency, _ in samples]
    return {
        "tokens_per_s": sum(n for _, _, n in samples) / wall,
        "ttft_p50_ms": 1000 * statistics.median(ttfts),
        "ttft_p95_ms": 1000 * pct(ttfts, 0.95),
        "latency_p50_ms": 1000 * statistics.median(latencies),
        "latency_p95_ms": 1000 * pct(latencies, 0.95),
        "requests": len(samples),
    }


async def run_level(one: One, clients: int, per_client: int) -> dict[str, float]:
    samples: list[tuple[float, float, int]] = []

    async def worker() -> None:
        for _ in range(per_client):
            samples.append(await one())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return summary(samples, time.perf_counter() - start)


async def alternate_single(local: One, served: One, requests: int) -> tuple[dict, dict]:
    """One client: the paths take turns request by request (A B B A ...)."""
    samples: dict[str, list[tuple[float, float, int]]] = {"local": [], "served": []}
    for i in range(requests):
        order = (("local", local), ("served", served))
        for name, one in order if i % 2 == 0 else reversed(order):
            samples[name].append(await one())
    # Sequential requests: tokens per second of request time.
    local_stats, served_stats = (
        summary(s, sum(latency for _, latency, _ in s)) for s in samples.values()
    )
    return local_stats, served_stats


def in_process_client(engine: Any, tokens: int) -> One:
    from models.engines import GenerationRequest

    numbers = itertools.count()

    async def one() -> tuple[float, float, int]:
        request = GenerationRequest(prompt(next(numbers)), max_tokens=tokens, temperature=0.0)
        start = time.perf_counter()
        first, n = None, 0
        async for delta in engine.generate(request):
            if first is None and delta.text:
                first = time.perf_counter() - start
            if delta.usage is not None:
                n = delta.usage.completion_tokens
        return first or 0.0, time.perf_counter() - start, n

    return one


def bastion_client(http: httpx.AsyncClient, key: str, tokens: int) -> One:
    numbers = itertools.count()
    body = {
        "model": MODEL,
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"authorization": f"Bearer {key}"}

    async def one() -> tuple[float, float, int]:
        request = {**body, "prompt": prompt(next(numbers))}
        start = time.perf_counter()
        first, n = None, 0
        async with http.stream("POST", "/v1/completions", json=request, headers=headers) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if first is None and event["choices"] and event["choices"][0]["text"]:
                    first = time.perf_counter() - start
                if event.get("usage"):
                    n = event["usage"]["completion_tokens"]
        return first or 0.0, time.perf_counter() - start, n

    return one


async def compare(args: argparse.Namespace, url: str, key: str) -> list[dict[int, dict]]:
    from models.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(MODEL, context_length=2048, threads=args.threads)
    await engine.start()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
        local = in_process_client(engine, args.tokens)
        served = bastion_client(http, key, args.tokens)
        await local()  # warm-up
        await served()
        runs = []
        for run in range(args.runs):
            results: dict[int, tuple[dict, dict]] = {}
            for c in LEVELS:
                n = requests_per_client(c, args.requests_per_client, args.single_client_requests)
                if c == 1:
                    results[c] = await alternate_single(local, served, n)
                elif run % 2 == 0:
                    base = await run_level(local, c, n)
                    results[c] = (base, await run_level(served, c, n))
                else:
                    through = await run_level(served, c, n)
                    results[c] = (await run_level(local, c, n), through)
            runs.append(report(results))
    await engine.close()
    return runs


def report(results: dict[int, tuple[dict, dict]]) -> dict[int, dict]:
    print(
        f"{'clients':>7} {'path':<11} {'tok/s':>7} {'TTFT p50':>9} {'TTFT p95':>9} "
        f"{'lat p50':>8} {'lat p95':>8}"
    )
    out = {}
    for c, (base, served) in results.items():
        for name, res in (("in-process", base), ("bastion", served)):
            print(
                f"{c:>7} {name:<11} {res['tokens_per_s']:7.1f} {res['ttft_p50_ms']:8.1f}ms "
                f"{res['ttft_p95_ms']:8.1f}ms {res['latency_p50_ms']:7.0f}ms "
                f"{res['latency_p95_ms']:7.0f}ms"
            )
        ratio = served["tokens_per_s"] / base["tokens_per_s"]
        overhead = served["ttft_p50_ms"] - base["ttft_p50_ms"]
        print(f"{c:>7} {'ratio':<11} throughput {ratio:.3f}x  TTFT p50 overhead {overhead:+.1f} ms")
        out[c] = {
            "in_process": base,
            "bastion": served,
            "throughput_ratio": ratio,
            "ttft_p50_overhead_ms": overhead,
        }
    sys.stdout.flush()
    return out


def start_server(tmp: Path, threads: int) -> tuple[subprocess.Popen, str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp / "bastion.yaml"
    config.write_text(
        f"log_level: WARNING\nmodels:\n  - name: smollm2-135m-instruct\n    threads: {threads}\n"
        "    context_length: 2048\n"
    )
    out = open(tmp / "out.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "bastion"),
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "data"),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("bastion serve exited:\n" + (tmp / "out.log").read_text()[-3000:])
        time.sleep(1)
    key = next(
        line for line in (tmp / "out.log").read_text().splitlines() if line.startswith("bst_")
    )
    return proc, url, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--single-client-requests", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the summary is medians")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, min((os.cpu_count() or 2) - 1, 8)),
        help="llama.cpp threads, for both paths alike (default: the engine's, cores - 1)",
    )
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    with tempfile.TemporaryDirectory() as tmp:
        proc, url, key = start_server(Path(tmp), args.threads)
        try:
            runs = asyncio.run(compare(args, url, key))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)

    ratios = [run[16]["throughput_ratio"] for run in runs]
    overheads = [run[1]["ttft_p50_overhead_ms"] for run in runs]
    print(
        f"{len(runs)} run(s): throughput ratio at 16 clients "
        f"{', '.join(f'{r:.3f}' for r in ratios)}; TTFT p50 overhead at 1 client "
        f"{', '.join(f'{o:+.1f}' for o in overheads)} ms"
    )
    print(
        f"target: throughput ratio at 16 clients >= 0.9 -> {statistics.median(ratios):.3f}; "
        f"TTFT p50 overhead <= 25 ms -> {statistics.median(overheads):+.1f} ms (medians)"
    )
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
