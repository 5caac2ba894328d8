"""Run one parse in a child process under a memory and a time bound.

A small hostile file can expand into gigabytes (a zip bomb in a DOCX) or keep a pure
Python parser busy for minutes (a PDF whose pages share one huge content stream). In the
server's own process that stalls every ask and can take the machine down; in a child it
costs one refusal. The child is a fresh interpreter (``python -m <module>``) that reads the
input on stdin and writes JSON on stdout, so nothing of the server (threads, models, locks)
is forked with it. On POSIX the child caps its own address space (``RLIMIT_AS``,
``limit_own_memory``) before it parses; elsewhere only the timeout holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


class Exceeded(Exception):
    """The child ran past its time or memory bound (``what``: "time" or "memory")."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


_MEMORY_VARIABLE = "QA_SANDBOX_MEMORY_BYTES"


def limit_own_memory() -> None:
    """In the child, first thing: cap this process's address space at the bound
    ``run_bounded`` passed (a ``preexec_fn`` would do it before exec, but is unsafe in a
    server with threads)."""
    limit = int(os.environ.get(_MEMORY_VARIABLE, "0"))
    try:
        import resource
    except ImportError:  # Windows: the timeout is the only bound
        return
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def near_memory_limit(share: float = 0.6) -> bool:
    """In the child: whether its peak resident memory reached ``share`` of the bound. A C
    parser (lxml) that runs out of memory reports a parse error, not a ``MemoryError``;
    after such a peak the error is the bound's, and is said so. The peak is this
    program's own (``VmHWM``, reset by exec); ``ru_maxrss`` would carry the parent's."""
    limit = int(os.environ.get(_MEMORY_VARIABLE, "0"))
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            peak_kib = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except (OSError, ValueError):
        return False
    return limit > 0 and peak_kib * 1024 >= share * limit


def run_bounded(module: str, args: list[str], data: bytes, timeout_s: float, memory_bytes: int) -> Any:
    """``python -m module *args`` with ``data`` on stdin; its stdout parsed as JSON.

    Raises ``Exceeded("time")`` after ``timeout_s`` (the child is killed) and
    ``Exceeded("memory")`` when it died of its memory limit (a ``MemoryError`` or a kill
    by the kernel); any other failure is a ``RuntimeError`` with the child's last line.
    """
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # importable from any cwd
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", _MEMORY_VARIABLE: str(memory_bytes)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            input=data,
            capture_output=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed it
        raise Exceeded("time") from e
    tail = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
    if done.returncode != 0:
        if "MemoryError" in tail or done.returncode in (-9, 137):
            raise Exceeded("memory")
        raise RuntimeError(tail or f"exit status {done.returncode}")
    return json.loads(done.stdout)
