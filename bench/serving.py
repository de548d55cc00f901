"""Bastion (real `bastion serve`: Ray Serve + HTTP + SSE) vs. the same engine called in-process.

Streams the same completions at 1, 4 and 16 concurrent clients through both, in one run, and
prints tokens/s, TTFT p50/p95 and request latency p50/p95 with Bastion/in-process ratios.

``--level openai`` measures the `openai` engine instead: llama-cpp-python's own OpenAI-compatible
server (`python -m llama_cpp.server`, same GGUF and threads) is started, Bastion forwards to it
(`engine: openai`), and the baseline is a client calling that server directly, in the same run.

    .venv/bin/python bench/serving.py [--level engine|openai] [--tokens 32]
        [--requests-per-client 2] [--single-client-requests 20] [--runs 3] [--threads N]
        [--against OTHER_CHECKOUT] [--json out.json]

``--against`` measures another checkout's `bastion serve` (an older main) in the same run:
the versions' servers take turns, each measured against the in-process engine as above.

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


def bastion_client(
    http: httpx.AsyncClient, key: str | None, tokens: int, model: str = MODEL
) -> One:
    """Streams /v1/completions from Bastion, or (no key) from the upstream server directly."""
    numbers = itertools.count()
    body = {
        "model": model,
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"authorization": f"Bearer {key}"} if key else {}

    async def one() -> tuple[float, float, int]:
        request = {**body, "prompt": prompt(next(numbers))}
        start = time.perf_counter()
        first, n, chunks = None, 0, 0
        async with http.stream("POST", "/v1/completions", json=request, headers=headers) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if event["choices"] and event["choices"][0]["text"]:
                    chunks += 1
                    if first is None:
                        first = time.perf_counter() - start
                if event.get("usage"):
                    n = event["usage"]["completion_tokens"]
        # llama-cpp-python's server reports no usage in streams: one chunk per token there.
        return first or 0.0, time.perf_counter() - start, n or chunks

    return one


async def compare(
    args: argparse.Namespace, url: str, key: str, upstream: str | None = None
) -> list[dict[int, dict]]:
    """Bastion against its baseline: the engine in-process, or (``upstream``) the upstream
    server called directly."""
    from models.engines.llamacpp import LlamaCppEngine

    engine = None
    if upstream is None:
        engine = LlamaCppEngine(MODEL, context_length=2048, threads=args.threads)
        await engine.start()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http,
        httpx.AsyncClient(base_url=upstream or url, timeout=300, limits=limits) as direct,
    ):
        if engine is not None:
            local = in_process_client(engine, args.tokens)
        else:
            local = bastion_client(direct, None, args.tokens, UPSTREAM_MODEL)
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
                elif (run + getattr(args, "order_offset", 0)) % 2 == 0:
                    base = await run_level(local, c, n)
                    results[c] = (base, await run_level(served, c, n))
                else:
                    through = await run_level(served, c, n)
                    results[c] = (await run_level(local, c, n), through)
            runs.append(report(results, "in-process" if engine is not None else "direct"))
    if engine is not None:
        await engine.close()
    return runs


def report(results: dict[int, tuple[dict, dict]], baseline: str = "in-process") -> dict[int, dict]:
    print(
        f"{'clients':>7} {'path':<11} {'tok/s':>7} {'TTFT p50':>9} {'TTFT p95':>9} "
        f"{'lat p50':>8} {'lat p95':>8}"
    )
    out = {}
    for c, (base, served) in results.items():
        for name, res in ((baseline, base), ("bastion", served)):
            print(
                f"{c:>7} {name:<11} {res['tokens_per_s']:7.1f} {res['ttft_p50_ms']:8.1f}ms "
                f"{res['ttft_p95_ms']:8.1f}ms {res['latency_p50_ms']:7.0f}ms "
                f"{res['latency_p95_ms']:7.0f}ms"
            )
        ratio = served["tokens_per_s"] / base["tokens_per_s"]
        overhead = served["ttft_p50_ms"] - base["ttft_p50_ms"]
        print(f"{c:>7} {'ratio':<11} throughput {ratio:.3f}x  TTFT p50 overhead {overhead:+.1f} ms")
        out[c] = {
            baseline.replace("-", "_"): base,
            "bastion": served,
            "throughput_ratio": ratio,
            "ttft_p50_overhead_ms": overhead,
        }
    sys.stdout.flush()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(proc: subprocess.Popen, url: str, log: Path, what: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited:\n" + log.read_text()[-3000:])
        time.sleep(1)
    raise SystemExit(f"{what} did not become ready")


UPSTREAM_MODEL = "smollm2-upstream"


def start_upstream(tmp: Path, threads: int) -> tuple[subprocess.Popen, str]:
    """llama-cpp-python's OpenAI-compatible server on the bundled GGUF; returns its base URL."""
    from models.weights import bundled_gguf

    port = free_port()
    out = open(tmp / "upstream.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "models.engines.ggml_cpu",
                "llama_cpp.server",
                "--model",
                str(bundled_gguf()),
            ),
            *("--model_alias", UPSTREAM_MODEL, "--host", "127.0.0.1", "--port", str(port)),
            *("--n_ctx", "2048", "--n_threads", str(threads), "--n_threads_batch", str(threads)),
            *("--interrupt_requests", "False", "--verbose", "False"),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(proc, url + "/v1/models", tmp / "upstream.log", "llama_cpp.server")
    return proc, url


def openai_level_config(tmp: Path, upstream: str) -> str:
    """Configuration lines for `engine: openai` to ``upstream``, and the policy that allows it."""
    policy = tmp / "policy.yaml"
    policy.write_text(
        "sites:\n  - {id: local, jurisdiction: ZZ, region: local, upstream_hosts: [127.0.0.1]}\n"
        f"tenants:\n  - {{id: default, sites: [local], models: [{MODEL}]}}\n"
        f"models:\n  - {{id: {MODEL}@v1, site: local, approved_data_classes: [PHI, PCI, PII]}}\n"
    )
    return (
        f"policy:\n  files: [{policy}]\n"
        f"models:\n  - name: {MODEL}\n    engine: openai\n    context_length: 2048\n"
        f"    upstream:\n      base_url: {upstream}/v1\n      model: {UPSTREAM_MODEL}\n"
        "      read_timeout_s: 600\n"
    )


def start_server(
    tmp: Path,
    threads: int,
    upstream: str | None = None,
    tree: Path | None = None,
    extra_config: str = "",
) -> tuple[subprocess.Popen, str, str]:
    """``bastion serve`` from this checkout, or (``tree``) from another checkout of Bastion run
    on this environment's packages (its own code first on PYTHONPATH, for Ray's workers too)."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = tmp / "bastion.yaml"
    if upstream is None:
        models = (
            f"models:\n  - name: smollm2-135m-instruct\n    threads: {threads}\n"
            "    context_length: 2048\n"
        )
    else:
        models = openai_level_config(tmp, upstream)
    config.write_text("log_level: WARNING\n" + models + extra_config)
    out = open(tmp / "out.log", "w")  # noqa: SIM115
    env = dict(os.environ)
    command = [str(Path(sys.executable).parent / "bastion")]
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
        command = [sys.executable, "-c", "from serving.cli import main; main()"]
    proc = subprocess.Popen(
        [
            *command,
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
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(proc, url + "/readyz", tmp / "out.log", "bastion serve")
    key = next(
        line for line in (tmp / "out.log").read_text().splitlines() if line.startswith("bst_")
    )
    return proc, url, key


# With --against, this checkout is also measured with the privacy features that came after the
# pipeline refactor switched off, so that the pipeline itself is compared like for like.
MATCHED_PRIVACY = "privacy:\n  output_redaction: false\n  learned_detector: false\n"


def compare_versions(args: argparse.Namespace, tmp: Path) -> dict[str, list[dict[int, dict]]]:
    """This checkout against another one (``--against``): their servers take turns, never two at
    once (2 cores here), in a rotated order each round; within each server's turn Bastion is
    measured against the in-process engine exactly as in the default mode (compare()), so each
    version's overhead is taken minutes apart from the other's, against the same baseline."""
    versions = [("this", None, ""), ("this-matched", None, MATCHED_PRIVACY)]
    versions.append((f"against:{args.against.name}", args.against, ""))
    results: dict[str, list[dict[int, dict]]] = {label: [] for label, _, _ in versions}
    for r in range(args.runs):
        shift = r % len(versions)
        order = versions[shift:] + versions[:shift]
        for label, tree, extra in order if r % 2 == 0 else reversed(order):
            print(f"== round {r + 1}/{args.runs}: {label}")
            where = tmp / f"{label.replace(':', '-')}-{r}"
            proc, url, key = start_server(where, args.threads, tree=tree, extra_config=extra)
            try:
                one = argparse.Namespace(**{**vars(args), "runs": 1, "order_offset": r})
                results[label] += asyncio.run(compare(one, url, key))
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)
    print("\nversion            runs  throughput ratio @16 (median)  TTFT p50 overhead @1 (median)")
    medians = {}
    for label, runs in results.items():
        ratio = statistics.median(run[16]["throughput_ratio"] for run in runs)
        overhead = statistics.median(run[1]["ttft_p50_overhead_ms"] for run in runs)
        medians[label] = (ratio, overhead)
        print(f"{label:<18} {len(runs):>4}  {ratio:>28.3f}x  {overhead:>+29.1f} ms")
    base_ratio, base_overhead = medians[versions[-1][0]]
    for label, (ratio, overhead) in medians.items():
        if label != versions[-1][0]:
            print(
                f"{label} vs {versions[-1][0]}: throughput ratio {ratio - base_ratio:+.3f}, "
                f"TTFT overhead {overhead - base_overhead:+.1f} ms"
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--level",
        choices=("engine", "openai"),
        default="engine",
        help="engine: Bastion vs. the engine in-process; openai: Bastion -> engine openai -> "
        "llama.cpp server vs. a client calling that server directly",
    )
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
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout of Bastion (e.g. `git worktree add /tmp/old <commit>`): its "
        "`bastion serve` is measured in the same run, in turns with this checkout's (default "
        "settings, and with output redaction and the learned detector off)",
    )
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if args.against is not None:
        if args.level != "engine":
            parser.error("--against compares the engine level only")
        with tempfile.TemporaryDirectory() as tmp:
            results = compare_versions(args, Path(tmp))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return

    with tempfile.TemporaryDirectory() as tmp:
        procs: list[subprocess.Popen] = []
        try:
            upstream = None
            if args.level == "openai":
                upstream_proc, upstream = start_upstream(Path(tmp), args.threads)
                procs.append(upstream_proc)
            proc, url, key = start_server(Path(tmp), args.threads, upstream)
            procs.insert(0, proc)
            runs = asyncio.run(compare(args, url, key, upstream))
        finally:
            for proc in procs:
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
