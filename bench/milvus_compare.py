"""The two stores side by side: recall@1 per mode (and retrieval time) with FAISS + bm25s and
with Milvus Lite on the same vectors and tokens, plus Milvus's own hybrid rankers.

    .venv/bin/python bench/milvus_compare.py [--limit 300] [--out bench/results/milvus.json]

Gold: every question over the article. CMRC 2018 / DRCD dev: a fixed sample of questions
over their own paragraphs plus 100 distractor paragraphs (the test suite's sample shape),
so the local index builds in minutes on 2 cores. The Milvus index is a copy of the local
one (same vectors, same tokens), so any difference is the store's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa import evaluate  # noqa: E402
from qa.index import HybridIndex  # noqa: E402
from qa.model import Encoder  # noqa: E402
from qa.normalize import clean_query  # noqa: E402
from qa.store import MilvusStore  # noqa: E402

SETS = (
    ROOT / "eval" / "gold.jsonl",
    ROOT.parent / "shared" / "benchmarks" / "cmrc2018_dev.json",
    ROOT.parent / "shared" / "benchmarks" / "drcd_dev.json",
)
MODES = ("hybrid", "dense", "bm25")


def milvus_copy(index: HybridIndex, uri: str) -> HybridIndex:
    tokens = index.stored_tokens() or [index.tokenize(c.text) for c in index.chunks]
    store = MilvusStore.create(uri, [c.chunk_id for c in index.chunks], index.vectors, tokens)
    return HybridIndex(
        index.chunks,
        index.vectors,
        replace(index.settings, store="milvus"),
        store,
        corpus_hashes=index.corpus_hashes,
        tokens=tokens,
        sentences=index.sentences,
    )


def native_recall(ds: evaluate.Dataset, index: HybridIndex, encoder: Encoder, ranker: str) -> tuple[float, float]:
    """recall@1 and p50 ms of Milvus's own hybrid ranker."""
    judge = evaluate.HitJudge(index.chunks)
    store = index.store
    assert isinstance(store, MilvusStore)
    answerable = [q for q in ds.questions if q.answerable]
    hits, times = 0, []
    for q in answerable:
        text = clean_query(q.question)
        vector = encoder.encode_queries([text])[0]
        t0 = time.perf_counter()
        found = store.native_hybrid_search(vector, index.tokenize(text), 1, ranker)
        times.append((time.perf_counter() - t0) * 1000)
        best = next(iter(found), None)
        hits += best is not None and judge.is_hit(q, index.chunks[index.row_of[best]])
    return hits / len(answerable), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "milvus.json")
    args = parser.parse_args()
    encoder = Encoder(progress=False)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in SETS:
            if not path.is_file():
                print(f"skip {path}: absent", file=sys.stderr)
                continue
            ds = evaluate.load_dataset(path)
            if ds.kind == "squad":
                ds = evaluate.focus_documents(evaluate.limit_questions(ds, args.limit), 100)
            local, _ = evaluate.cached_index(ds, encoder, progress=sys.stderr.isatty())
            t0 = time.perf_counter()
            milvus = milvus_copy(local, str(Path(tmp) / f"{ds.name}.db"))
            copy_s = time.perf_counter() - t0
            row: dict[str, object] = {"dataset": ds.name, "questions": len(ds.questions), "chunks": len(local)}
            for name, index in (("local", local), ("milvus", milvus)):
                report = evaluate.evaluate(ds, index, encoder, MODES, 10)
                for mode in MODES:
                    row[f"{name}_{mode}_recall@1"] = report.modes[mode]["recall@1"]
                    row[f"{name}_{mode}_retrieve_ms_p50"] = report.modes[mode]["retrieve_ms_p50"]
            for ranker in ("weighted", "rrf"):
                recall, ms = native_recall(ds, milvus, encoder, ranker)
                row[f"milvus_native_{ranker}_recall@1"] = round(recall, 4)
                row[f"milvus_native_{ranker}_ms_p50"] = round(ms, 2)
            row["milvus_insert_s"] = round(copy_s, 2)
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
