"""HybridIndex: FAISS vectors + BM25 over the same chunks, persisted with a manifest.

Layout of an index folder::

    manifest.json        the commit point: settings, corpus hashes, file checksums
    build-<id>/          chunks.jsonl, vectors.npy, dense.faiss, bm25/

A build writes a fresh ``.tmp-<id>`` folder, renames it to ``build-<id>`` and only then
replaces ``manifest.json`` (write to a temp file, then ``os.replace``).  A crash at any
point leaves the previous manifest pointing at the previous, untouched build.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from qa.chunking import ChunkingConfig, text_hash
from qa.errors import QAError
from qa.types import Chunk

FORMAT_VERSION = 1
HNSW_THRESHOLD = 200_000  # below this many chunks exact search is fast enough (see bench/)
BM25_PARAMS = {"k1": 1.2, "b": 0.75, "method": "lucene"}
TOKENIZER_ID = "jieba-search+stopwords-v1"


class EncoderLike:  # structural type: what the index needs from qa.model.Encoder
    model_id: str
    fingerprint: str
    dim: int

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class IndexSettings:
    """Everything that, when changed, makes a stored index stale."""

    model_id: str
    model_fingerprint: str
    dim: int
    chunking: dict[str, int]
    faiss_factory: str = "Flat"
    bm25: dict[str, Any] = field(default_factory=lambda: dict(BM25_PARAMS))
    tokenizer: str = TOKENIZER_ID
    format_version: int = FORMAT_VERSION


def faiss_factory_for(n_chunks: int) -> str:
    """Exact search for small corpora, HNSW graph above the measured threshold."""
    return "Flat" if n_chunks < HNSW_THRESHOLD else "HNSW32"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    out = {}
    for name in ("faiss-cpu", "bm25s", "jieba", "sentence-transformers", "opencc", "langchain-text-splitters"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _chunk_to_json(c: Chunk) -> dict[str, Any]:
    d = asdict(c)
    d["lines"] = list(c.lines)
    return d


def _chunk_from_json(d: dict[str, Any]) -> Chunk:
    return Chunk(**{**d, "lines": tuple(d["lines"])})


def _build_faiss(vectors: np.ndarray, factory: str):  # type: ignore[no-untyped-def]
    import faiss

    dim = vectors.shape[1]
    if factory == "Flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, int(factory.removeprefix("HNSW")), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    if len(vectors):
        index.add(vectors)
    return index


def _build_bm25(token_lists: list[list[str]]):  # type: ignore[no-untyped-def]
    import bm25s

    bm25 = bm25s.BM25(**BM25_PARAMS)
    bm25.index([t if t else [""] for t in token_lists], show_progress=False)
    return bm25


class HybridIndex:
    """Chunks, their unit vectors in FAISS, and a BM25 model over their tokens."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        settings: IndexSettings,
        faiss_index: Any = None,
        bm25: Any = None,
        corpus_hashes: dict[str, str] | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> None:
        from qa.tokenize import tokenize

        self.chunks = list(chunks)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.settings = settings
        self.corpus_hashes = dict(corpus_hashes or {})
        self.tokenize = tokenizer or tokenize
        self.faiss = faiss_index if faiss_index is not None else _build_faiss(self.vectors, settings.faiss_factory)
        self.bm25 = bm25 if bm25 is not None else _build_bm25([self.tokenize(c.text) for c in self.chunks])
        self.reused = 0  # how many vectors the last build took from the previous index

    def __len__(self) -> int:
        return len(self.chunks)

    def idf(self, token: str) -> float:
        """BM25 idf of a token over the chunks; a token the corpus never uses weighs most.

        Read from the BM25 matrix (one column per token), so nothing is re-tokenised.
        """
        n = len(self.chunks)
        tid = self.bm25.vocab_dict.get(token)
        df = 0
        if tid is not None:
            indptr = self.bm25.scores["indptr"]
            end = indptr[tid + 1] if tid + 1 < len(indptr) else len(self.bm25.scores["data"])
            df = int(end - indptr[tid])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    # ------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        chunks: Sequence[Chunk],
        encoder: EncoderLike,
        chunking: ChunkingConfig,
        corpus_hashes: dict[str, str] | None = None,
        previous: HybridIndex | None = None,
        progress: bool = True,
        batch_size: int = 32,
    ) -> HybridIndex:
        """Embed only chunks whose text is new; vectors of unchanged text are reused."""
        cache: dict[str, np.ndarray] = {}
        if previous is not None and previous.settings.model_fingerprint == encoder.fingerprint:
            cache = {text_hash(c.text): previous.vectors[i] for i, c in enumerate(previous.chunks)}
        vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
        todo = [i for i, c in enumerate(chunks) if text_hash(c.text) not in cache]
        for i, c in enumerate(chunks):
            hit = cache.get(text_hash(c.text))
            if hit is not None:
                vectors[i] = hit
        if todo:
            vectors[todo] = encoder.encode_passages(
                [chunks[i].text for i in todo], batch_size=batch_size, progress=progress
            )
        settings = IndexSettings(
            model_id=encoder.model_id,
            model_fingerprint=encoder.fingerprint,
            dim=encoder.dim,
            chunking=chunking.to_json(),
            faiss_factory=faiss_factory_for(len(chunks)),
        )
        index = cls(chunks, vectors, settings, corpus_hashes=corpus_hashes)
        index.reused = len(chunks) - len(todo)
        return index

    # ------------------------------------------------------------ persistence
    def save(self, index_dir: Path) -> Path:
        """Write a new build folder, then switch the manifest to it; old builds are removed."""
        import faiss

        index_dir.mkdir(parents=True, exist_ok=True)
        build_id = f"build-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        tmp = index_dir / f".tmp-{build_id}"
        try:
            tmp.mkdir()
            with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as f:
                for c in self.chunks:
                    f.write(json.dumps(_chunk_to_json(c), ensure_ascii=False) + "\n")
            np.save(tmp / "vectors.npy", self.vectors, allow_pickle=False)
            faiss.write_index(self.faiss, str(tmp / "dense.faiss"))
            self.bm25.save(str(tmp / "bm25"), show_progress=False)
            files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
            for p in tmp.rglob("*"):
                if p.is_file():
                    with p.open("rb") as f:
                        os.fsync(f.fileno())
            final = index_dir / build_id
            os.replace(tmp, final)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise QAError(
                f"写入索引失败（{e.strerror}），原有索引保持不变。",
                f"Writing the index failed ({e.strerror}); the previous index is unchanged.",
            ) from e
        manifest = {
            **asdict(self.settings),
            "build": build_id,
            "n_chunks": len(self.chunks),
            "corpus": self.corpus_hashes,
            "files": files,
            "versions": library_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            atomic_write_text(index_dir / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        except OSError as e:
            shutil.rmtree(final, ignore_errors=True)
            raise QAError(
                f"写入索引清单失败（{e.strerror}），原有索引保持不变。",
                f"Writing the index manifest failed ({e.strerror}); the previous index is unchanged.",
            ) from e
        remove_stale_builds(index_dir, keep=build_id)
        return final

    @classmethod
    def load(cls, index_dir: Path, verify: bool = True) -> HybridIndex:
        """Load and check an index; any inconsistency is a QAError that says rebuild."""
        import bm25s
        import faiss

        manifest = read_manifest(index_dir)
        if manifest is None:
            raise QAError(f"索引不存在：{index_dir}", f"No index at {index_dir}")
        build = index_dir / str(manifest.get("build", ""))
        try:
            if verify:
                for name, digest in manifest["files"].items():
                    if sha256_file(build / name) != digest:
                        raise QAError(
                            f"索引文件已损坏：{name}（校验和不符）",
                            f"Index file is corrupted: {name} (checksum mismatch)",
                        )
            with (build / "chunks.jsonl").open(encoding="utf-8") as f:
                chunks = [_chunk_from_json(json.loads(line)) for line in f if line.strip()]
            vectors = np.load(build / "vectors.npy", allow_pickle=False)
            dense = faiss.read_index(str(build / "dense.faiss"))
            bm25 = bm25s.BM25.load(str(build / "bm25"), show_progress=False, verbosity=0)
            settings = IndexSettings(**{k: manifest[k] for k in IndexSettings.__dataclass_fields__ if k in manifest})
        except QAError:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, json.JSONDecodeError) as e:
            raise QAError(f"索引无法读取：{e}", f"Index cannot be read: {e}") from e
        n = manifest.get("n_chunks")
        if not (len(chunks) == n == len(vectors) == dense.ntotal) or vectors.shape[1:] != (settings.dim,):
            raise QAError(
                "索引内容不一致（分块数或向量维度不符）。",
                "Index is inconsistent (chunk count or vector dimension mismatch).",
            )
        return cls(chunks, vectors, settings, faiss_index=dense, bm25=bm25, corpus_hashes=manifest.get("corpus"))


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = index_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def remove_stale_builds(index_dir: Path, keep: str) -> None:
    """Delete temp folders of crashed builds and builds no manifest points at."""
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith(".tmp-") or p.name.startswith("build-")):
            shutil.rmtree(p, ignore_errors=True)
    for p in index_dir.glob(".manifest.json.*.tmp"):
        p.unlink(missing_ok=True)


def staleness(index_dir: Path, expected: dict[str, Any]) -> list[str]:
    """Why the stored index does not match ``expected`` settings (empty: it is fresh)."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return ["missing"]
    return [key for key, value in expected.items() if manifest.get(key) != value]
