"""Bastion's redactor vs. vanilla Presidio on the same labelled texts, in one process.

Vanilla = Presidio's AnalyzerEngine with its default recognizers and the same spaCy model
(full pipeline), as a default install would run it. Both are single-threaded (BLAS/OpenMP
threads pinned to 1), so chars/s is per core. Timings are medians of --repeat runs.

    .venv/bin/python bench/privacy.py [--docs 40] [--repeat 3] [--batch 16]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from privacy import PrivacyConfig, Redactor  # noqa: E402
from privacy.analyzer import SPACY_MODEL  # noqa: E402
from privacy.offline import configure_offline  # noqa: E402
from tests.privacy.corpus import generate  # noqa: E402
from tests.privacy.evaluate import score  # noqa: E402

VANILLA_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "US_SSN": "SSN",
    "US_ITIN": "ITIN",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
    "DATE_TIME": "DATE",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "US_PASSPORT": "PASSPORT",
    "US_BANK_NUMBER": "ACCOUNT",
}


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=40, help="documents per genre (4 genres)")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (median)")
    parser.add_argument("--batch", type=int, default=16, help="requests per batch in batch mode")
    args = parser.parse_args()

    configure_offline()
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    docs = generate(n_per_genre=args.docs, seed=2024)
    texts = [d.text for d in docs]
    chars = sum(len(t) for t in texts)
    labels = sum(len(d.gold) for d in docs)
    print(f"corpus: {len(docs)} documents, {chars / 1000:.0f} KB, {labels} labelled identifiers")

    t0 = time.perf_counter()
    bastion = Redactor(PrivacyConfig())
    bastion.warmup()
    t_build_b = time.perf_counter() - t0
    t0 = time.perf_counter()
    vanilla = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": SPACY_MODEL}])
    )
    vanilla.analyze("warm up John Smith 617-555-0134", language="en")
    t_build_v = time.perf_counter() - t0

    # Quality
    b_results = [bastion.redact_messages([t], "") for t in texts]
    b_preds = [[(s.entity_type, s.start, s.end) for s in r.spans[0]] for r in b_results]
    v_raw = [vanilla.analyze(t, language="en") for t in texts]
    rows = []
    for name, preds in [
        ("bastion", b_preds),
        ("vanilla (threshold 0)", [[(r.entity_type, r.start, r.end) for r in rs] for rs in v_raw]),
        (
            "vanilla (threshold 0.5)",
            [[(r.entity_type, r.start, r.end) for r in rs if r.score >= 0.5] for rs in v_raw],
        ),
    ]:
        s = score(docs, preds, type_map=VANILLA_TYPES)
        rows.append((name, s))

    # Speed: one request at a time, then batched across concurrent requests.
    t_b = _median_time(lambda: [bastion.redact_messages([t], "") for t in texts], args.repeat)
    t_v = _median_time(lambda: [vanilla.analyze(t, language="en") for t in texts], args.repeat)
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    t_bb = _median_time(
        lambda: [bastion.redact_batch([[t] for t in b], [""] * len(b)) for b in batches],
        args.repeat,
    )
    batch_vanilla = BatchAnalyzerEngine(analyzer_engine=vanilla)
    t_vb = _median_time(
        lambda: [
            list(batch_vanilla.analyze_iterator(b, language="en", batch_size=args.batch))
            for b in batches
        ],
        args.repeat,
    )

    print(f"\nbuild + warm-up: bastion {t_build_b:.1f} s, vanilla {t_build_v:.1f} s")
    print("\nquality (recall: identifier fully covered; precision: detection overlaps a label)")
    print(f"{'system':<26}{'recall':>8}{'precision':>11}{'F2':>7}{'typed recall':>14}")
    for name, s in rows:
        typed = sum(s.typed_hits.values()) / max(1, sum(s.recall_total.values()))
        print(f"{name:<26}{s.recall():>8.4f}{s.precision():>11.4f}{s.f2():>7.4f}{typed:>14.4f}")
    bs = rows[0][1]
    print("\nbastion per entity (recall / precision / n):")
    for e in sorted(bs.recall_total):
        print(f"  {e:<16}{bs.recall(e):>8.4f}{bs.precision(e):>9.4f}{bs.recall_total[e]:>6}")
    vs = rows[2][1]
    print("vanilla (0.5) recall per gold entity:")
    print("  " + ", ".join(f"{e} {vs.recall(e):.2f}" for e in sorted(vs.recall_total)))

    kb = chars / 1024
    print("\nspeed (single thread; median of", args.repeat, "runs)")
    print(f"{'mode':<30}{'ms per 1 KB':>12}{'chars/s/core':>14}")
    for name, t in [
        ("bastion, per request", t_b),
        ("vanilla, per request", t_v),
        (f"bastion, batch of {args.batch}", t_bb),
        (f"vanilla, batch of {args.batch}", t_vb),
    ]:
        print(f"{name:<30}{1000 * t / kb:>12.2f}{chars / t:>14,.0f}")
    print(
        f"\nspeed-up per request: {t_v / t_b:.2f}x; batched: {t_vb / t_bb:.2f}x; "
        f"bastion batch vs bastion single: {t_b / t_bb:.2f}x"
    )


if __name__ == "__main__":
    main()
