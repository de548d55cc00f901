"""Identifier detection on the independent evaluation families: Bastion vs. vanilla Presidio.

Both systems run on the same texts, in the same process, one after the other:

- Bastion: ``privacy.redactor.Redactor`` with the default ``PrivacyConfig`` (what ``bastion
  redact`` and the gateway use), one request per text;
- vanilla Presidio: ``AnalyzerEngine`` with its default recognizers and the same spaCy model
  (full pipeline, loaded from the installed package, offline), score threshold 0; its spans are
  replaced by ``<TYPE>`` to get the redacted text.

Quality is scored by ``privacy.eval.score`` (recall: every letter and digit of a gold value
covered by some detection, any type; precision: merged detections that overlap no gold value
are false positives; leak: gold value still verbatim in the redacted text). Throughput is single
process with BLAS/OpenMP threads pinned to 1, so chars/s is per core; it is measured on the same
pass that is scored, plus ``--repeat - 1`` more passes (median).

    .venv/bin/python bench/privacy.py [--families narrative,email] [--limit 50] [--out t.md]
                                      [--tuning 200]

The evaluation families only report: never tune a detector against what this prints.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from privacy.eval import FAMILIES, Example, load_family  # noqa: E402
from privacy.eval.score import Detection, FamilyScore, redact, score  # noqa: E402

# Presidio's default entity names -> Bastion's (for per-type precision only; recall and leak
# are type-agnostic).
VANILLA_TYPES = {
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "DATE_TIME": "DATE",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "URL": "URL",
    "IP_ADDRESS": "IP",
    "US_SSN": "SSN",
    "US_ITIN": "ITIN",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "US_PASSPORT": "PASSPORT",
    "US_BANK_NUMBER": "ACCOUNT",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "MEDICAL_LICENSE": "DEA",
    "UK_NHS": "MEMBER_ID",
    "AU_MEDICARE": "MEMBER_ID",
    "AU_TFN": "SSN",
}


TUNING = "tuning corpus (in-sample)"


def tuning_examples(n: int, seed: int = 20261202) -> list[Example]:
    """``n`` documents of the tuning corpus the detectors are tuned on: an in-sample figure, a
    regression check, not a measure of generalization."""
    from privacy.eval import GoldSpan
    from privacy.train.corpus import generate

    return [
        Example(f"tuning-{i}", ex.locale, ex.text, tuple(GoldSpan(*s) for s in ex.spans))
        for i, ex in enumerate(generate(n, seed))
    ]


class System:
    """A detector under test: ``run(text) -> (detections, redacted text)``."""

    def __init__(self, name: str, run: Callable[[str], tuple[list[Detection], str]]) -> None:
        self.name = name
        self.run = run


def bastion_system() -> tuple[System, Any]:
    from privacy import PrivacyConfig, Redactor

    redactor = Redactor(PrivacyConfig())
    redactor.warmup()

    def run(text: str) -> tuple[list[Detection], str]:
        result = redactor.redact_messages([text], "")
        return [(s.start, s.end, s.entity_type) for s in result.spans[0]], result.texts[0]

    return System("Bastion", run), redactor


def vanilla_system() -> tuple[System, Any]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from privacy.analyzer import SPACY_MODEL
    from privacy.offline import configure_offline

    configure_offline()
    engine = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": SPACY_MODEL}])
    )
    engine.analyze("warm up John Smith 617-555-0134", language="en", score_threshold=0)

    def run(text: str) -> tuple[list[Detection], str]:
        results = engine.analyze(text, language="en", score_threshold=0)
        found = [(r.start, r.end, VANILLA_TYPES.get(r.entity_type, r.entity_type)) for r in results]
        return found, redact(text, found)

    return System("vanilla Presidio", run), engine


def run_family(
    system: System, examples: Sequence[Example]
) -> tuple[FamilyScore, dict[str, FamilyScore], float]:
    """Score one pass over ``examples``: the whole score, the score per locale, and the pass's
    wall time."""
    detections, redacted = [], []
    started = time.perf_counter()
    for ex in examples:
        found, red = system.run(ex.text)
        detections.append(found)
        redacted.append(red)
    elapsed = time.perf_counter() - started
    by_locale = {}
    for locale in sorted({ex.locale for ex in examples}):
        idx = [i for i, ex in enumerate(examples) if ex.locale == locale]
        by_locale[locale] = score(
            [examples[i] for i in idx], [detections[i] for i in idx], [redacted[i] for i in idx]
        )
    return score(examples, detections, redacted), by_locale, elapsed


def timing(system: System, texts: Sequence[str], first: float, repeat: int) -> float:
    times = [first]
    for _ in range(repeat - 1):
        started = time.perf_counter()
        for text in texts:
            system.run(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def batch_timing(redactor: Any, engine: Any, texts: list[str], size: int) -> tuple[float, float]:
    """Wall time of one pass in batches of ``size`` (Bastion's redact_batch, Presidio's
    BatchAnalyzerEngine)."""
    from presidio_analyzer import BatchAnalyzerEngine

    batches = [texts[i : i + size] for i in range(0, len(texts), size)]
    started = time.perf_counter()
    for b in batches:
        redactor.redact_batch([[t] for t in b], [""] * len(b))
    t_bastion = time.perf_counter() - started
    batch_engine = BatchAnalyzerEngine(analyzer_engine=engine)
    started = time.perf_counter()
    for b in batches:
        list(batch_engine.analyze_iterator(b, language="en", batch_size=size, score_threshold=0))
    return t_bastion, time.perf_counter() - started


def detector_label() -> str:
    """The commit measured, and whether the detector's files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "privacy", ":!privacy/eval"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        # An exported tree (git archive) names its commit in the environment.
        commit = os.environ.get("BASTION_GIT_COMMIT")
        return f"git {commit} (exported tree)" if commit else "unknown commit (not a git checkout)"
    return f"git {head}" + (" + uncommitted changes under privacy/" if dirty else "")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _f(x: float) -> str:
    return f"{x:.3f}"


def markdown(
    scores: dict[str, dict[str, FamilyScore]],
    sizes: dict[str, tuple[int, int, int]],
    speed: list[tuple[str, float, float, float, float]],
    label: str,
    batch_line: str,
    locale_scores: dict[str, dict[str, dict[str, FamilyScore]]] | None = None,
) -> str:
    systems = list(next(iter(scores.values())))
    a, b = systems
    lines = [
        f"Detector: {label}; measured {dt.date.today().isoformat()} by `bench/privacy.py` on the "
        "evaluation families in `privacy/eval/` (never tuned against).",
        "",
        "| family | texts | identifiers | "
        + " | ".join(f"{s} {m}" for s in systems for m in ("recall", "precision", "leak rate"))
        + " |",
        "|---|---:|---:|" + "---:|" * 6,
    ]
    for fam, by_system in scores.items():
        n_texts, n_ids, _ = sizes[fam]
        cells = []
        for s in systems:
            sc = by_system[s]
            cells += [_f(sc.recall()), _f(sc.precision()), _pct(sc.leak_rate())]
        lines.append(f"| {fam} | {n_texts} | {n_ids:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per entity type (recall and leak rate by gold type; precision by detected type;"
        " `-` where the system made no detection of that type):",
        "",
    ]
    for fam, by_system in scores.items():
        lines += [
            f"**{fam}**",
            "",
            f"| type | gold | {a} recall | {a} leak | {a} precision | {b} recall | {b} leak | "
            f"{b} precision |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        sa, sb = by_system[a], by_system[b]
        kinds = sorted(set(sa.gold) | set(sa.predicted) | set(sb.predicted))
        for k in kinds:
            n = sa.gold.get(k, 0)
            row = [k, str(n)]
            for sc in (sa, sb):
                row += [
                    _f(sc.recall(k)) if n else "",
                    _pct(sc.leak_rate(k)) if n else "",
                    f"{_f(sc.precision(k))} ({sc.predicted[k]})" if sc.predicted.get(k) else "-",
                ]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    if locale_scores:
        locales = sorted({loc for f in locale_scores.values() for loc in f[a]})
        lines += [
            "Recall / leak rate per locale:",
            "",
            "| family | system | " + " | ".join(locales) + " |",
            "|---|---|" + "---:|" * len(locales),
        ]
        for fam, by_system in locale_scores.items():
            for name, by_locale in by_system.items():
                cells = [
                    f"{_f(by_locale[loc].recall())} / {_pct(by_locale[loc].leak_rate())}"
                    if loc in by_locale
                    else ""
                    for loc in locales
                ]
                lines.append(f"| {fam} | {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "Throughput, one request per text, single process, one thread (per core):",
        "",
        "| system | texts/s | chars/s | ratio (chars/s vs vanilla) |",
        "|---|---:|---:|---:|",
    ]
    base = next(cps for name, _, cps, _, _ in speed if name == b)
    for name, tps, cps, _, _ in speed:
        lines.append(f"| {name} | {tps:.1f} | {cps:,.0f} | {cps / base:.2f}x |")
    if batch_line:
        lines += ["", batch_line]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated")
    parser.add_argument("--limit", type=int, default=0, help="first N texts of each family")
    parser.add_argument("--repeat", type=int, default=1, help="timing passes (median)")
    parser.add_argument("--batch", type=int, default=16, help="batch size; 0 skips batch mode")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    parser.add_argument(
        "--tuning",
        type=int,
        default=0,
        help="also score N documents of the tuning corpus (privacy/train; in-sample, labelled so)",
    )
    args = parser.parse_args(argv)

    families = [f.strip() for f in args.families.split(",") if f.strip()]
    data = {}
    for fam in families:
        examples = load_family(fam)
        data[fam] = examples[: args.limit] if args.limit else examples
    if args.tuning:
        data[TUNING] = tuning_examples(args.tuning)

    t0 = time.perf_counter()
    bastion, redactor = bastion_system()
    t_bastion_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    vanilla, engine = vanilla_system()
    t_vanilla_build = time.perf_counter() - t0
    print(
        f"build + warm-up: Bastion {t_bastion_build:.1f} s, vanilla {t_vanilla_build:.1f} s",
        file=sys.stderr,
    )

    scores: dict[str, dict[str, FamilyScore]] = {}
    locale_scores: dict[str, dict[str, dict[str, FamilyScore]]] = {}
    sizes: dict[str, tuple[int, int, int]] = {}
    elapsed = {bastion.name: 0.0, vanilla.name: 0.0}
    for fam, examples in data.items():
        texts = [ex.text for ex in examples]
        sizes[fam] = (len(examples), sum(len(ex.spans) for ex in examples), sum(map(len, texts)))
        scores[fam] = {}
        for system in (bastion, vanilla):
            sc, by_locale, first = run_family(system, examples)
            scores[fam][system.name] = sc
            locale_scores.setdefault(fam, {})[system.name] = by_locale
            elapsed[system.name] += timing(system, texts, first, args.repeat)
            print(
                f"{fam:<15} {system.name:<17} recall {sc.recall():.3f} precision "
                f"{sc.precision():.3f} leak {sc.leak_rate():.3%}",
                file=sys.stderr,
            )

    n_texts = sum(s[0] for s in sizes.values())
    n_chars = sum(s[2] for s in sizes.values())
    speed = [
        (name, n_texts / t, n_chars / t, t, n_chars)
        for name, t in (
            (bastion.name, elapsed[bastion.name]),
            (vanilla.name, elapsed[vanilla.name]),
        )
    ]
    batch_line = ""
    if args.batch:
        all_texts = [t for ex in data.values() for t in (e.text for e in ex)]
        tb, tv = batch_timing(redactor, engine, all_texts, args.batch)
        batch_line = (
            f"Batched ({args.batch} requests per call; Bastion `redact_batch`, Presidio "
            f"`BatchAnalyzerEngine`): Bastion {n_chars / tb:,.0f} chars/s, vanilla "
            f"{n_chars / tv:,.0f} chars/s, ratio {tv / tb:.2f}x."
        )
    table = markdown(scores, sizes, speed, detector_label(), batch_line, locale_scores)
    sys.stdout.write(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
