"""Shared helpers for the benchmark sections: timing, memory, datasets, progress, machine info.

Every section runs in its own worker process (see ``run.py``), so peak RSS is per section
and one section's caches never speed up another.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
CMRC = BENCHMARKS / "cmrc2018_dev.json"
DRCD = BENCHMARKS / "drcd_dev.json"
GOLD = ROOT / "eval" / "gold.jsonl"
CORPUS = ROOT / "corpus"
SHORT_QUESTION = "零碳园区是什么？"  # the encoder floor is measured on this


# ---------------------------------------------------------------- progress
_T0 = time.perf_counter()


def say(section: str, message: str) -> None:
    """One progress line on stderr, with the seconds since this process started."""
    print(f"[{time.perf_counter() - _T0:7.1f}s] {section}: {message}", file=sys.stderr, flush=True)


def tty() -> bool:
    return sys.stderr.isatty()


# ---------------------------------------------------------------- statistics
def pct(values: Sequence[float], q: float) -> float | None:
    """Percentile (linear interpolation), None for no data."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def summary_ms(values_ms: Sequence[float]) -> dict[str, Any]:
    """p50/p95/mean/min/max of latencies in milliseconds, rounded for the report."""
    if not values_ms:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}
    a = np.asarray(values_ms, dtype=float)
    return {
        "n": len(a),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "mean": round(float(a.mean()), 3),
        "min": round(float(a.min()), 3),
        "max": round(float(a.max()), 3),
    }


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


# ---------------------------------------------------------------- memory
def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """Peak RSS of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """Peak RSS during a block, sampled every few ms by a thread.

    ru_maxrss only ever grows, so it cannot give the peak of one step after a bigger
    one; sampling can (it may miss a spike shorter than the interval).
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        import psutil

        proc = psutil.Process()
        self.peak = proc.memory_info().rss / 2**20

        def loop() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, proc.memory_info().rss / 2**20)
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss_mb())


# ---------------------------------------------------------------- files
def atomic_write(path: Path, data: str | bytes) -> None:
    """Readers see the old or the new file, never half of one (qa's helper, plus the folder)."""
    from qa.fileio import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data if isinstance(data, bytes) else data.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def bench_cache() -> Path:
    """Indexes built by the benchmark live here (outside git): ``$QA_BENCH_DIR`` or ``<qa cache>/bench``."""
    env = os.environ.get("QA_BENCH_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    from qa.model import cache_dir

    return cache_dir() / "bench"


# ---------------------------------------------------------------- datasets
def load_named(name: str, quick: bool = False):  # type: ignore[no-untyped-def]
    """``article`` (gold set over corpus/), ``cmrc`` or ``drcd`` as a qa.evaluate Dataset.

    ``quick`` keeps the first 150 paragraphs of a SQuAD file (and their questions), so
    ``--quick`` builds in seconds; the numbers are then marked as a subset.
    """
    from qa.evaluate import Dataset, load_gold, load_squad

    if name == "article":
        return load_gold(GOLD, CORPUS)
    ds = load_squad(CMRC if name == "cmrc" else DRCD)
    if not quick:
        return ds
    docs = ds.documents[:150]
    keep = {d.doc_id for d in docs}
    questions = [q for q in ds.questions if q.gold_doc in keep]
    return Dataset(ds.name + "-quick150", ds.kind, docs, questions, ds.source_hash + "-quick150")


def sample_questions(ds: Any, n: int | None) -> list[Any]:
    """Answerable questions: all gold ones, or a fixed-seed sample of ``n`` SQuAD ones."""
    from qa.evaluate import limit_questions

    picked = limit_questions(ds, n).questions if n else ds.questions
    return [q for q in picked if q.answerable and q.hit_keys()]


DATASET_LABELS = {"article": "article (gold)", "cmrc": "CMRC 2018 dev", "drcd": "DRCD dev"}


# ---------------------------------------------------------------- encoder and indexes
def open_encoder(section: str):  # type: ignore[no-untyped-def]
    from qa.model import Encoder

    t0 = time.perf_counter()
    enc = Encoder(progress=False)
    say(section, f"encoder loaded in {time.perf_counter() - t0:.1f} s ({enc.model_id}, dim {enc.dim})")
    return enc


def cached_index(ds: Any, enc: Any, section: str):  # type: ignore[no-untyped-def]
    """The dataset's index from the bench cache, building it (untimed) if missing."""
    from qa.evaluate import cached_index as load_or_build

    t0 = time.perf_counter()
    index, info = load_or_build(ds, enc, cache_root=bench_cache(), progress=tty())
    how = "loaded" if info.cached else "built (not timed here)"
    say(section, f"{ds.name}: index {how}, {len(index)} chunks, {time.perf_counter() - t0:.1f} s")
    return index


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    """Temporarily set an attribute of a module or instance (in the bench process only).

    An instance attribute that shadowed a class method is removed again afterwards.
    """
    missing = object()
    old = vars(obj).get(name, missing)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if old is missing:
            delattr(obj, name)
        else:
            setattr(obj, name, old)


class Stopwatch:
    """Accumulates time spent in wrapped callables, per name, for one question at a time."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def reset(self) -> None:
        self.ms = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.ms[name] = self.ms.get(name, 0.0) + ms_since(t0)

        return timed


# ---------------------------------------------------------------- machine
def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in (
        "torch",
        "faiss-cpu",
        "sentence-transformers",
        "transformers",
        "bm25s",
        "jieba",
        "numpy",
        "gradio",
        "langchain-community",
        "langchain-core",
        "langchain-text-splitters",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpu": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
