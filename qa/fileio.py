"""File helpers shared by every stage (hashing, atomic writes), so each concept has one place."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import uuid
from pathlib import Path

_TEMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")  # atomic_write_bytes's temp names
STALE_TEMP_S = 600.0  # a write takes seconds; a temp file this old was left by a killed process


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks so memory stays bounded for any size."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make renames inside ``path`` durable (a power cut cannot undo them)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """``atomic_write_bytes`` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def sweep_stale_temps(folder: Path, older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete the temp files a killed ``atomic_write_bytes`` left in ``folder`` (at any
    depth), if older than ``older_than_s``: a write in progress elsewhere keeps its own.
    Returns what was removed; a file that cannot be removed is left (and not reported)."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    cutoff = time.time() - older_than_s
    for path in folder.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            if _TEMP.match(path.name) and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
    return removed
