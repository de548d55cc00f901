"""Guardrails: the injection classifier's quality and cost, with a rules-only baseline, in one run;
and the structured-output figures (bench/guardrails_structured.py), so one command reports both.

Classifier part (the input guard's screen, in-process, CPU):

- quality on the held-out family (policies/guardrails/data/heldout_*.txt, never used for
  training, threshold or rules): precision, recall and F1 of (a) the rules alone (the baseline),
  (b) the classifier alone and (c) rules or classifier (what ships), at the shipped threshold;
  the tuning family's figures are printed too, marked as a regression check (it trained the model);
- the same figures on a second evaluation family, heldout_v2 (data/heldout_v2_*.txt), written by
  another author without reading the tuning set, the first held-out family, the rules or the
  training code, and committed before it was first measured;
- latency per request: each held-out text screened as one request, uncached (the encoder's cache
  is off here), rules-only and rules+classifier alternating, ``--runs`` passes; also requests
  carrying a long retrieved document (720 words). p50 / p99 in ms, alternating pass by pass in
  the same run: the forward pass inline on the caller's thread with torch's default number of
  intra-op threads and with 1 thread (fp32), the encoder's own worker thread with one OpenMP
  thread and length-sorted batches with the fp32 encoder on torch ("encoder_thread"), the same
  with the fp32 encoder on onnxruntime ("encoder_thread_onnx"; also with two intra-op threads,
  "encoder_thread_onnx_2_threads"), and the same worker thread with the dynamic int8 encoder,
  one text per forward pass, on onnxruntime ("encoder_thread_int8", what ships while meta.json
  says ``quantized: true``) and on torch ("encoder_thread_int8_torch", its fallback without
  onnxruntime). The latency rows use the shipped weights for every configuration (the weights
  do not change the cost);
- with ``--compare-weights DIR`` (``python -m policies.guardrails.train --encoder int8 --out
  DIR``, or ``--encoder fp32`` when int8 ships), the quality of the same screen trained and run on
  the other encoder, in the same run, so int8 and fp32 are compared on the same data.

    .venv/bin/python bench/guardrails.py [--part classifier|structured|all] [--runs 3]
        [--compare-weights DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.guardrails.classifier import InjectionClassifier, load_classifier
from policies.guardrails.dataset import load_split
from policies.guardrails.encoder import SentenceEncoder
from policies.guardrails.rules import match_rules

DOCUMENT = (
    "Discharge summary template. The patient was admitted with community-acquired pneumonia and "
    "treated with intravenous antibiotics for three days, then switched to oral therapy. "
    "Observations remained stable throughout the stay and oxygen was weaned on day two. "
) * 20


def _prf(predicted: np.ndarray, y: np.ndarray) -> dict[str, float]:
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    p = tp / max(1, tp + fp)
    r = tp / max(1, tp + fn)
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(2 * p * r / max(1e-9, p + r), 3),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def _quality(classifier: InjectionClassifier, split: str) -> dict[str, Any]:
    texts, labels = load_split(split)  # type: ignore[arg-type]
    y = np.array(labels)
    rules = np.array([match_rules(t) is not None for t in texts])
    scores = np.array([classifier.screen([t], rules=False).score for t in texts])
    model = scores >= classifier.threshold
    return {
        "texts": len(texts),
        "attacks": int(y.sum()),
        "rules_only": _prf(rules, y),
        "classifier_only": _prf(model, y),
        "rules_or_classifier": _prf(rules | model, y),
    }


def _ms(values: list[float]) -> dict[str, float]:
    arr = np.array(values) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p99_ms": round(float(np.percentile(arr, 99)), 2),
        "mean_ms": round(float(arr.mean()), 2),
        "n": len(values),
    }


def _latency(runs: int, threads: int | None = None) -> dict[str, Any]:
    import torch

    shipped = load_classifier()

    def on(encoder: SentenceEncoder) -> InjectionClassifier:
        """The shipped head (weights, lexical part, threshold) on another encoder."""
        return InjectionClassifier(
            shipped.weights, shipped.bias, shipped.threshold, encoder, shipped.lexical
        )

    inline = on(SentenceEncoder(cache=0, threads=None, backend="torch"))
    dedicated = on(SentenceEncoder(cache=0, backend="torch"))
    onnx = on(SentenceEncoder(cache=0, backend="onnx"))
    onnx2 = on(SentenceEncoder(cache=0, threads=2, backend="onnx"))
    quantized = on(SentenceEncoder(cache=0, quantized=True, backend="onnx"))
    quantized_torch = on(SentenceEncoder(cache=0, quantized=True, backend="torch"))
    texts, _ = load_split("heldout")
    for classifier in (inline, dedicated, onnx, onnx2, quantized, quantized_torch):
        classifier.screen(["warm up the model"], rules=False)
    default_threads = torch.get_num_threads()
    settings: list[Any] = [default_threads] if threads is None else [threads]
    if threads is None and default_threads != 1:
        settings.append(1)  # torch intra-op threads: the default and 1, alternating passes
    settings.append("encoder_thread")  # fp32 on the encoder's thread
    settings.append("encoder_thread_onnx")  # fp32 on onnxruntime, on the encoder's thread
    settings.append("encoder_thread_onnx_2_threads")  # the same, two intra-op threads
    settings.append("encoder_thread_int8")  # int8 on the encoder's thread, one text per pass
    settings.append("encoder_thread_int8_torch")  # the same on torch
    out: dict[str, Any] = {"document_words": len(DOCUMENT.split()), "configurations": {}}
    timings = {n: {k: [] for k in ("rules", "full", "doc_rules", "doc_full")} for n in settings}
    for _ in range(runs):
        for n in settings:
            own_thread = isinstance(n, str)
            torch.set_num_threads(default_threads if own_thread else n)
            uncached = {
                "encoder_thread": dedicated,
                "encoder_thread_onnx": onnx,
                "encoder_thread_onnx_2_threads": onnx2,
                "encoder_thread_int8": quantized,
                "encoder_thread_int8_torch": quantized_torch,
            }.get(n, inline)
            t = timings[n]
            for text in texts:
                start = time.perf_counter()
                match_rules(text)
                t["rules"].append(time.perf_counter() - start)
                start = time.perf_counter()
                # what the input guard does: rules, then the model when no rule matched
                if match_rules(text) is None:
                    uncached.screen([text], rules=False)
                t["full"].append(time.perf_counter() - start)
            for i in range(10):
                request = [f"Summarize this document ({i}):", DOCUMENT]
                start = time.perf_counter()
                for part in request:
                    match_rules(part)
                t["doc_rules"].append(time.perf_counter() - start)
                start = time.perf_counter()
                uncached.screen(request, rules=True)
                t["doc_full"].append(time.perf_counter() - start)
    torch.set_num_threads(default_threads)
    for n, t in timings.items():
        out["configurations"][str(n)] = {
            "per_request_rules_only": _ms(t["rules"]),
            "per_request_rules_and_classifier": _ms(t["full"]),
            "long_document_rules_only": _ms(t["doc_rules"]),
            "long_document_rules_and_classifier": _ms(t["doc_full"]),
        }
    fp32 = out["configurations"]["encoder_thread"]["per_request_rules_and_classifier"]
    int8 = out["configurations"]["encoder_thread_int8"]["per_request_rules_and_classifier"]
    int8_torch = out["configurations"]["encoder_thread_int8_torch"]
    int8_torch = int8_torch["per_request_rules_and_classifier"]
    ort = out["configurations"]["encoder_thread_onnx"]["per_request_rules_and_classifier"]
    for name, part in (
        ("onnx_int8_over_torch_fp32", int8),
        ("onnx_fp32_over_torch_fp32", ort),
        ("torch_int8_over_torch_fp32", int8_torch),
    ):
        out[name] = {
            "p50": round(part["p50_ms"] / fp32["p50_ms"], 3),
            "p99": round(part["p99_ms"] / fp32["p99_ms"], 3),
        }
    return out


def run_classifier(runs: int = 3, compare_weights: Path | None = None) -> dict[str, Any]:
    classifier = load_classifier()
    comparison: dict[str, Any] = {}
    if compare_weights is not None:
        other = load_classifier(compare_weights / "weights.npz", compare_weights / "meta.json")
        if other.encoder.quantized == classifier.encoder.quantized:
            raise SystemExit(f"{compare_weights} holds weights for the shipped encoder")
        other.encoder.start()
        comparison = {
            "comparison": {
                "encoder": ("int8" if other.encoder.quantized else "fp32")
                + f" on {other.encoder.backend}",
                "threshold": other.threshold,
                "heldout": _quality(other, "heldout"),
                "heldout_v2": _quality(other, "heldout_v2"),
                "tune_regression_only": _quality(other, "tune"),
            }
        }
    classifier.encoder.start()
    return {
        "threshold": classifier.threshold,
        "encoder": ("int8" if classifier.encoder.quantized else "fp32")
        + f" on {classifier.encoder.backend}",
        "heldout": _quality(classifier, "heldout"),
        "heldout_v2": _quality(classifier, "heldout_v2"),
        "tune_regression_only": _quality(classifier, "tune"),
        **comparison,
        "latency": _latency(runs),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the end",
    }


def _print_quality(result: dict[str, Any], label: str = "") -> None:
    for name in ("heldout", "heldout_v2", "tune_regression_only"):
        part = result[name]
        print(f"{label}{name}: {part['texts']} texts, {part['attacks']} attacks")
        print(f"  {'':22}{'precision':>10}{'recall':>8}{'F1':>7}{'fp':>5}{'fn':>5}")
        for kind in ("rules_only", "classifier_only", "rules_or_classifier"):
            f = part[kind]
            print(
                f"  {kind:22}{f['precision']:>10.3f}{f['recall']:>8.3f}{f['f1']:>7.3f}"
                f"{f['fp']:>5}{f['fn']:>5}"
            )


def _print_classifier(result: dict[str, Any]) -> None:
    print(
        f"injection classifier ({result['encoder']} encoder, threshold {result['threshold']}); "
        f"{result['machine']}"
    )
    _print_quality(result)
    if "comparison" in result:
        part = result["comparison"]
        kind = part["encoder"]
        print(f"same screen trained and run on the {kind} encoder (threshold {part['threshold']}):")
        _print_quality(part, f"{kind} ")
    lat = result["latency"]
    for setting, part in lat["configurations"].items():
        # an int is torch's intra-op threads for the forward pass inline; a name is an encoder
        # on its own worker thread (see the module docstring)
        what = f"inline, torch threads {setting}" if setting.isdigit() else setting
        print(
            f"latency per request, uncached, {what} (long document: {lat['document_words']} words)"
        )
        for kind, f in part.items():
            print(f"  {kind:36} p50 {f['p50_ms']:8.2f} ms  p99 {f['p99_ms']:8.2f} ms  (n={f['n']})")
    for name in (
        "onnx_int8_over_torch_fp32",
        "onnx_fp32_over_torch_fp32",
        "torch_int8_over_torch_fp32",
    ):
        label = name.replace("_over_", " / ").replace("_", " ")
        ratio = lat[name]
        print(
            f"per request, {label} on the encoder thread: p50 x{ratio['p50']}, p99 x{ratio['p99']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("classifier", "structured", "all"), default="all")
    parser.add_argument("--runs", type=int, default=3, help="latency passes over held-out")
    parser.add_argument("--requests", type=int, default=100, help="structured: requests")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--compare-weights",
        "--fp32-weights",
        "--int8-weights",
        dest="compare_weights",
        type=Path,
        default=None,
        help="compare: weights trained on the other encoder (train.py --encoder ... --out DIR)",
    )
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if args.part in ("classifier", "all"):
        result["classifier"] = run_classifier(args.runs, args.compare_weights)
        if not args.json:
            _print_classifier(result["classifier"])
    if args.part in ("structured", "all"):
        try:
            from bench.guardrails_structured import _print, run_structured
        except ImportError:  # pragma: no cover - the structured bench is part of the repo
            print("structured output: bench/guardrails_structured.py is not available")
        else:
            result["structured"] = run_structured(args.requests)
            if not args.json:
                _print(result["structured"])
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
