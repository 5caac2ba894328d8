"""Retrieval: dense, lexical (BM25) and their fusion, behind one ``search`` call.

Both searches go through the index's store (``qa.store``: FAISS + bm25s, or Milvus).

The fusion functions are pure (score dicts in, score dict out) so they can be unit
tested and compared on the benchmarks without any I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from qa.index import HybridIndex
from qa.normalize import clean_query
from qa.types import MODES, Hit, Mode

Scores = Mapping[int, float]


# ---------------------------------------------------------------- pure fusion functions
def minmax(scores: Scores) -> dict[int, float]:
    """Scale scores to [0, 1]; a constant list maps to 1 (all equally good)."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return {k: 1.0 for k in scores}
    return {k: (v - lo) / (hi - lo) for k, v in scores.items()}


def weighted_score_fusion(dense: Scores, sparse: Scores, alpha: float) -> dict[int, float]:
    """``alpha * dense + (1 - alpha) * bm25`` after min-max scaling each side.

    A chunk missing from one side's candidates gets that side's minimum (0 after
    scaling), as in pyserini's hybrid searcher.
    """
    d, s = minmax(dense), minmax(sparse)
    keys = d.keys() | s.keys()
    return {k: alpha * d.get(k, 0.0) + (1 - alpha) * s.get(k, 0.0) for k in keys}


def reciprocal_rank_fusion(
    rankings: Mapping[str, list[int]], weights: Mapping[str, float], k: int = 60
) -> dict[int, float]:
    """Weighted RRF: sum of ``weight / (k + rank)`` over the rankings a chunk appears in."""
    out: dict[int, float] = {}
    for name, ranking in rankings.items():
        w = weights.get(name, 1.0)
        for rank, idx in enumerate(ranking, 1):
            out[idx] = out.get(idx, 0.0) + w / (k + rank)
    return out


def top_k(scores: Scores, k: int) -> list[tuple[int, float]]:
    """Highest scores first; ties broken by chunk order so results are deterministic."""
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


# ---------------------------------------------------------------- the retriever
FUSION_METHODS = ("score", "rrf")


@dataclass(frozen=True)
class FusionConfig:
    """How hybrid mode combines the two retrievers (chosen by measurement, see README)."""

    method: str = "score"  # "score" (weighted min-max) or "rrf": nothing else is accepted
    alpha: float = 0.4  # weight of the dense side (measured: README, "Fusion")
    candidates: int = 50  # how many each side contributes before fusion
    rrf_k: int = 60
    focus_bonus: float = 0.15  # added to the fused score of the discussed document's passages (follow-ups)

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}; expected one of {FUSION_METHODS}")
        if not 0.0 <= self.alpha <= 1.0 or self.candidates < 1:
            raise ValueError(f"fusion alpha must be in [0, 1] and candidates >= 1, not {self.alpha}, {self.candidates}")


@functools.lru_cache(maxsize=1)
def _remote_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-store")


class Retriever:
    """Search one HybridIndex with a query encoder; returns ranked Hits."""

    def __init__(
        self,
        index: HybridIndex,
        encode_query: Callable[[str], np.ndarray],
        fusion: FusionConfig = FusionConfig(),
    ) -> None:
        self.index = index
        self.encode_query = encode_query
        self.fusion = fusion

    def query_vector(self, query: str) -> np.ndarray:
        return np.asarray(self.encode_query(query), dtype=np.float32).reshape(1, -1)

    def dense_scores(self, query: str, k: int, vector: np.ndarray | None = None) -> dict[int, float]:
        """Cosine of the best ``k`` chunks by row (``vector``: the query's, when already embedded)."""
        if len(self.index) == 0:
            return {}
        return self.index.dense_search(self.query_vector(query) if vector is None else vector, k)

    def bm25_scores(self, query: str, k: int) -> dict[int, float]:
        if len(self.index) == 0:
            return {}
        return self.index.bm25_search(query, k)

    def search(
        self,
        query: str,
        top_k_: int = 5,
        mode: Mode = "hybrid",
        vector: np.ndarray | None = None,
        prefer_doc: str = "",
        bonus: float = 0.0,
    ) -> list[Hit]:
        """Ranked hits for a question in either script (it is cleaned and simplified first).

        ``vector``: the query's embedding when already computed (several candidate questions
        are embedded in one batch); ``prefer_doc``: passages of this document get ``bonus``
        added to their fused score (a follow-up stays with the document being discussed)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        q = clean_query(query)
        pool = max(self.fusion.candidates, top_k_)
        if vector is None:
            vector = self.query_vector(q) if mode in ("hybrid", "dense") and len(self.index) else None
        elif mode == "bm25":
            vector = None
        if vector is not None and mode == "hybrid" and getattr(self.index.store, "kind", "local") != "local":
            # a remote store: its two searches are two round trips, so they run side by side
            pending = _remote_pool().submit(self.bm25_scores, q, pool)
            dense = self.dense_scores(q, pool, vector)
            sparse = pending.result()
        else:
            dense = self.dense_scores(q, pool, vector) if vector is not None else {}
            sparse = self.bm25_scores(q, pool) if mode in ("hybrid", "bm25") else {}
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = sparse
        elif self.fusion.method == "rrf":
            fused = reciprocal_rank_fusion(
                {"dense": [i for i, _ in top_k(dense, pool)], "bm25": [i for i, _ in top_k(sparse, pool)]},
                {"dense": self.fusion.alpha, "bm25": 1 - self.fusion.alpha},
                self.fusion.rrf_k,
            )
        else:
            fused = weighted_score_fusion(dense, sparse, self.fusion.alpha)
        if prefer_doc and bonus:
            chunks = self.index.chunks
            fused = {i: v + bonus if chunks[i].doc_id == prefer_doc else v for i, v in fused.items()}
        hits = []
        for rank, (i, score) in enumerate(top_k(fused, top_k_), 1):
            parts = {}
            if i in dense:
                parts["dense"] = dense[i]
            if i in sparse:
                parts["bm25"] = sparse[i]
            sentences = self.index.sentence_scores(i, vector) if vector is not None else {}
            hits.append(Hit(self.index.chunks[i], score, rank, parts, sentences))
        return hits
