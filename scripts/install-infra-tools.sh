#!/usr/bin/env bash
# Install the offline Terraform test tools into their own virtual environments.
#
#   .venv-infra       checkov (static analysis, with our custom checks in infra/terraform/checks/)
#   .venv-infra-hcl2  python-hcl2 (HCL parser used by tests/infra/ through infra/tools/hcl2json.py)
#
# Two environments because checkov depends on bc-python-hcl2, which installs the same top-level
# module (`hcl2`) as python-hcl2: one would silently shadow the other in a shared venv.
# Neither goes into the main .venv: checkov pins many libraries that would clash with Bastion's.
#
# Idempotent: an environment whose pinned tool is already at the pinned version is left alone.
# Usage: bash scripts/install-infra-tools.sh   (from anywhere; paths are relative to the repo root)
set -euo pipefail

CHECKOV_VERSION="3.3.30"
PYTHON_HCL2_VERSION="8.1.4"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${BASTION_INFRA_PYTHON:-python3.11}"

# venv_with DIR PACKAGE VERSION: make DIR a venv holding PACKAGE==VERSION (no-op when it already does).
venv_with() {
    local dir="$1" pkg="$2" version="$3"
    if [[ -x "$dir/bin/python" ]] \
        && [[ "$("$dir/bin/python" -c "import importlib.metadata as m; print(m.version('$pkg'))" 2>/dev/null)" == "$version" ]]; then
        echo "install-infra-tools: $pkg==$version already in ${dir#"$ROOT"/}"
        return 0
    fi
    echo "install-infra-tools: installing $pkg==$version into ${dir#"$ROOT"/}"
    "$PYTHON" -m venv "$dir"
    # (This machine's pip config lists local indexes that may be empty: drop those warnings.)
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$pkg==$version" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

venv_with "$ROOT/.venv-infra" checkov "$CHECKOV_VERSION"
venv_with "$ROOT/.venv-infra-hcl2" python-hcl2 "$PYTHON_HCL2_VERSION"

# Smoke check: both tools start, offline.
BC_API_KEY="" CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="" \
    "$ROOT/.venv-infra/bin/checkov" --version >/dev/null
"$ROOT/.venv-infra-hcl2/bin/python" -c "import hcl2" >/dev/null
echo "install-infra-tools: ok"
