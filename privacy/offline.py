"""Keep every dependency of the privacy package off the network.

spaCy loads its model from the installed package; Hugging Face libraries are told they are
offline; ``tldextract`` (used by Presidio's email and URL recognizers, and by Bastion's) is given
an extractor that only reads the public-suffix snapshot bundled in its wheel: no suffix-list
download, no cache directory.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["configure_offline", "offline_tldextract"]

_lock = threading.Lock()
_extractor: Any = None


def offline_tldextract() -> Any:
    """A ``tldextract.TLDExtract`` that never opens a socket (bundled snapshot, no cache)."""
    global _extractor
    with _lock:
        if _extractor is None:
            import tldextract

            _extractor = tldextract.TLDExtract(
                cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True
            )
        return _extractor


def configure_offline() -> None:
    """Set offline switches and replace tldextract's module-level extractor. Idempotent."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import tldextract
    import tldextract.tldextract as tld_module

    extractor = offline_tldextract()
    tld_module.TLD_EXTRACTOR = extractor
    tld_module.extract = extractor
    tldextract.extract = extractor
