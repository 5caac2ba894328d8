"""Section 1: warm query latency per mode, where the hybrid time goes, and the encoder floor.

Questions are asked one at a time through ``Pipeline.ask`` (what a user waits for).
The breakdown pass wraps the pipeline's own functions with timers (no copy of the
search logic), so it follows qa/ as it changes; a part qa/ no longer has reads ``None``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

from bench.common import (
    DATASET_LABELS,
    SHORT_QUESTION,
    Stopwatch,
    cached_index,
    load_named,
    ms_since,
    open_encoder,
    patched,
    say,
    summary_ms,
)

MODES = ("hybrid", "dense", "bm25")
WARMUP = 10
FLOOR_RUNS = 200
PARTS = ("check", "clean/simplify", "jieba", "bm25", "encoder", "faiss", "fusion", "compose")


def ask_latencies(pipe: Any, questions: list[str], mode: str) -> tuple[list[float], int]:
    """Milliseconds per ``Pipeline.ask``; questions the pipeline refuses are counted, not timed."""
    from qa.errors import QAError

    out, refused = [], 0
    for q in questions:
        t0 = time.perf_counter()
        try:
            pipe.ask(q, mode=mode)
        except QAError:
            refused += 1
            continue
        out.append(ms_since(t0))
    return out, refused


def warm_up(pipe: Any, questions: list[str]) -> None:
    """First calls pay for lazy imports, jieba's dictionary and oneDNN kernel selection."""
    from qa.errors import QAError

    for mode in MODES:
        for q in questions[:WARMUP]:
            with contextlib.suppress(QAError):
                pipe.ask(q, mode=mode)


def breakdown(pipe: Any, questions: list[str]) -> dict[str, Any]:
    """Per-part milliseconds of hybrid ``Pipeline.ask``, from timers around qa's own functions."""
    import qa.pipeline
    import qa.retrieve
    from qa.errors import QAError

    sw = Stopwatch()
    r, index = pipe.retriever, pipe.index
    hooks = [
        (qa.retrieve, "clean_query", "clean"),
        (r, "encode_query", "encoder"),
        (r, "dense_scores", "dense_total"),
        (r, "bm25_scores", "bm25_total"),
        (index, "tokenize", "jieba"),
        (r, "search", "search_total"),
        (qa.pipeline, "compose", "compose"),
    ]
    rows: list[dict[str, float | None]] = []
    with contextlib.ExitStack() as stack:
        missing = []
        for obj, attr, name in hooks:
            if hasattr(obj, attr):
                stack.enter_context(patched(obj, attr, sw.wrap(name, getattr(obj, attr))))
            else:
                missing.append(f"{type(obj).__name__}.{attr}")
        for q in questions:
            sw.reset()
            t0 = time.perf_counter()
            try:
                pipe.ask(q, mode="hybrid")
            except QAError:
                continue
            total = ms_since(t0)
            m = sw.ms
            get = m.get
            search, dense, bm25 = get("search_total"), get("dense_total"), get("bm25_total")
            row: dict[str, float | None] = {
                "total": total,
                "clean/simplify": get("clean"),
                "encoder": get("encoder"),
                # search() embeds the question (encoder) before dense_scores: the two timers do not
                # nest, so the dense search is dense_total itself (subtracting the encoder went negative)
                "faiss": dense,
                "jieba": get("jieba"),
                "bm25": None if bm25 is None or "jieba" not in m else bm25 - m["jieba"],
                "fusion": None
                if None in (search, dense, bm25, get("clean"), get("encoder"))
                else search - m["clean"] - m["encoder"] - dense - bm25,  # type: ignore[operator]
                "compose": get("compose"),
                "check": None if search is None or "compose" not in m else total - search - m["compose"],
            }
            rows.append(row)
    out: dict[str, Any] = {"n": len(rows), "missing_hooks": missing, "parts": {}}
    mean_total = sum(r_["total"] for r_ in rows) / max(len(rows), 1)  # type: ignore[misc]
    for part in (*PARTS, "total"):
        vals = [r_[part] for r_ in rows if r_.get(part) is not None]
        s = summary_ms(vals)  # type: ignore[arg-type]
        s["share_of_mean"] = round(s["mean"] / mean_total, 3) if vals and mean_total else None
        out["parts"][part] = s
    return out


def encoder_floor(enc: Any, runs: int = FLOOR_RUNS) -> dict[str, Any]:
    """p50 of embedding one short question: the least a dense or hybrid query can cost."""
    for _ in range(20):
        enc.encode_queries([SHORT_QUESTION])
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        enc.encode_queries([SHORT_QUESTION])
        times.append(ms_since(t0))
    return {
        "question": SHORT_QUESTION,
        "engine": getattr(enc, "query_engine", "sentence-transformers"),
        "encode_queries": summary_ms(times),
    }


def measure_dataset(enc: Any, name: str, n_questions: int | None, quick: bool) -> dict[str, Any]:
    from qa.evaluate import limit_questions
    from qa.pipeline import Pipeline

    ds = load_named(name, quick)
    questions = [q.question for q in limit_questions(ds, n_questions).questions]
    index = cached_index(ds, enc, "latency")
    pipe = Pipeline(index, enc)
    warm_up(pipe, questions)
    res: dict[str, Any] = {
        "label": DATASET_LABELS[name],
        "dataset": ds.name,
        "questions": len(questions),
        "chunks": len(index),
        "faiss": index.settings.faiss_factory,
        "modes": {},
    }
    for mode in MODES:
        times, refused = ask_latencies(pipe, questions, mode)
        res["modes"][mode] = {**summary_ms(times), "refused": refused}
        say("latency", f"{name} {mode}: p50 {res['modes'][mode]['p50']} ms, p95 {res['modes'][mode]['p95']} ms")
    res["hybrid_breakdown"] = breakdown(pipe, questions)
    res["reader"] = reader_latency(index, enc, questions)
    return res


def reader_latency(index: Any, enc: Any, questions: list[str]) -> dict[str, Any]:
    """Hybrid ``Pipeline.run`` with the trained reader: total, retrieve and read milliseconds."""
    from qa.errors import QAError
    from qa.pipeline import Pipeline
    from qa.reader import open_reader

    try:
        pipe = Pipeline(index, enc, reader=open_reader("on", progress=False))
    except QAError as e:
        return {"skipped": e.en}
    for q in questions[:WARMUP]:
        with contextlib.suppress(QAError):
            pipe.run(q)
    totals, retrieve, read = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        try:
            result = pipe.run(q)
        except QAError:
            continue
        totals.append(ms_since(t0))
        retrieve.append(result.timings.retrieve_ms)
        read.append(result.timings.read_ms)
    out = {"total": summary_ms(totals), "retrieve_ms": summary_ms(retrieve), "read_ms": summary_ms(read)}
    say("latency", f"hybrid + reader: p50 {out['total']['p50']} ms, p95 {out['total']['p95']} ms")
    return out


def run(args: Any) -> dict[str, Any]:
    enc = open_encoder("latency")  # first: nothing may load torch before the query engine (as in `qa ask`)
    import faiss

    torch = sys.modules.get("torch")
    out: dict[str, Any] = {
        "torch_threads": torch.get_num_threads() if torch is not None else "not loaded",
        "faiss_threads": faiss.omp_get_max_threads(),
        "datasets": {},
    }
    out["floor"] = encoder_floor(enc)
    say("latency", f"encoder floor (short question): p50 {out['floor']['encode_queries']['p50']} ms")
    out["datasets"]["article"] = measure_dataset(enc, "article", None, args.quick)
    out["datasets"]["cmrc"] = measure_dataset(enc, "cmrc", args.questions, args.quick)
    return out
