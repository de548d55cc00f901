"""Regenerate (or check) the frozen evaluation families.

    python -m privacy.eval.generate            # rewrite privacy/eval/data/<family>.jsonl
    python -m privacy.eval.generate --check    # exit 1 if a file differs from its generator

The files are the evaluation data; the generators are their provenance. A generator change
that alters a file is a new evaluation set and must be called so in the commit message.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from privacy.eval import DATA_DIR, FAMILIES

__all__ = ["family_bytes", "main"]


def family_bytes(name: str) -> bytes:
    """The exact bytes of ``data/<name>.jsonl`` as the family's generator writes them."""
    if name not in FAMILIES:
        raise ValueError(f"unknown evaluation family {name!r}")
    module = importlib.import_module(f"privacy.eval.{name}")
    lines = [
        json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
        for rec in module.generate()
    ]
    return "".join(lines).encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("families", nargs="*", default=list(FAMILIES))
    args = parser.parse_args(argv)
    differ = []
    for name in args.families:
        data = family_bytes(name)
        path = DATA_DIR / f"{name}.jsonl"
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                differ.append(name)
        else:
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    if differ:
        sys.stderr.write(f"differs from its generator: {', '.join(differ)}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
