"""What scanning the model's own output costs: added time to first token and throughput.

Real answers of the bundled SmolLM2-135M (llama.cpp, greedy) to realistic prompts are recorded
token by token with their arrival times, then replayed as delta streams of 1-4 tokens (seeded)
through (a) the placeholder restorer alone (the baseline) and (b) the output scanner followed by
the restorer, alternating answer by answer in the same run. Detection is the request path's
Redactor (spaCy + patterns).

- TTFT, compute: processing time until the first non-empty text leaves (a then b).
- TTFT, paced: the same, plus the generation time of the deltas the scanner waited for before it
  could send anything (recorded arrival times), which is what a client sees.
- Throughput: processing time per answer, against the engine's own generation time.

    .venv/bin/python bench/output_scan.py [--runs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.engines import GenerationRequest
from models.engines.llamacpp import LlamaCppEngine
from privacy import PrivacyConfig, Redactor
from privacy.output import OutputScanner, RedactorDetector
from privacy.pseudonymize import StreamRestorer

MODEL = "smollm2-135m-instruct"
PROMPTS = [
    "Write a sample contact card for a fictional person: name, phone, email and address.",
    "Write a short discharge letter for a fictional patient, with the doctor's name.",
    "Draft an email to a bank customer about a late payment on their account.",
    "Explain what high blood pressure is in three sentences.",
    "How do I reset my password? Give short steps.",
    "Summarize the benefits of regular exercise.",
    "Write a referral note from one doctor to another about a patient with asthma.",
    "List three tips for writing a clear report.",
    "Write a fictional customer record with name, date of birth and phone number.",
    "What should a patient bring to their first appointment?",
    "Write a short thank-you note to a colleague named in the note.",
    "Describe how a credit card payment is processed.",
]
MAPPING = {"PERSON_1": "Ana Ruiz"}


@dataclass
class Answer:
    tokens: list[str]
    arrival: list[float]  # seconds since the request started, per token


async def record(engine: LlamaCppEngine, prompt: str, max_tokens: int) -> Answer:
    text = engine.render_chat([{"role": "user", "content": prompt}])
    request = GenerationRequest(text, max_tokens=max_tokens, temperature=0.0)
    tokens, arrival = [], []
    started = time.perf_counter()
    async for delta in engine.generate(request):
        if delta.text:
            tokens.append(delta.text)
            arrival.append(time.perf_counter() - started)
    return Answer(tokens, arrival)


def deltas(answer: Answer, seed: int) -> list[tuple[str, float]]:
    """Groups of 1-4 tokens with the arrival time of their last token."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(answer.tokens):
        n = rng.randint(1, 4)
        out.append(
            ("".join(answer.tokens[i : i + n]), answer.arrival[min(i + n, len(answer.tokens)) - 1])
        )
        i += n
    return out


@dataclass
class Run:
    ttft_compute: float
    ttft_paced: float
    total: float
    detections: int = 0


def replay(stream: list[tuple[str, float]], detect: RedactorDetector | None) -> Run:
    restorer = StreamRestorer(MAPPING)
    scanner = OutputScanner(detect, MAPPING, MAPPING) if detect is not None else None
    spent = 0.0
    first: tuple[float, float] | None = None
    for text, arrived in stream:
        t0 = time.perf_counter()
        out = restorer.feed(scanner.feed(text) if scanner else text)
        spent += time.perf_counter() - t0
        if first is None and out:
            first = (spent, arrived + spent)
    t0 = time.perf_counter()
    if scanner is not None:
        restorer.feed(scanner.flush())
    restorer.flush()
    spent += time.perf_counter() - t0
    if first is None:
        first = (spent, stream[-1][1] + spent)  # nothing before the end: the tail is first
    return Run(first[0], first[1], spent, scanner.detections if scanner else 0)


def med(values: list[float]) -> float:
    return statistics.median(values)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=150)
    args = parser.parse_args()

    engine = LlamaCppEngine(MODEL, threads=args.threads)
    asyncio.run(engine.start())
    answers = [asyncio.run(record(engine, p, args.max_tokens)) for p in PROMPTS]
    redactor = Redactor(PrivacyConfig())
    redactor.warmup()
    detect = RedactorDetector(redactor, "")

    gen_s = [a.arrival[-1] for a in answers]
    n_tokens = sum(len(a.tokens) for a in answers)
    per_token_ms = 1000 * sum(gen_s) / n_tokens
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"model: {MODEL} (llama.cpp, {args.threads} threads), {len(answers)} answers, "
        f"{n_tokens} tokens, {n_tokens / sum(gen_s):.1f} tok/s ({per_token_ms:.1f} ms/token)"
    )

    base_ttft, scan_ttft, base_paced, scan_paced = [], [], [], []
    base_total, scan_total, detections, held = [], [], [], []
    for run in range(args.runs):
        for i, answer in enumerate(answers):
            stream = deltas(answer, seed=1000 * run + i)
            pair = [None, detect] if (run + i) % 2 == 0 else [detect, None]
            results = {id(d): replay(stream, d) for d in pair}
            b, s = results[id(None)], results[id(detect)]
            base_ttft.append(b.ttft_compute)
            scan_ttft.append(s.ttft_compute)
            base_paced.append(b.ttft_paced)
            scan_paced.append(s.ttft_paced)
            held.append(s.ttft_paced - s.ttft_compute - (b.ttft_paced - b.ttft_compute))
            base_total.append(b.total)
            scan_total.append(s.total)
            detections.append(s.detections)

    added_compute = [s - b for s, b in zip(scan_ttft, base_ttft, strict=True)]
    added_paced = [s - b for s, b in zip(scan_paced, base_paced, strict=True)]
    print(f"\nper answer, medians over {args.runs} runs x {len(answers)} answers:")
    print(
        f"  TTFT compute   restorer {1000 * med(base_ttft):7.3f} ms   scanner+restorer "
        f"{1000 * med(scan_ttft):7.3f} ms   added p50 {1000 * med(added_compute):7.3f} ms"
    )
    p50_diff = 1000 * (med(scan_paced) - med(base_paced))
    later = 100 * sum(h > 0 for h in held) / len(held)
    print(
        f"  TTFT paced     restorer {1000 * med(base_paced):7.1f} ms   scanner+restorer "
        f"{1000 * med(scan_paced):7.1f} ms   p50 difference {p50_diff:.1f} ms"
    )
    print(
        f"                 per answer: added p50 {1000 * med(added_paced):.1f} ms, "
        f"p90 {1000 * pct(added_paced, 0.9):.1f} ms; first text later in {later:.0f} % of answers"
    )
    ratio = med(scan_total) / med(base_total)
    cost = med([s / g for s, g in zip(scan_total, gen_s * args.runs, strict=True)])
    print(
        f"  processing     restorer {1000 * med(base_total):7.3f} ms   scanner+restorer "
        f"{1000 * med(scan_total):7.3f} ms   ratio {ratio:.1f}x"
    )
    print(
        f"  scan time / generation time: {100 * cost:.2f} % "
        f"(detector calls per answer: {med([float(d) for d in detections]):.0f})"
    )
    print(
        f"  scanner alone: {n_tokens * args.runs / sum(scan_total):.0f} tok/s "
        f"vs engine {n_tokens / sum(gen_s):.1f} tok/s"
    )
    print(
        f"target added p50 TTFT <= 5 ms: compute {1000 * med(added_compute):.2f} ms; paced "
        f"{p50_diff:.1f} ms (p50 vs p50), "
        f"{1000 * med(added_paced):.1f} ms (p50 per answer)"
    )


if __name__ == "__main__":
    main()
