#!/usr/bin/env bash
# One install command: creates ./.venv and installs Bastion with the CPU extras and dev tools.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
# torch==2.13.0 (CPU) is pinned in the [cpu] extra so pip never pulls a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet -e '.[cpu,dev]'
echo "installed: $(.venv/bin/bastion --help >/dev/null && echo ./.venv/bin/bastion)"
