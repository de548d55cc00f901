"""The data folder is private to the account that runs Bastion.

Every Bastion command runs with umask 077 (:func:`private_umask`), so whatever it creates
first — the folder itself, ``keys.db``, ``audit.db`` and SQLite's ``-wal``/``-shm`` files,
``policy.yaml``, a signing key — is 0600 (folders 0700), and so is what the Ray processes it
starts create (they inherit the umask). Files left readable by others by an older version or
by hand are named at start-up (:func:`loose_files`); Bastion does not change them itself.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "loose_files", "private_umask"]

PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Set umask 077 for this process and its children; returns the previous umask."""
    return os.umask(PRIVATE_UMASK)


def loose_files(data_dir: Path, limit: int = 50) -> list[Path]:
    """Files and folders under ``data_dir`` (itself included) that the group or others may
    read, write or enter; at most ``limit`` of them. Symbolic links are not followed."""
    if not data_dir.exists():
        return []
    found: list[Path] = []
    stack = [data_dir]
    while stack and len(found) < limit:
        path = stack.pop()
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode):
            continue
        if info.st_mode & 0o077:
            found.append(path)
        if stat.S_ISDIR(info.st_mode):
            try:
                stack.extend(sorted(path.iterdir(), reverse=True))
            except OSError:
                continue
    return found[:limit]
