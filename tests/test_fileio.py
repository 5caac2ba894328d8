"""Atomic writes and the sweep of what a killed write leaves behind (``qa.fileio``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from qa.fileio import atomic_write_bytes, sweep_stale_temps


def _aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_an_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.txt", "零碳园区".encode())
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_write_killed_midway_leaves_its_temp_and_the_sweep_removes_it_once_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*_: object) -> None:
        raise SystemExit("killed")  # os.replace never ran; the BaseException handler cleans up...

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(SystemExit):
        atomic_write_bytes(tmp_path / "a.txt", b"x")
    assert list(tmp_path.iterdir()) == []  # ...unless the process dies outright (SIGKILL, power cut):
    sub = tmp_path / "sub"
    sub.mkdir()
    stale = sub / ".report.docx.0123abcd.tmp"
    stale.write_bytes(b"half")
    _aged(stale, 3600)
    fresh = tmp_path / ".b.txt.89abcdef.tmp"
    fresh.write_bytes(b"being written now")
    other = tmp_path / ".notes.tmp"
    other.write_bytes(b"a user's hidden file, not one of ours")
    _aged(other, 3600)
    assert sweep_stale_temps(tmp_path) == [stale]
    assert not stale.exists() and fresh.exists() and other.exists()


def test_sweeping_a_missing_folder_is_a_no_op(tmp_path: Path) -> None:
    assert sweep_stale_temps(tmp_path / "none") == []
