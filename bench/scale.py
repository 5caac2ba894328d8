"""Section 7: search latency, build time and memory against corpus size, 10^3..10^6 chunks.

Synthetic data, because the encoder's cost is linear and measured in section 2:

* vectors: 384-d clustered gaussians (1,000 topic centres on the unit sphere, each
  chunk = centre + N(0, 0.0316^2 I), normalised: cosine to its centre about 0.85,
  like e5 chunks to their topic), queries drawn the same way;
* BM25: token streams of Poisson(60) tokens from a Zipf(1.0) vocabulary of 50,000;
  a query is 6 tokens from the same law above rank 100 (the stop-word tokenizer drops
  the most common words).

Searches go through qa's own ``Retriever.dense_scores`` / ``bm25_scores`` (on a stub
index holding the synthetic FAISS / bm25s objects), with qa's candidate count, and
the FAISS indexes come from ``qa.store._faiss_index`` so HNSW has the product's settings, and
searches go through ``qa.store.LocalStore`` as the retriever's do.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import atomic_write, say, summary_ms

DIM = 384
CENTRES = 1000
SIGMA = 0.0316
VOCAB = 50_000
ZIPF_S = 1.0
TOKENS_PER_CHUNK = 60
QUERY_TOKENS = 6
STOPWORD_RANKS = 100
N_QUERIES = 200
LATENCY_QUERIES = 100
SIZES = (1_000, 10_000, 100_000, 1_000_000)
SEED = 0
HNSW_BUDGET_S = float(os.environ.get("QA_BENCH_HNSW_BUDGET_S", "360"))  # warn when one build takes longer
CHEAP_EF_CONSTRUCTION = 40


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int, block: int = 100_000) -> np.ndarray:
    """``n`` unit vectors around random centres, generated in blocks to bound temporaries."""
    out = np.empty((n, DIM), dtype=np.float32)
    for s in range(0, n, block):
        e = min(n, s + block)
        x = centres[rng.integers(0, len(centres), e - s)]
        x += SIGMA * rng.standard_normal((e - s, DIM), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s:e] = x
    return out


def zipf_probs(ranks: np.ndarray) -> np.ndarray:
    p = 1.0 / ranks.astype(np.float64) ** ZIPF_S
    return p / p.sum()


def serialized_bytes(index: Any) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def time_searches(search: Any, queries: list[Any]) -> list[float]:
    for q in queries[:5]:
        search(q)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def dense_rows(sizes: tuple[int, ...], section: str = "scale") -> list[dict[str, Any]]:
    """Flat and HNSW32 (qa's settings) at each size: build, p50, recall@10, bytes per chunk."""
    import faiss

    from qa.retrieve import FusionConfig
    from qa.store import LocalStore, _faiss_index

    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((CENTRES, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    t0 = time.perf_counter()
    base = clustered(rng, centres, max(sizes))
    queries = clustered(rng, centres, N_QUERIES)
    say(section, f"generated {len(base):,} vectors in {time.perf_counter() - t0:.1f} s")
    pool = FusionConfig().candidates
    rows: list[dict[str, Any]] = []
    per_vector = None  # seconds per vector of the last product-setting HNSW build
    for n in sizes:
        xb = base[:n]
        truth = None
        plans: list[tuple[str, int | None]] = [("Flat", None), ("HNSW32", None)]
        if per_vector is not None and per_vector * n * 1.15 > HNSW_BUDGET_S:
            # qa's own settings all the same: a cheaper build would not say what qa does
            say(section, f"note: HNSW32 at {n:,} will take about {per_vector * n * 1.15:.0f} s (qa's efConstruction)")
        if n == 100_000 and max(sizes) > n:
            plans.append(("HNSW32", CHEAP_EF_CONSTRUCTION))  # the trade-off behind the efC proposal
        for factory, ef_construction in plans:
            t0 = time.perf_counter()
            index = _faiss_index(xb, factory) if ef_construction is None else cheap_hnsw(xb, ef_construction)
            build_s = time.perf_counter() - t0
            if factory != "Flat" and ef_construction is None:
                per_vector = build_s / n
            store = LocalStore([str(i) for i in range(n)], index, None)

            def search(q: np.ndarray, st: LocalStore = store) -> dict[str, float]:
                return st.dense_search(q, pool)

            times = time_searches(search, list(queries[:LATENCY_QUERIES]))
            _, found = index.search(queries, 10)
            if factory == "Flat":
                truth = found
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))
            row = {
                "kind": f"FAISS {factory}" + ("" if ef_construction is None else f" efC{ef_construction}"),
                "n": n,
                "build_s": round(build_s, 3),
                "latency_ms": summary_ms(times),
                "recall@10": round(recall, 4),
                "bytes_per_chunk": round(serialized_bytes(index) / n, 1),
                "threads": faiss.omp_get_max_threads(),
            }
            if factory != "Flat":
                row["efSearch"] = int(index.hnsw.efSearch)
                row["efConstruction"] = int(index.hnsw.efConstruction)
                if n >= 100_000:
                    row["ef_sweep"] = ef_sweep(index, queries, truth, search)  # type: ignore[arg-type]
            rows.append(row)
            say(
                section,
                f"{row['kind']:18s} n={n:>9,}: build {build_s:7.2f} s, p50 {row['latency_ms']['p50']:8.3f} ms, "
                f"recall@10 {recall:.3f}, {row['bytes_per_chunk']:.0f} B/chunk",
            )
            del index
    return rows


def ef_sweep(index: Any, queries: np.ndarray, truth: np.ndarray, search: Any) -> dict[str, Any]:
    """Search-time efSearch against p50 and recall@10 (a knob qa can turn without rebuilding)."""
    before = index.hnsw.efSearch
    out = {}
    try:
        for ef in (32, 64, 128, 256):
            index.hnsw.efSearch = ef
            times = time_searches(search, list(queries[:LATENCY_QUERIES]))
            _, found = index.search(queries, 10)
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))
            out[str(ef)] = {"p50": summary_ms(times)["p50"], "recall@10": round(recall, 4)}
    finally:
        index.hnsw.efSearch = before
    return out


def cheap_hnsw(xb: np.ndarray, ef_construction: int):  # type: ignore[no-untyped-def]
    """qa's HNSW32 with a smaller efConstruction (search-time efSearch unchanged)."""
    import faiss

    from qa.store import _faiss_index

    product = _faiss_index(xb[:1], "HNSW32")
    index = faiss.IndexHNSWFlat(xb.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.hnsw.efSearch = product.hnsw.efSearch
    index.add(xb)
    return index


def token_streams(rng: np.random.Generator, n: int) -> list[list[int]]:
    """``n`` chunks of Zipf-distributed token ids (as Python lists: what bm25s indexes)."""
    probs = zipf_probs(np.arange(1, VOCAB + 1))
    lengths = np.maximum(5, rng.poisson(TOKENS_PER_CHUNK, n))
    flat = rng.choice(VOCAB, size=int(lengths.sum()), p=probs).astype(np.int32)
    bounds = np.cumsum(lengths)[:-1]
    return [a.tolist() for a in np.split(flat, bounds)]


def bm25_rows(sizes: tuple[int, ...], section: str = "scale") -> list[dict[str, Any]]:
    """bm25s with qa's parameters at each size: build, p50 of qa's bm25_scores, bytes per chunk."""
    import bm25s

    from qa.index import BM25_PARAMS
    from qa.retrieve import FusionConfig
    from qa.store import LocalStore

    rng = np.random.default_rng(SEED + 1)
    t0 = time.perf_counter()
    streams = token_streams(rng, max(sizes))
    say(section, f"generated {len(streams):,} token streams in {time.perf_counter() - t0:.1f} s")
    content = np.arange(STOPWORD_RANKS, VOCAB)
    qprobs = zipf_probs(content + 1)
    queries = [" ".join(f"t{t}" for t in rng.choice(content, QUERY_TOKENS, p=qprobs)) for _ in range(LATENCY_QUERIES)]
    vocab = {f"t{i}": i for i in range(VOCAB)}
    pool = FusionConfig().candidates
    rows = []
    for n in sizes:
        t0 = time.perf_counter()
        bm25 = bm25s.BM25(**BM25_PARAMS)
        bm25.index((streams[:n], dict(vocab)), show_progress=False)
        build_s = time.perf_counter() - t0
        store = LocalStore([str(i) for i in range(n)], None, bm25)
        times = time_searches(lambda q, st=store: st.bm25_search(q.split(), pool), queries)
        s = bm25.scores
        nbytes = sum(int(s[k].nbytes) for k in ("data", "indices", "indptr"))
        row = {
            "kind": "BM25 (bm25s)",
            "n": n,
            "build_s": round(build_s, 3),
            "latency_ms": summary_ms(times),
            "bytes_per_chunk": round(nbytes / n, 1),
        }
        rows.append(row)
        say(
            section,
            f"BM25   n={n:>9,}: build {build_s:7.2f} s, p50 {row['latency_ms']['p50']:8.3f} ms, "
            f"{row['bytes_per_chunk']:.0f} B/chunk",
        )
        del bm25
    return rows


def threshold(rows: list[dict[str, Any]], budget_ms: float) -> dict[str, Any]:
    """Smallest size at which Flat's p50 passes ``budget_ms`` (log-interpolated between sizes)."""
    flat = sorted((r["n"], r["latency_ms"]["p50"]) for r in rows if r["kind"] == "FAISS Flat")
    for (n0, t0), (n1, t1) in itertools.pairwise(flat):
        if t0 <= budget_ms < t1:
            frac = (np.log(budget_ms) - np.log(t0)) / (np.log(t1) - np.log(t0))
            return {
                "budget_ms": budget_ms,
                "flat_crosses_at": round(float(np.exp(np.log(n0) + frac * np.log(n1 / n0)))),
            }
    return {"budget_ms": budget_ms, "flat_crosses_at": None}


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Two panels: search p50 and build time against corpus size (log-log)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"FAISS Flat": "o-", "FAISS HNSW32": "s-", "BM25 (bm25s)": "^-", "FAISS HNSW32 efC40": "x--"}
    for kind, style in styles.items():
        pts = sorted(
            (r["n"], r["latency_ms"]["p50"], r["build_s"], r.get("recall@10")) for r in rows if r["kind"] == kind
        )
        if not pts:
            continue
        ns = [p[0] for p in pts]
        ax1.plot(ns, [p[1] for p in pts], style, label=kind)
        ax2.plot(ns, [max(p[2], 1e-3) for p in pts], style, label=kind)
        if kind.startswith("FAISS HNSW32"):
            for n, ms, _, rec in pts:
                ax1.annotate(f"R@10 {rec:.3f}", (n, ms), textcoords="offset points", xytext=(4, -12), fontsize=7)
    ax1.axhline(20, color="grey", ls=":", lw=1)
    ax1.text(1e3, 21, "target at 10^6: 20 ms", fontsize=7, color="grey")
    for ax, title, ylabel in (
        (ax1, "Search latency (one query, p50)", "milliseconds"),
        (ax2, "Index build time", "seconds"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("corpus size (chunks)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if ax is ax1 else "upper left")
    fig.suptitle("Scale: synthetic 384-d clustered vectors and Zipf token streams, 2 CPU cores", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def run(args: Any) -> dict[str, Any]:
    sizes = tuple(s for s in SIZES if s <= (100_000 if args.quick else SIZES[-1]))
    rows = dense_rows(sizes) + bm25_rows(sizes)
    out = {
        "sizes": list(sizes),
        "rows": rows,
        "data": {
            "dim": DIM,
            "centres": CENTRES,
            "sigma": SIGMA,
            "vocab": VOCAB,
            "zipf_s": ZIPF_S,
            "tokens_per_chunk": TOKENS_PER_CHUNK,
            "query_tokens": QUERY_TOKENS,
            "queries": N_QUERIES,
            "latency_queries": LATENCY_QUERIES,
        },
        "flat_threshold": [threshold(rows, b) for b in (2.0, 5.0)],
    }
    chart(rows, Path(args.out) / "scale.png")
    return out
