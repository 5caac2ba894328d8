"""Sections 2 and 3: index build from scratch, and incremental re-index after one edit.

Steps are timed with wrappers around qa's own functions (encoder, tokenizer, load,
save), so the numbers are those of the real build path, split where the time goes.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CORPUS,
    DATASET_LABELS,
    RssSampler,
    Stopwatch,
    bench_cache,
    cached_index,
    load_named,
    open_encoder,
    patched,
    say,
    tty,
)

EDIT = "这是基准测试在段落末尾新增的一句话，用来触发增量重建。"


@contextlib.contextmanager
def build_timers(sw: Stopwatch, enc: Any) -> Any:
    """Time embedding and BM25 tokenisation inside HybridIndex.build / ensure_index."""
    import qa.pipeline
    import qa.tokenize
    from qa.index import HybridIndex

    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(enc, "encode_passages", sw.wrap("embed", enc.encode_passages)))
        stack.enter_context(patched(qa.tokenize, "tokenize", sw.wrap("tokenize", qa.tokenize.tokenize)))
        for name in ("load", "build", "save"):
            stack.enter_context(patched(HybridIndex, name, sw.wrap(name, getattr(HybridIndex, name))))
        for name in ("corpus_hashes", "load_corpus", "chunk_documents"):
            if hasattr(qa.pipeline, name):
                stack.enter_context(patched(qa.pipeline, name, sw.wrap(name, getattr(qa.pipeline, name))))
        yield


def build_one(enc: Any, name: str, quick: bool, sentence_vectors: bool = True) -> dict[str, Any]:
    """Raw text -> saved index, from scratch (no previous vectors), timed by step.

    ``sentence_vectors`` False: chunk vectors only (``QA_SENTENCE_VECTORS=0``), the
    same work as the LangChain peer's build.
    """
    from qa.chunking import ChunkingConfig, chunk_documents
    from qa.corpus import load_corpus
    from qa.evaluate import build_dataset_index, index_key

    sw = Stopwatch()
    chunking = ChunkingConfig()
    with RssSampler() as mem:
        t0 = time.perf_counter()
        if name == "article":
            docs, _ = load_corpus(CORPUS)  # read + decode + clean, as `qa index build` does
            t_load = time.perf_counter() - t0
            ds = load_named(name)  # untimed: the same documents, wrapped with the gold questions
        else:
            ds = load_named(name, quick)  # JSON parse + clean every paragraph
            docs = ds.documents
            t_load = time.perf_counter() - t0
        t1 = time.perf_counter()
        chunks = chunk_documents(docs, chunking)
        t_chunk = time.perf_counter() - t1
        say("build", f"{name}: {len(docs)} documents, {len(chunks)} chunks; embedding…")
        path = bench_cache() / "indexes" / index_key(ds, enc, chunking)
        if not sentence_vectors:
            path = path.with_name(path.name + "-chunks-only")
        with build_timers(sw, enc):  # times HybridIndex.build inside
            index = build_dataset_index(ds, chunks, enc, chunking, tty(), sentence_vectors)
            index.save(path)
        total = time.perf_counter() - t0
    chars = sum(len(d.raw) for d in docs)
    sentences = index.sentences[0] if index.sentences is not None else []
    embedded_chars = sum(len(c.text) for c in chunks)  # sentences: up to as many again
    m = sw.ms
    steps = {
        "read+clean": t_load,
        "chunk": t_chunk,
        "embed": m.get("embed", 0) / 1000,
        "bm25 tokenize": m.get("tokenize", 0) / 1000,
        "bm25 index + faiss": (m.get("build", 0) - m.get("embed", 0) - m.get("tokenize", 0)) / 1000,
        "save": m.get("save", 0) / 1000,
    }
    res = {
        "label": DATASET_LABELS[name],
        "dataset": ds.name,
        "documents": len(docs),
        "chars": chars,
        "chunks": len(chunks),
        "sentence_vectors": len(sentences),
        "embedded_chars": embedded_chars,
        "seconds": round(total, 2),
        "chars_per_s": round(chars / total, 1),
        "chunks_per_s": round(len(chunks) / total, 2),
        "embed_chars_per_s": round(embedded_chars / steps["embed"], 1) if steps["embed"] else None,
        "steps_s": {k: round(v, 3) for k, v in steps.items()},
        "faiss": index.settings.faiss_factory,
        "peak_rss_mb": round(mem.peak, 1),
    }
    what = f"{len(sentences)} sentence vectors" if sentence_vectors else "chunk vectors only"
    rate = f"{res['chars_per_s']:.0f} chars/s, {res['chunks_per_s']:.1f} chunks/s"
    say("build", f"{name} ({what}): {total:.1f} s, {rate}")
    return res


def run_build(args: Any) -> dict[str, Any]:
    import sys

    from qa.index import configured_sentence_vectors

    enc = open_encoder("build")
    t0 = time.perf_counter()
    enc.encode_passages(["预热"])  # the passage model loads lazily: keep its load out of the throughput
    load_s = time.perf_counter() - t0
    say("build", f"passage model ({enc.passage_engine}) loaded in {load_s:.1f} s")
    torch = sys.modules.get("torch")  # not imported at all with an ONNX passage engine
    out: dict[str, Any] = {
        "passage_engine": enc.passage_engine,
        "torch_threads": torch.get_num_threads() if torch is not None else "not loaded",
        "quick_subset": args.quick,
        "passage_model_load_s": round(load_s, 2),
        "datasets": {},
    }
    out["chunks_only"] = {}
    for name in ("article", "cmrc", "drcd"):
        out["datasets"][name] = build_one(enc, name, args.quick, configured_sentence_vectors())
        out["chunks_only"][name] = build_one(enc, name, args.quick, sentence_vectors=False)
    return out


# ---------------------------------------------------------------- incremental
def write_corpus(docs: list[Any], folder: Path) -> list[Path]:
    """Each paragraph its own UTF-8 file, as a user's corpus folder would hold them."""
    folder.mkdir(parents=True)
    paths = []
    for i, d in enumerate(docs):
        p = folder / f"p{i:04d}.txt"
        p.write_text(d.raw, encoding="utf-8")
        paths.append(p)
    return paths


def run_incremental(args: Any) -> dict[str, Any]:
    from qa.chunking import ChunkingConfig, chunk_documents
    from qa.corpus import load_corpus
    from qa.index import HybridIndex
    from qa.pipeline import corpus_hashes, ensure_index

    enc = open_encoder("incremental")
    ds = load_named("cmrc", args.quick)
    previous = cached_index(ds, enc, "incremental")
    with tempfile.TemporaryDirectory(prefix="qa-bench-incr-") as tmp:
        corpus_dir, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        paths = write_corpus(ds.documents, corpus_dir)
        # Seed the folder's index from the CMRC index (same texts, so no embedding).
        docs, _ = load_corpus(corpus_dir)
        chunks = chunk_documents(docs, ChunkingConfig())
        seed = HybridIndex.build(
            chunks, enc, ChunkingConfig(), corpus_hashes=corpus_hashes(corpus_dir), previous=previous, progress=False
        )
        seed.save(index_dir)
        say("incremental", f"seeded {len(paths)} documents, {len(chunks)} chunks ({seed.reused} vectors reused)")
        t0 = time.perf_counter()
        _, report = ensure_index(corpus_dir, index_dir, enc, progress=False)
        fresh_open = time.perf_counter() - t0
        if report.rebuilt:
            say("incremental", f"warning: the seeded index was not fresh ({report.reasons})")
        edits = []
        n = len(paths)
        # The first edit runs before anything loaded the passage model, as in a fresh
        # `qa ask` after an edit; the others find it loaded, as in a running ui.py.
        for k in (n // 4, n // 2, n // 3, (2 * n) // 3):
            p = paths[k]
            p.write_text(p.read_text(encoding="utf-8") + EDIT, encoding="utf-8")
            sw = Stopwatch()
            with RssSampler() as mem, build_timers(sw, enc):
                t0 = time.perf_counter()
                _, report = ensure_index(corpus_dir, index_dir, enc, progress=False)
                dt = time.perf_counter() - t0
            m = sw.ms
            parts = {
                "hash corpus": m.get("corpus_hashes", 0),
                "load previous index": m.get("load", 0),
                "read+clean corpus": m.get("load_corpus", 0),
                "chunk": m.get("chunk_documents", 0),
                "embed": m.get("embed", 0),
                "bm25 tokenize": m.get("tokenize", 0),
                "bm25 index + faiss": m.get("build", 0) - m.get("embed", 0) - m.get("tokenize", 0),
                "save": m.get("save", 0),
            }
            parts["other"] = dt * 1000 - sum(parts.values())
            edits.append(
                {
                    "document": p.name,
                    "seconds": round(dt, 3),
                    "rebuilt": report.rebuilt,
                    "chunks": report.n_chunks,
                    "reembedded": report.n_chunks - report.reused,
                    "parts_ms": {k_: round(v, 1) for k_, v in parts.items()},
                    "peak_rss_mb": round(mem.peak, 1),
                }
            )
            say("incremental", f"edit {p.name}: {dt:.2f} s, {edits[-1]['reembedded']} chunks re-embedded")
    warm = edits[1:]
    secs = [e["seconds"] for e in warm]
    return {
        "dataset": ds.name,
        "documents": len(paths),
        "chunks": len(chunks),
        "fresh_open_s": round(fresh_open, 3),
        "edits": edits,
        "first_edit_s": edits[0]["seconds"],
        "seconds_median": round(statistics.median(secs), 3),
        "reembedded_median": statistics.median(e["reembedded"] for e in warm),
    }
