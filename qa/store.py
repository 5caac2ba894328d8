"""Where the chunks' search structures live: FAISS + bm25s on local disk, or Milvus.

One small protocol (``Store``) with two implementations behind the same ``Retriever``:

- ``LocalStore`` (default, ``QA_STORE=local``): an exact or HNSW FAISS index and a
  bm25s model, saved in the index's build folder (``dense.faiss``, ``bm25/``).
- ``MilvusStore`` (``QA_STORE=milvus``): one Milvus collection per build with a dense
  vector field (inner product on unit vectors = cosine, as FAISS) and a BM25 sparse
  field computed by Milvus itself. ``QA_MILVUS_URI`` is a Milvus Lite file (default
  ``index/milvus.db``) or ``http://host:19530`` for a server or cluster: the same
  ``MilvusClient`` code talks to both.

Both score BM25 over *our* tokens (jieba search mode + stop words, ``qa.tokenize``), so
the two stores rank alike: Milvus's own jieba analyzer segments differently, and Lite
offers no whitespace tokenizer, so each token is written as an ASCII word (a hash of
it) that Milvus's ``standard`` tokenizer keeps whole.

Keys are chunk ids. The index (``qa.index.HybridIndex``) keeps the chunk table, the
sentence vectors and the manifest in its build folder with either store; a store only
answers "which chunks, with what score".
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import QAError

BM25_K1, BM25_B = 1.2, 0.75
MILVUS_PREFIX = "qa_"
NEW_PREFIX = f"{MILVUS_PREFIX}new_"  # a collection being built, before save() names it after its folder
ORPHAN_AGE_S = 24 * 3600  # an unsaved collection this old belongs to a build that was killed
HNSW_EF_SEARCH = 128  # bench at 10^6 chunks: recall@10 0.924 at 64, 0.970 at 128 (0.35 -> 0.48 ms)


class Store(Protocol):
    """The search side of an index: chunks by id, their vectors and their tokens."""

    kind: str

    def __len__(self) -> int: ...

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, tokens: Sequence[Sequence[str]]) -> None:
        """Add chunks, or replace those whose id is already there."""

    def delete(self, ids: Iterable[str]) -> None: ...

    def dense_search(self, vector: np.ndarray, k: int) -> dict[str, float]:
        """Cosine of the best ``k`` chunks to a unit query vector."""

    def bm25_search(self, tokens: Sequence[str], k: int) -> dict[str, float]:
        """BM25 (Lucene variant, k1 1.2, b 0.75) of the best ``k`` chunks with a score > 0."""

    def document_frequency(self, token: str) -> int:
        """In how many chunks the token occurs."""

    def save(self, folder: Path) -> dict[str, Any]:
        """Make the store durable for a build folder; returns its manifest entry."""


def configured_store() -> tuple[str, str]:
    """(``$QA_STORE``, ``$QA_MILVUS_URI``); the URI is "" for the local store."""
    from qa.settings import current

    settings = current()
    return settings.store, (settings.milvus_uri if settings.store == "milvus" else "")


# ---------------------------------------------------------------- local: FAISS + bm25s
def _faiss_index(vectors: np.ndarray, factory: str):  # type: ignore[no-untyped-def]
    import faiss

    dim = vectors.shape[1]
    if factory == "Flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, int(factory.removeprefix("HNSW")), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _bm25_model(tokens: Sequence[Sequence[str]]):  # type: ignore[no-untyped-def]
    import bm25s

    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    bm25.index([list(t) if t else [""] for t in tokens], show_progress=False)
    return bm25


class LocalStore:
    """FAISS (Flat or HNSW) and bm25s over the same rows; ``ids[row]`` names each row."""

    kind = "local"
    FILES = ("dense.faiss",)

    def __init__(self, ids: Sequence[str], faiss_index: Any, bm25: Any, tokens: Sequence[Sequence[str]] | None = None):
        self.ids = list(ids)
        self.faiss = faiss_index
        self.bm25 = bm25
        self._tokens = list(tokens) if tokens is not None else None  # for upsert/delete only (shared lists)
        self.factory = "HNSW32" if hasattr(faiss_index, "hnsw") else "Flat"

    @classmethod
    def create(
        cls, ids: Sequence[str], vectors: np.ndarray, tokens: Sequence[Sequence[str]], factory: str = "Flat"
    ) -> LocalStore:
        return cls(ids, _faiss_index(vectors, factory), _bm25_model(tokens), tokens)

    def __len__(self) -> int:
        return len(self.ids)

    def _rows(self) -> tuple[list[str], np.ndarray, list[list[str]]]:
        if self._tokens is None:
            raise QAError("本地索引缺少分词，无法增量更新。", "The local store has no tokens to update from.")
        vectors = self.faiss.reconstruct_n(0, len(self.ids)) if self.ids else np.zeros((0, self.faiss.d), np.float32)
        return list(self.ids), np.asarray(vectors, dtype=np.float32), list(self._tokens)

    def _replace(self, ids: list[str], vectors: np.ndarray, tokens: list[list[str]]) -> None:
        fresh = LocalStore.create(ids, vectors, tokens, self.factory)
        self.ids, self.faiss, self.bm25, self._tokens = fresh.ids, fresh.faiss, fresh.bm25, fresh._tokens

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, tokens: Sequence[Sequence[str]]) -> None:
        """Rebuilds both structures (bm25s cannot add rows): fine for the corpora a local store serves."""
        old_ids, old_vectors, old_tokens = self._rows()
        new = dict(zip(ids, zip(np.asarray(vectors, dtype=np.float32), tokens, strict=True), strict=True))
        keep = [i for i, cid in enumerate(old_ids) if cid not in new]
        all_ids = [old_ids[i] for i in keep] + list(new)
        all_vectors = (
            np.concatenate([old_vectors[keep], np.stack([v for v, _ in new.values()])]) if new else old_vectors
        )
        all_tokens = [old_tokens[i] for i in keep] + [list(t) for _, t in new.values()]
        self._replace(all_ids, all_vectors, all_tokens)

    def delete(self, ids: Iterable[str]) -> None:
        gone = set(ids)
        old_ids, old_vectors, old_tokens = self._rows()
        keep = [i for i, cid in enumerate(old_ids) if cid not in gone]
        self._replace([old_ids[i] for i in keep], old_vectors[keep], [old_tokens[i] for i in keep])

    def dense_search(self, vector: np.ndarray, k: int) -> dict[str, float]:
        if not self.ids:
            return {}
        scores, rows = self.faiss.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), min(k, len(self.ids)))
        return {self.ids[int(r)]: float(s) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0}

    def bm25_search(self, tokens: Sequence[str], k: int) -> dict[str, float]:
        if not self.ids:
            return {}
        vocab = self.bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return {}
        scores = self.bm25.get_scores(known)
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        return {self.ids[int(i)]: float(scores[i]) for i in best if scores[i] > 0}

    def document_frequency(self, token: str) -> int:
        """Read from the BM25 matrix (one column per token): nothing is re-tokenised."""
        tid = self.bm25.vocab_dict.get(token)
        if tid is None:
            return 0
        indptr = self.bm25.scores["indptr"]
        end = indptr[tid + 1] if tid + 1 < len(indptr) else len(self.bm25.scores["data"])
        return int(end - indptr[tid])

    def save(self, folder: Path) -> dict[str, Any]:
        import faiss

        faiss.write_index(self.faiss, str(folder / "dense.faiss"))
        self.bm25.save(str(folder / "bm25"), show_progress=False)
        return {"kind": self.kind}

    @classmethod
    def load(cls, folder: Path, ids: Sequence[str], entry: dict[str, Any]) -> LocalStore:
        import bm25s
        import faiss

        dense = faiss.read_index(str(folder / "dense.faiss"))
        if hasattr(dense, "hnsw"):  # efSearch is stored in the file: apply the current setting
            dense.hnsw.efSearch = HNSW_EF_SEARCH
        bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False, verbosity=0)
        if dense.ntotal != len(ids):
            raise QAError("索引内容不一致（向量数不符）。", "Index is inconsistent (vector count mismatch).")
        return cls(ids, dense, bm25)


# ---------------------------------------------------------------- Milvus
def token_word(token: str) -> str:
    """A token as one ASCII word Milvus's ``standard`` tokenizer keeps whole."""
    return "t" + hashlib.blake2b(token.encode("utf-8"), digest_size=8).hexdigest()


def token_text(tokens: Sequence[str]) -> str:
    return " ".join(token_word(t) for t in tokens) or "t0"


def default_milvus_uri() -> str:
    from qa.pipeline import default_index_dir

    return str(default_index_dir() / "milvus.db")


def milvus_client(uri: str):  # type: ignore[no-untyped-def]
    """A MilvusClient for a Lite file or a server URI; a clear error when it cannot run."""
    try:
        from pymilvus import MilvusClient
    except ImportError as e:
        raise QAError(
            "未安装 pymilvus：请运行 pip install 'pymilvus[milvus-lite]'。",
            "pymilvus is not installed: pip install 'pymilvus[milvus-lite]'.",
        ) from e
    if not uri.startswith(("http://", "https://", "tcp://", "unix:")):
        Path(uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri)
    except Exception as e:  # pymilvus raises several types for "cannot connect / cannot start Lite"
        raise QAError(f"无法连接 Milvus（{uri}）：{e}", f"Cannot connect to Milvus ({uri}): {e}") from e


class MilvusStore:
    """One Milvus collection per build: id, hashed tokens (BM25 by Milvus), dense vector."""

    kind = "milvus"
    FILES = ("store.json", "df.json")

    def __init__(self, uri: str, collection: str, df: Counter[str], size: int, client: Any = None) -> None:
        self.uri = uri
        self.collection = collection
        self.df = df
        self.size = size
        self.client = client or milvus_client(uri)

    @classmethod
    def create(
        cls, uri: str, ids: Sequence[str], vectors: np.ndarray, tokens: Sequence[Sequence[str]], batch: int = 1000
    ) -> MilvusStore:
        """A new collection holding these chunks (readers of older builds are untouched)."""
        from pymilvus import DataType, Function, FunctionType

        uri = uri or default_milvus_uri()
        client = milvus_client(uri)
        name = f"{NEW_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:12]}"  # renamed by save(); dated for clean-up
        dim = int(np.asarray(vectors).shape[1]) if len(vectors) else 384
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field(
            "tokens",
            DataType.VARCHAR,
            max_length=65_535,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["tokens"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("dense", index_type="FLAT", metric_type="IP")
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
        client.create_collection(name, schema=schema, index_params=index)
        store = cls(uri, name, Counter(), 0, client)
        store.upsert(ids, vectors, tokens, batch)
        client.flush(name)  # sealed segments are indexed: BM25 on growing ones was ~100x slower
        client.load_collection(name)
        return store

    def __len__(self) -> int:
        return self.size

    def _rows(self, ids: Sequence[str], vectors: np.ndarray, tokens: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
        return [
            {"id": cid, "tokens": token_text(t), "dense": np.asarray(v, dtype=np.float32).tolist()}
            for cid, v, t in zip(ids, vectors, tokens, strict=True)
        ]

    def _stored_tokens(self, ids: Sequence[str]) -> dict[str, set[str]]:
        """Hashed token sets of chunks already stored (for the document frequencies)."""
        if not ids:
            return {}
        found = self.client.get(self.collection, ids=list(ids), output_fields=["tokens"])
        return {row["id"]: set(row["tokens"].split()) for row in found}

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, tokens: Sequence[Sequence[str]], batch: int = 1000
    ) -> None:
        before = self._stored_tokens(ids) if self.size else {}
        for words in before.values():
            self.df.subtract(words)
        for t in tokens:
            self.df.update({token_word(x) for x in t})
        rows = self._rows(ids, vectors, tokens)
        for start in range(0, len(rows), batch):
            self.client.upsert(self.collection, rows[start : start + batch])
        self.size += len(ids) - len(before)
        self.df = +self.df

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        before = self._stored_tokens(ids)
        for words in before.values():
            self.df.subtract(words)
        if before:
            self.client.delete(self.collection, ids=list(before))
        self.size -= len(before)
        self.df = +self.df

    def dense_search(self, vector: np.ndarray, k: int) -> dict[str, float]:
        if not self.size:
            return {}
        found = self.client.search(
            self.collection,
            data=[np.asarray(vector, dtype=np.float32).reshape(-1).tolist()],
            anns_field="dense",
            limit=min(k, self.size),
            search_params={"metric_type": "IP"},
        )
        return {hit["id"]: float(hit["distance"]) for hit in found[0]}

    def bm25_search(self, tokens: Sequence[str], k: int) -> dict[str, float]:
        words = [token_word(t) for t in tokens if self.df.get(token_word(t))]
        if not self.size or not words:
            return {}
        found = self.client.search(
            self.collection,
            data=[" ".join(words)],
            anns_field="sparse",
            limit=min(k, self.size),
            search_params={"metric_type": "BM25"},
        )
        # Milvus Lite reports BM25 negated (a server reports it positive): the magnitude is the score.
        return {hit["id"]: abs(float(hit["distance"])) for hit in found[0] if abs(float(hit["distance"])) > 0}

    def document_frequency(self, token: str) -> int:
        return int(self.df.get(token_word(token), 0))

    def native_hybrid_search(
        self, vector: np.ndarray, tokens: Sequence[str], k: int, ranker: str = "weighted", alpha: float = 0.4
    ) -> dict[str, float]:
        """Milvus's own server-side fusion of the two searches (``WeightedRanker`` with the
        dense weight ``alpha``, or ``RRFRanker(60)``): measured against ours in the README."""
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        words = [token_word(t) for t in tokens if self.df.get(token_word(t))]
        dense = AnnSearchRequest(
            data=[np.asarray(vector, dtype=np.float32).reshape(-1).tolist()], anns_field="dense", param={}, limit=50
        )
        requests = [dense]
        if words:
            requests.append(AnnSearchRequest(data=[" ".join(words)], anns_field="sparse", param={}, limit=50))
        rank = RRFRanker(60) if ranker == "rrf" else WeightedRanker(alpha, 1 - alpha) if words else WeightedRanker(1.0)
        found = self.client.hybrid_search(self.collection, requests, ranker=rank, limit=min(k, self.size))
        return {hit["id"]: float(hit["distance"]) for hit in found[0]}

    def save(self, folder: Path) -> dict[str, Any]:
        """Flush, and name the collection after the index folder and the build (``qa_<folder
        hash>_<build>``), so each index folder knows its own collections in a shared Milvus."""
        self.client.flush(self.collection)
        owned = f"{owner_prefix(folder.parent)}{re.sub(r'[^0-9A-Za-z]', '_', folder.name.removeprefix('.tmp-'))}"
        if owned != self.collection:
            self.client.rename_collection(self.collection, owned)
            self.collection = owned
            self.client.load_collection(owned)
        (folder / "df.json").write_text(json.dumps(dict(self.df)), encoding="utf-8")
        entry = {"kind": self.kind, "uri": self.uri, "collection": self.collection, "size": self.size}
        (folder / "store.json").write_text(json.dumps(entry), encoding="utf-8")
        return entry

    @classmethod
    def load(cls, folder: Path, ids: Sequence[str], entry: dict[str, Any]) -> MilvusStore:
        uri, name = str(entry.get("uri") or default_milvus_uri()), str(entry.get("collection", ""))
        client = milvus_client(uri)
        if not name.startswith(MILVUS_PREFIX) or not client.has_collection(name):
            raise QAError(
                f"Milvus 中找不到索引集合 {name}（{uri}），需要重建。",
                f"The index collection {name} is missing from Milvus ({uri}); rebuild it.",
            )
        client.load_collection(name)
        df = Counter(json.loads((folder / "df.json").read_text(encoding="utf-8")))
        size = int(entry.get("size", len(ids)))
        if size != len(ids):
            raise QAError("索引内容不一致（Milvus 行数不符）。", "Index is inconsistent (Milvus row count mismatch).")
        return cls(uri, name, df, size, client)

    def drop_older(self, index_dir: Path, keep: Iterable[str]) -> None:
        """Drop this index folder's collections other than ``keep`` (builds before the
        previous one, killed builds); other folders' collections are never touched. A build
        killed before it was saved leaves a ``qa_new_<time>_…`` collection no folder owns:
        those older than ``ORPHAN_AGE_S`` are dropped too (a build still running is younger)."""
        keep = set(keep) | {self.collection}
        prefix = owner_prefix(index_dir)
        for name in self.client.list_collections():
            if (name.startswith(prefix) and name not in keep) or orphaned(name):
                self.client.drop_collection(name)


def orphaned(name: str, now: float | None = None) -> bool:
    """A ``qa_new_<unix time>_…`` collection older than ``ORPHAN_AGE_S`` (an unsaved, killed build)."""
    m = re.fullmatch(rf"{NEW_PREFIX}(\d+)_[0-9a-f]+", name)
    return m is not None and (now if now is not None else time.time()) - int(m.group(1)) > ORPHAN_AGE_S


def owner_prefix(index_dir: Path) -> str:
    """``qa_<hash of the index folder>_``: the collections that belong to one index folder."""
    digest = hashlib.sha1(str(Path(index_dir).resolve()).encode("utf-8")).hexdigest()[:10]
    return f"{MILVUS_PREFIX}{digest}_"


def create_store(
    kind: str, uri: str, ids: Sequence[str], vectors: np.ndarray, tokens: Sequence[Sequence[str]], factory: str
) -> Store:
    if kind == "milvus":
        return MilvusStore.create(uri, ids, vectors, tokens)
    return LocalStore.create(ids, vectors, tokens, factory)


def load_store(folder: Path, ids: Sequence[str], entry: dict[str, Any]) -> Store:
    if entry.get("kind", "local") == "milvus":
        return MilvusStore.load(folder, ids, entry)
    return LocalStore.load(folder, ids, entry)


def idf_from(df: int, n: int) -> float:
    """BM25's idf: a token no chunk has weighs most."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
