"""HybridIndex: FAISS vectors + BM25 over the same chunks, persisted with a manifest.

Layout of an index folder::

    manifest.json        the commit point: settings, corpus hashes, file checksums
    build-<id>/          chunks.jsonl, vectors.npy, dense.faiss, bm25/, tokens.jsonl,
                         sentences.npy, sentence_spans.npy, sentence_offsets.npy (a vector
                         per sentence, its span in its chunk, each chunk's first row)

A build writes a fresh ``.tmp-<id>`` folder, renames it to ``build-<id>`` and only then
replaces ``manifest.json`` (write to a temp file, then ``os.replace``).  A crash at any
point leaves the previous manifest pointing at the previous, untouched build.  Writers
take an flock on ``.lock`` (released by the kernel if the writer is killed), and the next
build first deletes what a killed one left behind.  A failed write (a full disk) removes
its own temp folder and raises a QAError that says the previous index is unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from qa.chunking import ChunkingConfig, split_sentences, text_hash
from qa.errors import QAError
from qa.fileio import atomic_write_text, fsync_dir, sha256_file
from qa.store import LocalStore, MilvusStore, Store, configured_store, create_store, idf_from, load_store
from qa.types import Chunk

FORMAT_VERSION = 1
HNSW_THRESHOLD = 200_000  # below this many chunks exact search is fast enough (see bench/)
BM25_PARAMS = {"k1": 1.2, "b": 0.75, "method": "lucene"}
TOKENIZER_ID = "jieba-search+stopwords-v1"
CORE_FILES = ("chunks.jsonl", "vectors.npy")  # plus the store's own (LocalStore.FILES, MilvusStore.FILES)
SENTENCE_FILES = ("sentences.npy", "sentence_spans.npy", "sentence_offsets.npy")
_BUILD_NAME = re.compile(r"build-[\w-]+")  # what a manifest may point at: never a path


class EncoderLike:  # structural type: what the index needs from qa.model.Encoder
    model_id: str
    fingerprint: str
    passage_engine: str
    dim: int

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class IndexSettings:
    """Everything that, when changed, makes a stored index stale."""

    model_id: str
    model_fingerprint: str
    dim: int
    chunking: dict[str, int]
    passage_engine: str = "torch"  # which runtime embedded the passages (qa.onnx_encoder.ENGINES)
    sentence_vectors: bool = False  # each sentence embedded on its own, too (indexes before them: none)
    faiss_factory: str = "Flat"
    bm25: dict[str, Any] = field(default_factory=lambda: dict(BM25_PARAMS))
    tokenizer: str = TOKENIZER_ID
    format_version: int = FORMAT_VERSION
    store: str = "local"  # "local" (FAISS + bm25s) or "milvus" (qa.store)
    text_processing: str = ""  # text_processing_version() of the code that cleaned and split the text


def configured_sentence_vectors() -> bool:
    """``$QA_SENTENCE_VECTORS`` (default on): embed every sentence as well as every chunk.

    Sentence vectors let the answer pick its sentence by meaning, not only by shared
    words (measured in the README); they cost ~0.9x the chunks' embedding time again at
    build time.  Turn them off for corpora where build time matters more.
    """
    from qa.settings import current

    return current().sentence_vectors


@functools.lru_cache(maxsize=1)
def text_processing_version() -> str:
    """Hash of the code and libraries that turn raw text into chunks and BM25 tokens.

    A change to cleaning, chunking or the stop words changes the index without changing
    any setting (``TOKENIZER_ID`` stays put), so the production index and the eval's cached
    ones are rebuilt when it changes (incrementally: unchanged texts keep their vectors).
    Any edit of these files (even a comment) causes one rebuild: stale answers are worse.
    Both are fixed for the life of a process, so it is computed once.
    """
    import hashlib

    import qa.chunking
    import qa.corpus
    import qa.loaders
    import qa.normalize
    import qa.tokenize

    h = hashlib.sha256(json.dumps(library_versions(), sort_keys=True).encode())
    for module in (qa.loaders, qa.normalize, qa.corpus, qa.chunking, qa.tokenize):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()[:16]


def required_settings(encoder: EncoderLike, chunking: ChunkingConfig) -> dict[str, Any]:
    """The manifest values an index must have to serve ``encoder`` and ``chunking`` now.

    One list for both freshness checks: ``ensure_index`` compares it with the manifest,
    the eval cache hashes it into the folder name.  (The corpus is checked beside it.)
    """
    return {
        "format_version": FORMAT_VERSION,
        "model_id": encoder.model_id,
        "model_fingerprint": encoder.fingerprint,
        "passage_engine": encoder.passage_engine,
        "sentence_vectors": configured_sentence_vectors(),
        "chunking": chunking.to_json(),
        "bm25": BM25_PARAMS,
        "tokenizer": TOKENIZER_ID,
        "store": configured_store()[0],
        "text_processing": text_processing_version(),
    }


ProgressCallback = Callable[[float, str], None]
"""Told the fraction done (0..1) and what is being done, for a progress bar (the UI's)."""


def embed_in_steps(
    encoder: EncoderLike, texts: list[str], batch_size: int, progress: bool, on_progress: ProgressCallback | None
) -> np.ndarray:
    """All texts embedded; with ``on_progress``, in about ten steps, reporting after each."""
    if on_progress is None:
        return encoder.encode_passages(texts, batch_size=batch_size, progress=progress)
    step = max(64, len(texts) // 10 + 1)
    parts = []
    for a in range(0, len(texts), step):
        parts.append(np.asarray(encoder.encode_passages(texts[a : a + step], batch_size=batch_size)))
        done = min(a + step, len(texts))
        on_progress(done / len(texts), f"向量化 Embedding {done}/{len(texts)}")
    return np.concatenate(parts)


def faiss_factory_for(n_chunks: int) -> str:
    """Exact search for small corpora, HNSW graph above the measured threshold."""
    return "Flat" if n_chunks < HNSW_THRESHOLD else "HNSW32"


def library_versions() -> dict[str, str]:
    out = {}
    for name in (
        "faiss-cpu",
        "bm25s",
        "jieba",
        "sentence-transformers",
        "opencc",
        "langchain-text-splitters",
        "pypdf",
        "python-docx",
        "trafilatura",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder, so no build deletes another's temp folder.

    An flock dies with its process, so a killed build never leaves the folder locked.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    with (index_dir / ".lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_failed(e: BaseException, index_dir: Path, what: str = "索引") -> QAError:
    """A bilingual message for a failed write; a full disk is named as such.

    numpy and faiss report a short write without an errno ("N requested and M written",
    faiss: "write error"), so free space is checked too.
    """
    free = shutil.disk_usage(index_dir).free if index_dir.is_dir() else -1
    detail = getattr(e, "strerror", None) or (str(e).strip().splitlines() or [""])[-1][:200] or type(e).__name__
    full = getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or 0 <= free < 1 << 20
    en_what = "index" if what == "索引" else "index manifest"
    if full:
        return QAError(
            f"写入{what}失败：磁盘空间不足（{index_dir} 所在磁盘剩余 {max(free, 0) / 1e6:.1f} MB）。"
            "原有索引保持不变；请释放空间后重新运行 qa index build。",
            f"Writing the {en_what} failed: the disk is full ({max(free, 0) / 1e6:.1f} MB free at {index_dir}). "
            "The previous index is unchanged; free some space and run `qa index build` again.",
        )
    return QAError(
        f"写入{what}失败（{detail}），原有索引保持不变。",
        f"Writing the {en_what} failed ({detail}); the previous index is unchanged.",
    )


def _chunk_to_json(c: Chunk) -> dict[str, Any]:
    d = asdict(c)
    d["lines"] = list(c.lines)
    return d


def _chunk_from_json(d: dict[str, Any]) -> Chunk:
    return Chunk(**{**d, "lines": tuple(d["lines"]), "page_breaks": tuple(d.get("page_breaks", ()))})


class HybridIndex:
    """Chunks, their unit vectors and BM25 tokens, searched through a store (``qa.store``)."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        settings: IndexSettings,
        store: Store | None = None,
        corpus_hashes: dict[str, str] | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
        tokens: list[list[str]] | None = None,
        folder: Path | None = None,
        sentences: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        from qa.tokenize import tokenize

        self.chunks = list(chunks)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.settings = settings
        self.corpus_hashes = dict(corpus_hashes or {})
        self.tokenize = tokenizer or tokenize
        if store is None and tokens is None:
            tokens = [self.tokenize(c.text) for c in self.chunks]
        self.tokens = tokens  # BM25 tokens per chunk; a loaded index reads them only when rebuilding
        ids = [c.chunk_id for c in self.chunks]
        self.store: Store = store or LocalStore.create(ids, self.vectors, tokens or [], settings.faiss_factory)
        self.row_of = {cid: i for i, cid in enumerate(ids)}  # store results (chunk ids) -> chunk rows
        self.folder = folder  # the build folder this index was loaded from
        self.reused = 0  # how many vectors the last build took from the previous index
        # Sentence vectors (float16: a similarity needs no more), each sentence's span in
        # its chunk's text, and per chunk i its rows offsets[i]:offsets[i + 1].
        self.sentences = sentences
        # What the documents panel and `qa docs` list: per document its format, size,
        # pages, chunks and when it was indexed; and the files skipped, with why.
        self.catalog: dict[str, Any] = {"documents": {}, "skipped": []}

    def sentence_scores(self, i: int, query_vector: np.ndarray) -> dict[tuple[int, int], float]:
        """Cosine of the question to each sentence of chunk ``i``, by span; {} without sentence vectors.

        Keyed by the stored span, so an answer that splits sentences differently (other
        code) simply finds no score for a sentence, never another sentence's score.
        """
        if self.sentences is None:
            return {}
        matrix, spans, offsets = self.sentences
        a, b = int(offsets[i]), int(offsets[i + 1])
        sims = matrix[a:b].astype(np.float32) @ query_vector.reshape(-1).astype(np.float32)
        return {(int(s), int(e)): float(x) for (s, e), x in zip(spans[a:b], sims, strict=True)}

    def stored_sentences(self) -> Iterator[tuple[str, np.ndarray]]:
        """(sentence text, vector) of every stored sentence, for the next build to reuse."""
        if self.sentences is None:
            return
        matrix, spans, offsets = self.sentences
        for i, c in enumerate(self.chunks):
            for row in range(int(offsets[i]), int(offsets[i + 1])):
                s, e = spans[row]
                yield c.text[int(s) : int(e)], matrix[row]

    def __len__(self) -> int:
        return len(self.chunks)

    @functools.cached_property
    def text(self) -> str:
        """Every chunk's text, one per line: what a name spelled in pinyin is looked for in."""
        return "\n".join(c.text for c in self.chunks)

    def uses(self, token: str) -> bool:
        """Whether any chunk has the token."""
        return self.store.document_frequency(token) > 0

    def idf(self, token: str) -> float:
        """BM25 idf of a token over the chunks; a token the corpus never uses weighs most."""
        return idf_from(self.store.document_frequency(token), len(self.chunks))

    def dense_search(self, vector: np.ndarray, k: int) -> dict[int, float]:
        """Cosine of the best ``k`` chunks, by chunk row."""
        return {self.row_of[cid]: s for cid, s in self.store.dense_search(vector, k).items() if cid in self.row_of}

    def bm25_search(self, query: str, k: int) -> dict[int, float]:
        """BM25 of the best ``k`` chunks for a (cleaned) query, by chunk row."""
        found = self.store.bm25_search(self.tokenize(query), k)
        return {self.row_of[cid]: s for cid, s in found.items() if cid in self.row_of}

    def stored_tokens(self) -> list[list[str]]:
        """BM25 tokens per chunk (aligned with ``chunks``) for the next build to reuse: tokenising
        is ~70 % of an incremental build.  Empty when unavailable or from another tokenizer."""
        if self.settings.tokenizer != TOKENIZER_ID:
            return []
        tokens = self.tokens
        if tokens is None and self.folder is not None:
            # Missing or unreadable (say, a concurrent build removed the folder): tokenise again.
            with contextlib.suppress(OSError, ValueError), (self.folder / "tokens.jsonl").open(encoding="utf-8") as f:
                tokens = [json.loads(line) for line in f]
        return tokens if tokens is not None and len(tokens) == len(self.chunks) else []

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
        sentence_vectors: bool = True,
        store: tuple[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> HybridIndex:
        """Embed and tokenise only text that is new; unchanged text reuses both.

        Chunks and (with ``sentence_vectors``) their sentences are embedded in one pass
        with the passage prompt, so a text's vector is the same whichever it is: a
        one-sentence chunk is embedded once, and vectors are reused by text hash.
        """
        from qa.tokenize import tokenize

        hashes = [text_hash(c.text) for c in chunks]
        known_chunks: dict[str, np.ndarray] = {}
        known_sentences: dict[str, np.ndarray] = {}  # float16: a chunk vector never comes from here
        known_tokens: dict[str, list[str]] = {}
        if previous is not None:
            previous_hashes = [text_hash(c.text) for c in previous.chunks]
            built_with = (previous.settings.model_fingerprint, previous.settings.passage_engine)
            if built_with == (encoder.fingerprint, encoder.passage_engine):
                known_chunks = dict(zip(previous_hashes, previous.vectors, strict=True))
                known_sentences = {**known_chunks, **{text_hash(t): v for t, v in previous.stored_sentences()}}
            known_tokens = dict(zip(previous_hashes, previous.stored_tokens(), strict=False))  # [] when unavailable
        # Each chunk's sentences as (span, text hash): hashed once, for reuse and for the rows.
        per_chunk = [
            [((s, e), text_hash(c.text[s:e])) for s, e in split_sentences(c.text)] if sentence_vectors else []
            for c in chunks
        ]
        todo = {h: c.text for h, c in zip(hashes, chunks, strict=True) if h not in known_chunks}
        for c, sentences_of_chunk in zip(chunks, per_chunk, strict=True):
            for (s, e), h in sentences_of_chunk:
                if h not in known_sentences and h not in todo:
                    todo[h] = c.text[s:e]
        fresh: dict[str, np.ndarray] = {}
        if todo:
            embedded = embed_in_steps(encoder, list(todo.values()), batch_size, progress, on_progress)
            fresh = dict(zip(todo, np.asarray(embedded, dtype=np.float32), strict=True))
        vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            vectors[i] = known_chunks[h] if h in known_chunks else fresh[h]
        sentences = None
        if sentence_vectors:
            rows = [row for sentences_of_chunk in per_chunk for row in sentences_of_chunk]
            offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
            offsets[1:] = np.cumsum([len(x) for x in per_chunk])
            matrix = np.zeros((len(rows), encoder.dim), dtype=np.float16)
            for r, (_, h) in enumerate(rows):
                matrix[r] = known_sentences[h] if h in known_sentences else fresh[h]
            spans = np.array([span for span, _ in rows], dtype=np.int32).reshape(-1, 2)
            sentences = (matrix, spans, offsets)
        kind, uri = store or configured_store()
        settings = IndexSettings(
            model_id=encoder.model_id,
            model_fingerprint=encoder.fingerprint,
            dim=encoder.dim,
            chunking=chunking.to_json(),
            passage_engine=encoder.passage_engine,
            sentence_vectors=sentence_vectors,
            faiss_factory=faiss_factory_for(len(chunks)),
            store=kind,
            text_processing=text_processing_version(),
        )
        tokens = [known_tokens.get(h) for h in hashes]
        tokens = [t if t is not None else tokenize(c.text) for c, t in zip(chunks, tokens, strict=True)]
        searcher = create_store(kind, uri, [c.chunk_id for c in chunks], vectors, tokens, settings.faiss_factory)
        index = cls(
            chunks, vectors, settings, searcher, corpus_hashes=corpus_hashes, tokens=tokens, sentences=sentences
        )
        index.reused = sum(h in known_chunks for h in hashes)
        return index

    # ------------------------------------------------------------ persistence
    def save(self, index_dir: Path) -> Path:
        """Write a new build folder, then switch the manifest to it; old builds are removed."""
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            with build_lock(index_dir):
                return self._save_locked(index_dir)
        except OSError as e:
            raise write_failed(e, index_dir) from e

    def _save_locked(self, index_dir: Path) -> Path:
        remove_temp_files(index_dir)  # a killed build's leftovers: free their space first
        build_id = f"build-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        tmp = index_dir / f".tmp-{build_id}"
        try:
            tmp.mkdir()
            with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as f:
                for c in self.chunks:
                    f.write(json.dumps(_chunk_to_json(c), ensure_ascii=False) + "\n")
            np.save(tmp / "vectors.npy", self.vectors, allow_pickle=False)
            if self.sentences is not None:
                for name, array in zip(SENTENCE_FILES, self.sentences, strict=True):
                    np.save(tmp / name, array, allow_pickle=False)
            store_entry = self.store.save(tmp)
            if self.tokens is not None:
                with (tmp / "tokens.jsonl").open("w", encoding="utf-8") as f:
                    f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in self.tokens)
            files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
            for p in tmp.rglob("*"):
                if p.is_file():
                    with p.open("rb") as f:
                        os.fsync(f.fileno())
            for d in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
                fsync_dir(d)
            final = index_dir / build_id
            os.replace(tmp, final)
            fsync_dir(index_dir)
        except (OSError, RuntimeError, ValueError) as e:  # faiss reports a failed write as RuntimeError
            error = write_failed(e, index_dir)  # before the clean-up frees the space
            shutil.rmtree(tmp, ignore_errors=True)
            raise error from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        previous = read_manifest(index_dir) or {}
        manifest = {
            **asdict(self.settings),
            "store_entry": store_entry,
            "build": build_id,
            "n_chunks": len(self.chunks),
            "corpus": self.corpus_hashes,
            **self.catalog,
            "files": files,
            "versions": library_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            atomic_write_text(index_dir / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        except OSError as e:
            error = write_failed(e, index_dir, "索引清单")
            shutil.rmtree(final, ignore_errors=True)
            raise error from e
        remove_stale_builds(index_dir, keep=build_id)
        if isinstance(self.store, MilvusStore):  # the previous build's collection stays for its readers
            self.store.drop_older(index_dir, keep={str((previous.get("store_entry") or {}).get("collection", ""))})
        return final

    @classmethod
    def load(cls, index_dir: Path, verify: bool = True) -> HybridIndex:
        """Load and check an index; any inconsistency is a QAError that says rebuild."""
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise QAError(f"索引不存在：{index_dir}", f"No index at {index_dir}")
        files = manifest.get("files")
        build_name = str(manifest.get("build", ""))
        store_entry = manifest.get("store_entry") or {"kind": "local"}
        store_files = MilvusStore.FILES if store_entry.get("kind") == "milvus" else LocalStore.FILES
        if (
            not isinstance(files, dict)
            or not {*CORE_FILES, *store_files} <= files.keys()
            or not _BUILD_NAME.fullmatch(build_name)
        ):
            raise QAError(
                "索引清单不完整或格式不对，需要重建。", "The index manifest is incomplete or malformed; rebuild it."
            )
        build = index_dir / build_name
        try:
            if verify:
                for name, digest in files.items():
                    if sha256_file(build / name) != digest:
                        raise QAError(
                            f"索引文件已损坏：{name}（校验和不符）",
                            f"Index file is corrupted: {name} (checksum mismatch)",
                        )
            with (build / "chunks.jsonl").open(encoding="utf-8") as f:
                chunks = [_chunk_from_json(json.loads(line)) for line in f if line.strip()]
            vectors = np.load(build / "vectors.npy", allow_pickle=False)
            store = load_store(build, [c.chunk_id for c in chunks], store_entry)
            settings = IndexSettings(**{k: manifest[k] for k in IndexSettings.__dataclass_fields__ if k in manifest})
            sentences = None
            if settings.sentence_vectors:
                sentences = tuple(np.load(build / name, allow_pickle=False) for name in SENTENCE_FILES)
        except QAError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as e:
            raise QAError(f"索引无法读取：{e}", f"Index cannot be read: {e}") from e
        n = manifest.get("n_chunks")
        if not (len(chunks) == n == len(vectors) == len(store)) or vectors.shape[1:] != (settings.dim,):
            raise QAError(
                "索引内容不一致（分块数或向量维度不符）。",
                "Index is inconsistent (chunk count or vector dimension mismatch).",
            )
        if sentences is not None and not _sentences_fit(sentences, len(chunks), settings.dim):
            raise QAError(
                "索引的句子向量与分块不一致。", "Index is inconsistent (sentence vectors do not match the chunks)."
            )
        index = cls(
            chunks,
            vectors,
            settings,
            store,
            corpus_hashes=manifest.get("corpus"),
            folder=build,
            sentences=sentences,  # type: ignore[arg-type]
        )
        index.catalog = {"documents": manifest.get("documents") or {}, "skipped": manifest.get("skipped") or []}
        return index


def _sentences_fit(sentences: tuple[np.ndarray, ...], n_chunks: int, dim: int) -> bool:
    """One vector and one span per sentence; offsets from 0 to the row count, never backwards."""
    matrix, spans, offsets = sentences
    return (
        matrix.ndim == 2
        and matrix.shape[1] == dim
        and spans.shape == (len(matrix), 2)
        and offsets.shape == (n_chunks + 1,)
        and int(offsets[0]) == 0
        and int(offsets[-1]) == len(matrix)
        and bool(np.all(np.diff(offsets) >= 0))
    )


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = index_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None  # damaged: treated as no index


def remove_temp_files(index_dir: Path) -> None:
    """Delete what killed builds leave: ``.tmp-*`` folders and half-written manifests.

    Call it only while holding ``build_lock``: otherwise it could be another build's.
    """
    for p in index_dir.glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in index_dir.glob(".manifest.json.*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()


def remove_stale_builds(index_dir: Path, keep: str) -> None:
    """Delete temp folders of crashed builds and builds no manifest points at."""
    remove_temp_files(index_dir)
    for p in index_dir.glob("build-*"):
        if p.is_dir() and p.name != keep:
            shutil.rmtree(p, ignore_errors=True)
