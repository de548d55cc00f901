"""llama.cpp's CPU backend without its "extra buffer types" (AMX, repacked weights).

On Intel Xeon CPUs with AMX (Sapphire Rapids and later), a llama-cpp-python wheel built with
``GGML_NATIVE`` (pip's default build on such a host) places the bundled model's Q4_1 weights in
llama.cpp's AMX buffer type, and the first decode dies with a segmentation fault inside
``ggml::cpu::amx::tensor_traits::compute_forward`` (seen with llama-cpp-python 0.3.36: a plain
chat completion crashes the process, with one thread or two). A crash takes the whole model
replica down, so Bastion loads every GGUF model with ``use_extra_bufts = false``: the weights
stay in ordinary CPU buffers, as on CPUs without AMX (the Q4_1 format has no repacked layout, so
on other CPUs nothing changes).

llama-cpp-python's ``Llama`` does not take that parameter; it reads its model parameters from
``llama_model_default_params()``, so :func:`disable_extra_buffer_types` wraps that function
(idempotent, process-wide). ``python -m models.engines.ggml_cpu MODULE ARGS...`` runs another
module (``llama_cpp.server``) the same way.
"""

from __future__ import annotations

import runpy
import sys
import threading

__all__ = ["disable_extra_buffer_types"]

_LOCK = threading.Lock()


def disable_extra_buffer_types() -> None:
    """From now on, every llama.cpp model this process loads keeps its weights in plain CPU
    buffers. A no-op where llama-cpp-python is too old to have the parameter."""
    import llama_cpp.llama_cpp as native

    with _LOCK:
        defaults = native.llama_model_default_params
        if getattr(defaults, "_bastion_plain_buffers", False):
            return
        fields = {name for name, *_ in native.llama_model_params._fields_}
        if "use_extra_bufts" not in fields:
            return

        def plain_buffers() -> native.llama_model_params:
            params = defaults()
            params.use_extra_bufts = False
            return params

        plain_buffers._bastion_plain_buffers = True  # type: ignore[attr-defined]
        native.llama_model_default_params = plain_buffers


def main(argv: list[str]) -> None:
    """Run module ``argv[0]`` as ``python -m`` would, with ``argv[1:]`` as its arguments."""
    if not argv:
        raise SystemExit("usage: python -m models.engines.ggml_cpu MODULE [ARGS...]")
    disable_extra_buffer_types()
    sys.argv = [argv[0], *argv[1:]]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
