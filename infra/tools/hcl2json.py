"""Parse Terraform files with python-hcl2 and print them as one JSON document.

Usage: python hcl2json.py ROOT
Prints {"<path relative to ROOT>": <parsed file>, ...} for every *.tf, *.tftest.hcl and *.tfvars
file under ROOT (hidden directories such as .terraform skipped). Runs in .venv-infra-hcl2, which
tests/infra/ call through a subprocess, so python-hcl2 never shares an environment with checkov
(whose bc-python-hcl2 installs a module of the same name). Exits 1 naming the file on a parse error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hcl2
from hcl2 import SerializationOptions

OPTIONS = SerializationOptions(
    with_comments=False,
    explicit_blocks=False,
    strip_string_quotes=True,
    preserve_heredocs=False,
)
SUFFIXES = (".tf", ".tftest.hcl", ".tfvars")


def parse_tree(root: Path) -> dict[str, object]:
    parsed: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or not path.name.endswith(SUFFIXES):
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        with path.open(encoding="utf-8") as handle:
            try:
                parsed[relative.as_posix()] = hcl2.load(handle, serialization_options=OPTIONS)
            except Exception as exc:
                raise SystemExit(f"hcl2json: cannot parse {relative}: {exc}") from exc
    return parsed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump(parse_tree(Path(argv[1])), sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
