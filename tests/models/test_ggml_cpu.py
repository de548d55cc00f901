"""llama.cpp models load without the extra (AMX) buffer types (models/engines/ggml_cpu.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("llama_cpp")

CHECK = """
import llama_cpp.llama_cpp as native
from models.engines.ggml_cpu import disable_extra_buffer_types
assert native.llama_model_default_params().use_extra_bufts  # llama.cpp's own default
disable_extra_buffer_types()
disable_extra_buffer_types()  # idempotent: wrapped once
assert native.llama_model_default_params().use_extra_bufts is False
import llama_cpp.llama as high
assert high.llama_cpp.llama_model_default_params().use_extra_bufts is False  # what Llama reads
print("ok")
"""


def test_models_are_loaded_with_plain_cpu_buffers() -> None:
    # In a fresh interpreter: the switch is process-wide and cannot be undone.
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
