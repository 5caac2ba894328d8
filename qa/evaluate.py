"""Datasets -> retrieval and answer metrics for every mode -> reports (JSON, Markdown, PNG).

Two formats are read: the gold set (JSON Lines of questions about the corpus folder,
with verbatim evidence strings) and SQuAD-format JSON (CMRC 2018, DRCD), whose every
paragraph becomes a document.  Each question goes once per mode through
``Pipeline.ask`` (the answer users see), whose single search is recorded ``top_k`` deep
for the ranking metrics; its query vector is computed once and shared by the modes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import compose
from qa.chunking import ChunkingConfig, chunk_documents
from qa.corpus import make_document
from qa.errors import QAError
from qa.fileio import atomic_write_bytes, atomic_write_text
from qa.index import HybridIndex, configured_sentence_vectors, read_manifest, required_settings
from qa.metrics import (
    answer_contains,
    char_f1,
    cmrc_em,
    first_hit_rank,
    mean,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    precision_recall,
    recall_at_k,
)
from qa.normalize import clean_query, match_key
from qa.pipeline import PROJECT_ROOT, Pipeline, check_question, corpus_hashes, default_corpus_dir
from qa.reader import HeuristicReader, Reader
from qa.retrieve import FusionConfig
from qa.splits import dataset_name, is_validation
from qa.types import MODES, Answer, Chunk, Document, Hit, Mode, Reading

LOADER_VERSION = 1  # bump when loaders change documents (ids, text): cached indexes then rebuild
RECALL_KS = (1, 3, 5, 10)
METRIC_KEYS = (
    "recall@1",
    "recall@3",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "answer_hit@1",
    "answer_f1",
    "short_hit@1",
    "em",
    "f1",
    "abstain_precision",
    "abstain_recall",
    "false_abstain_rate",
    "missed_abstain_rate",
    "withheld_missed_abstain_rate",
    "latency_ms_p50",
    "latency_ms_p95",
    "retrieve_ms_p50",
    "read_ms_p50",
)
SAMPLE_SEED = 0
MAX_FAILURES_LISTED = 100
LATENCY_SAMPLE = 200  # questions timed end to end (embedding each alone is slow on CPU)
_MARKER = re.compile(r"\[\d+\]")


# ---------------------------------------------------------------- datasets
@dataclass(frozen=True)
class EvalQuestion:
    """One question; empty ``answers`` means the source cannot answer it."""

    qid: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    gold_doc: str | None = None  # SQuAD: only chunks of this paragraph can be hits
    article: str = ""  # SQuAD: "<dataset>:<article id>", the unit of the reader's train/val split

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    def hit_keys(self) -> tuple[str, ...]:
        """Normalised strings a chunk must contain to count as a hit.

        Evidence when given (gold set), else the answers (SQuAD); empty keys are dropped
        because "" is contained in everything.
        """
        keys = {match_key(s) for s in (self.evidence or self.answers)}
        keys.discard("")
        return tuple(sorted(keys))


@dataclass
class Dataset:
    """Documents to index and questions to ask, named after the source file."""

    name: str
    kind: str  # "gold" or "squad"
    documents: list[Document]
    questions: list[EvalQuestion]
    source_hash: str  # what the index depends on: the SQuAD file, or the corpus files


def default_gold_path() -> Path:
    local = Path("eval") / "gold.jsonl"
    return local if local.is_file() else PROJECT_ROOT / "eval" / "gold.jsonl"


def default_datasets() -> list[Path]:
    """``qa eval`` without ``--dataset``: the gold set, and every dialogue set beside it
    (``dialogues*.jsonl``: the article's, and those over other documents)."""
    gold = default_gold_path()
    return [gold, *sorted(gold.parent.glob("dialogues*.jsonl"))]


def default_reports_dir() -> Path:
    return Path("eval") / "reports" if Path("eval").is_dir() else PROJECT_ROOT / "eval" / "reports"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise QAError(f"找不到评测数据集：{path}", f"Evaluation dataset not found: {path}") from e
    except OSError as e:
        raise QAError(f"无法读取评测数据集 {path}：{e.strerror}", f"Cannot read dataset {path}: {e.strerror}") from e


def _bad(path: Path, where: str, why: str) -> QAError:
    return QAError(f"评测数据格式错误：{path} {where}：{why}", f"Bad evaluation dataset {path} {where}: {why}")


def load_gold(path: Path, corpus_dir: Path) -> Dataset:
    """Gold JSON Lines over the corpus folder: {"id","question","answers","evidence","tags"}."""
    from qa.corpus import load_corpus

    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(_read_bytes(path).decode("utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q = EvalQuestion(
                qid=str(row["id"]),
                question=str(row["question"]),
                answers=tuple(str(a) for a in row.get("answers", [])),
                evidence=tuple(str(e) for e in row.get("evidence", [])),
                tags=tuple(str(t) for t in row.get("tags", [])),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise _bad(path, f"line {n}", repr(e)) from e
        if q.qid in seen:
            raise _bad(path, f"line {n}", f"duplicate id {q.qid}")
        seen.add(q.qid)
        questions.append(q)
    docs, _skipped = load_corpus(corpus_dir)
    if not docs:
        raise QAError(f"语料目录中没有可用文档：{corpus_dir}", f"No usable documents in the corpus folder {corpus_dir}")
    hashes = json.dumps(corpus_hashes(corpus_dir), sort_keys=True).encode()
    return Dataset(path.stem, "gold", docs, questions, _sha256_bytes(hashes))


def load_squad(path: Path) -> Dataset:
    """SQuAD-format JSON: every paragraph's context becomes the document ``<title>#<k>``.

    A question with no answers (or ``is_impossible``) counts as unanswerable.
    """
    data = _read_bytes(path)
    try:
        articles = json.loads(data.decode("utf-8-sig"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise _bad(path, "", f"not SQuAD-format JSON ({e!r})") from e
    docs: list[Document] = []
    questions: list[EvalQuestion] = []
    seen_docs: set[str] = set()
    split_name = dataset_name(path.stem)
    for a, article in enumerate(articles):
        base = str(article.get("title") or article.get("id") or f"article{a}")
        article_key = f"{split_name}:{article.get('id') or article.get('title') or a}"
        for k, paragraph in enumerate(article.get("paragraphs", [])):
            doc_id = f"{base}#{k}"
            if doc_id in seen_docs:  # two articles with one title (CMRC 2018 dev has one pair)
                doc_id = f"{base}~{a}#{k}"
            seen_docs.add(doc_id)
            docs.append(make_document(doc_id, str(paragraph.get("context", ""))))
            for qa in paragraph.get("qas", []):
                answers = () if qa.get("is_impossible") else tuple(str(x["text"]) for x in qa.get("answers", []))
                questions.append(
                    EvalQuestion(
                        qid=str(qa.get("id", f"{doc_id}/{len(questions)}")),
                        question=str(qa.get("question", "")),
                        answers=tuple(dict.fromkeys(answers)),
                        gold_doc=doc_id,
                        article=article_key,
                    )
                )
    if not docs:
        raise _bad(path, "", "no paragraphs")
    return Dataset(path.stem, "squad", docs, questions, _sha256_bytes(data))


def load_dataset(path: Path, corpus_dir: Path | None = None) -> Dataset:
    """Gold JSON Lines (``.jsonl``, over ``corpus_dir``) or SQuAD-format JSON (``.json``)."""
    if path.suffix.lower() == ".jsonl":
        from qa.pipeline import default_corpus_dir

        return load_gold(path, corpus_dir or default_corpus_dir())
    if path.suffix.lower() == ".json":
        return load_squad(path)
    raise QAError(
        f"不支持的数据集格式：{path}（应为 .jsonl 金标集或 SQuAD 格式 .json）",
        f"Unsupported dataset format: {path} (expected a .jsonl gold set or SQuAD-format .json)",
    )


def limit_questions(ds: Dataset, limit: int | None) -> Dataset:
    """The first ``limit`` gold questions, or a fixed-seed sample of SQuAD questions.

    SQuAD files are ordered by article, so their first N would cover a few topics
    only; the sample keeps file order.  Documents are unchanged (all are indexed).
    """
    if limit is None or limit >= len(ds.questions):
        return ds
    if limit < 1:
        raise QAError("--limit 应为正整数。", "--limit must be a positive integer.")
    if ds.kind == "gold":
        chosen = ds.questions[:limit]
    else:
        picked = sorted(random.Random(SAMPLE_SEED).sample(range(len(ds.questions)), limit))
        chosen = [ds.questions[i] for i in picked]
    return Dataset(ds.name, ds.kind, ds.documents, chosen, ds.source_hash)


def validation_split(ds: Dataset) -> Dataset:
    """Only the questions of the reader's validation articles (``qa.splits``); every
    passage stays indexed, so retrieval is as hard as over the whole set."""
    if ds.kind != "squad":
        return ds
    kept = [q for q in ds.questions if is_validation(*q.article.split(":", 1))]
    return Dataset(ds.name, ds.kind, ds.documents, kept, ds.source_hash)


def focus_documents(ds: Dataset, distractors: int) -> Dataset:
    """Only the paragraphs the questions ask about, plus ``distractors`` others (fixed seed).

    For quick CI samples of SQuAD sets: a smaller index embeds in a fraction of the
    time, but with fewer distractors retrieval is easier than over all contexts, so
    its numbers are not comparable with a full run.
    """
    gold = {q.gold_doc for q in ds.questions if q.gold_doc is not None}
    others = [d.doc_id for d in ds.documents if d.doc_id not in gold]
    extra = set(random.Random(SAMPLE_SEED).sample(others, min(distractors, len(others))))
    docs = [d for d in ds.documents if d.doc_id in gold or d.doc_id in extra]
    digest = _sha256_bytes(json.dumps([ds.source_hash, sorted(d.doc_id for d in docs)]).encode())
    return Dataset(ds.name, ds.kind, docs, ds.questions, digest)


# ---------------------------------------------------------------- hits
def is_hit(question: EvalQuestion, chunk: Chunk, chunk_key: str | None = None) -> bool:
    """Whether a retrieved chunk supports the answer (see the module docstring of eval/README)."""
    if question.gold_doc is not None and chunk.doc_id != question.gold_doc:
        return False
    text = chunk_key if chunk_key is not None else match_key(chunk.text)
    return any(k in text for k in question.hit_keys())


class HitJudge:
    """Hit tests with each chunk's match key computed once per index."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.keys = {c.chunk_id: match_key(c.text) for c in chunks}
        self.by_doc: dict[str, list[Chunk]] = defaultdict(list)
        for c in chunks:
            self.by_doc[c.doc_id].append(c)
        self.chunks = list(chunks)

    def is_hit(self, question: EvalQuestion, chunk: Chunk) -> bool:
        return is_hit(question, chunk, self.keys.get(chunk.chunk_id))

    def n_relevant(self, question: EvalQuestion) -> int:
        """How many chunks in the whole index are hits (the ideal ranking for nDCG)."""
        pool = self.by_doc.get(question.gold_doc, []) if question.gold_doc is not None else self.chunks
        return sum(self.is_hit(question, c) for c in pool)


# ---------------------------------------------------------------- cached indexes
@dataclass(frozen=True)
class IndexInfo:
    """Where a dataset's index lives and what loading or building it cost."""

    path: Path
    cached: bool
    n_docs: int
    n_chunks: int
    seconds: float
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "cached": self.cached,
            "n_docs": self.n_docs,
            "n_chunks": self.n_chunks,
            "seconds": round(self.seconds, 2),
            "bytes": self.bytes,
        }


def default_cache_dir() -> Path:
    from qa.model import cache_dir

    return cache_dir()


def index_key(ds: Dataset, encoder: Any, chunking: ChunkingConfig) -> str:
    """Cache folder name: the data's hash plus every setting that changes the index (the
    text-processing version among them, as in the production manifest)."""
    settings = {
        "data": ds.source_hash,
        "kind": ds.kind,
        "loader": LOADER_VERSION,
        **required_settings(encoder, chunking),
    }
    digest = _sha256_bytes(json.dumps(settings, sort_keys=True).encode())[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", ds.name)[:40] or "dataset"
    return f"{safe}-{digest}"


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_dataset_index(
    ds: Dataset,
    chunks: list[Chunk],
    encoder: Any,
    chunking: ChunkingConfig,
    progress: bool = False,
    sentence_vectors: bool | None = None,
) -> HybridIndex:
    """A dataset's index, from scratch; its freshness key is the data's hash (there are no corpus files).

    ``sentence_vectors`` None: as configured (``QA_SENTENCE_VECTORS``).
    """
    return HybridIndex.build(
        chunks,
        encoder,
        chunking,
        corpus_hashes={"data": ds.source_hash},
        progress=progress,
        sentence_vectors=configured_sentence_vectors() if sentence_vectors is None else sentence_vectors,
    )


def cached_index(
    ds: Dataset,
    encoder: Any,
    chunking: ChunkingConfig = ChunkingConfig(),
    cache_root: Path | None = None,
    progress: bool = False,
) -> tuple[HybridIndex, IndexInfo]:
    """Load the dataset's index from ``<cache>/indexes/<key>``, or build and save it there."""
    path = (cache_root or default_cache_dir()) / "indexes" / index_key(ds, encoder, chunking)
    t0 = time.perf_counter()
    if read_manifest(path) is not None:
        try:
            index = HybridIndex.load(path)
            with contextlib.suppress(OSError):
                os.utime(path / "manifest.json")  # recently used: kept by prune_cached
            info = IndexInfo(path, True, len(ds.documents), len(index), time.perf_counter() - t0, _dir_bytes(path))
            return index, info
        except QAError:
            pass  # corrupted or half-written: rebuild below
    index = build_dataset_index(ds, chunk_documents(ds.documents, chunking), encoder, chunking, progress)
    index.save(path)
    prune_cached(path)
    info = IndexInfo(path, False, len(ds.documents), len(index), time.perf_counter() - t0, _dir_bytes(path))
    return index, info


KEEP_CACHED = 3  # cached indexes kept per dataset: other settings in use (sentence vectors on and off, …)


def prune_cached(path: Path, keep: int = KEEP_CACHED) -> list[Path]:
    """Delete the dataset's cached indexes beyond the ``keep`` most recently used (each code
    or setting change leaves one behind; a CMRC index is ~40 MB). Returns what was removed."""
    prefix = path.name.rsplit("-", 1)[0]
    mine = re.compile(rf"{re.escape(prefix)}-[0-9a-f]{{16}}")

    def used(p: Path) -> float:
        try:
            return (p / "manifest.json").stat().st_mtime
        except OSError:
            return 0.0

    siblings = sorted((p for p in path.parent.iterdir() if p.is_dir() and mine.fullmatch(p.name)), key=used)
    stale = [p for p in siblings[:-keep] if p != path] if len(siblings) > keep else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


# ---------------------------------------------------------------- the run
class QueryVectorCache:
    """Encoder wrapper: query vectors computed once (in one batched call) and reused by
    every mode, so a question is not embedded again per mode.  Everything else (model
    id, fingerprint, engines, dim, passages) is the wrapped encoder's."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.vectors: dict[str, np.ndarray] = {}
        self.encoded = 0  # texts sent to the real encoder for vectors

    def __getattr__(self, name: str) -> Any:
        return getattr(self.encoder, name)

    def encode_queries(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            vectors = self.encoder.encode_queries(missing, batch_size=batch_size, progress=progress)
            self.vectors.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
            self.encoded += len(missing)
        return np.stack([self.vectors[t] for t in texts])

    def time_single(self, text: str) -> float:
        """Milliseconds to embed one query on its own, as ``qa ask`` does (vector discarded)."""
        t0 = time.perf_counter()
        self.encoder.encode_queries([text])
        return (time.perf_counter() - t0) * 1000


def latency_sample(n: int, size: int | None = None) -> set[int]:
    """Evenly spaced question positions (at most ``LATENCY_SAMPLE``) timed end to end."""
    step = max(1, math.ceil(n / (size or LATENCY_SAMPLE)))
    return set(range(0, n, step))


@dataclass
class ModeResult:
    """One question in one mode: where the hits were, and the answer shown."""

    chunk_ids: list[str]
    hit_ranks: list[int]
    answer: str
    abstained: bool
    answer_hit: bool
    f1: float
    latency_ms: float | None  # None: not in the latency sample
    doc_ranks: list[int] = field(default_factory=list)  # SQuAD: ranks of chunks from the gold paragraph
    withheld_abstained: bool | None = None  # SQuAD: declined when its paragraph's chunks are withheld?
    short_answer: str | None = None  # the reader's exact answer (None: abstained or heuristic reader)
    short_hit: bool = False  # the short answer contains a gold answer
    em: float = 0.0  # CMRC 2018 EM / F1 of the short answer (the sentence answer without a span)
    short_f1: float = 0.0
    retrieve_ms: float | None = None
    read_ms: float | None = None
    evidence: float | None = None  # the model reader's answer evidence (calibration)
    withheld_evidence: float | None = None

    @property
    def first_rank(self) -> int | None:
        return first_hit_rank(self.hit_ranks)


@dataclass
class QuestionResult:
    question: EvalQuestion
    n_relevant: int
    modes: dict[str, ModeResult] = field(default_factory=dict)
    error: str = ""  # a question the pipeline refused (empty, only punctuation): every mode misses
    reader_em: float | None = None  # SQuAD: the reader given the gold paragraph alone
    reader_f1: float | None = None


@dataclass
class Report:
    """Everything one dataset run produced; ``summary()`` is the ``--json`` object."""

    dataset: str
    kind: str
    modes: dict[str, dict[str, float | None]]
    results: list[QuestionResult]
    index: IndexInfo
    settings: dict[str, Any]
    seconds: float
    passages: dict[str, str] = field(default_factory=dict, repr=False)  # chunk id -> text, for the failure list

    @property
    def n(self) -> int:
        return len(self.results)

    def summary(self) -> dict[str, Any]:
        """The ``--json`` object; ``reader_em``/``reader_f1``: the reader given the gold
        paragraph (SQuAD sets; None for gold, which has no paragraphs)."""
        ems = [r.reader_em for r in self.results if r.reader_em is not None]
        f1s = [r.reader_f1 for r in self.results if r.reader_f1 is not None]
        reader = {
            "reader_em": None if not ems else round(sum(ems) / len(ems), 4),
            "reader_f1": None if not f1s else round(sum(f1s) / len(f1s), 4),
        }
        return {"dataset": self.dataset, "n": self.n, "modes": self.modes, **reader}


def answer_text(answer: Answer) -> str:
    """The answer as shown, without the [n] citation markers."""
    return _MARKER.sub("", answer.answer).strip()


def ask_once(
    pipe: Pipeline, judge: HitJudge, q: EvalQuestion, mode: Mode, encode_ms: float | None, depth: int
) -> ModeResult:
    """``Pipeline.run`` once, as a user would ask, judged.

    Latency is the time of ``run`` (retrieval + reading + answer) plus, in the modes
    that embed the question, ``encode_ms``: the time to embed it alone (the vector
    ``run`` used was precomputed in a batch).  ``encode_ms`` None: latency not measured.
    """
    t0 = time.perf_counter()
    result = pipe.run(q.question, mode=mode, depth=depth)
    elapsed = (time.perf_counter() - t0) * 1000
    latency = None if encode_ms is None else elapsed + (encode_ms if mode != "bm25" else 0.0)
    answer, hits = result.answer, list(result.hits[:depth])
    shown = answer_text(answer)
    withheld, withheld_evidence = None, None
    if q.gold_doc is not None and q.answerable and not answer.abstained:
        # The same question over the same ranking minus the paragraph that answers it: an
        # on-topic question the corpus cannot answer (other paragraphs of the article stay).
        others = [replace(h, rank=i) for i, h in enumerate((h for h in hits if h.chunk.doc_id != q.gold_doc), 1)]
        probe = pipe.answer_from(check_question(q.question)[0], others, mode)
        withheld, withheld_evidence = probe.answer.abstained, evidence_of(probe.reading)
    answered = q.answerable and not answer.abstained
    short = answer.short_answer if answer.short_answer is not None else shown
    return ModeResult(
        chunk_ids=[h.chunk.chunk_id for h in hits],
        hit_ranks=[i for i, h in enumerate(hits, 1) if judge.is_hit(q, h.chunk)],
        answer=shown,
        abstained=answer.abstained,
        answer_hit=answered and answer_contains(shown, q.answers),
        f1=char_f1(shown, q.answers) if answered else 0.0,
        latency_ms=latency,
        doc_ranks=[i for i, h in enumerate(hits, 1) if q.gold_doc is not None and h.chunk.doc_id == q.gold_doc],
        withheld_abstained=withheld,
        short_answer=answer.short_answer,
        short_hit=answered and answer_contains(short, q.answers),
        em=cmrc_em(short, q.answers) if answered else 0.0,
        short_f1=char_f1(short, q.answers) if answered else 0.0,
        retrieve_ms=None if encode_ms is None else result.timings.retrieve_ms,
        read_ms=None if encode_ms is None else result.timings.read_ms,
        evidence=evidence_of(result.reading),
        withheld_evidence=withheld_evidence,
    )


def evidence_of(reading: Reading) -> float | None:
    """The model reader's answer evidence (what its threshold is calibrated on); None for the heuristic."""
    return None if reading.no_answer is None else -reading.no_answer


def read_gold_passage(pipe: Pipeline, index: HybridIndex, q: EvalQuestion) -> tuple[float, float] | None:
    """EM and F1 of the reader given the question's own paragraph (all its chunks, in
    order) instead of the retrieved ones: the reader alone, without retrieval errors."""
    if q.gold_doc is None or not q.answerable:
        return None
    chunks = [c for c in index.chunks if c.doc_id == q.gold_doc]
    hits = [Hit(c, 1.0, i) for i, c in enumerate(chunks, 1)]
    question = check_question(q.question)[0]
    reading = pipe.reader.read(question, hits, index.idf)
    if reading.span is None:  # the heuristic reader: its best sentence(s)
        answer = compose(question, hits, "hybrid", reading, max_citations=len(hits) or 1, idf=index.idf)
        text = answer_text(answer) if not answer.abstained else ""
    else:
        text = hits[reading.span.hit].chunk.text_original[reading.span.start : reading.span.end]
    return cmrc_em(text, q.answers), char_f1(text, q.answers)


def diagnostics(results: Sequence[QuestionResult], mode: str) -> dict[str, float | int | None]:
    """Numbers that explain the metrics, outside the fixed metric keys.

    ``paragraph_recall@k``: a chunk of the gold paragraph in the top k, answer or not,
    i.e. recall with whole passages as the unit (comparable with passage-level
    retrieval results); ``unreachable``: answerable questions no chunk can satisfy.
    """
    answerable = [r for r in results if r.question.answerable]
    squad = [r.modes[mode] for r in answerable if r.question.gold_doc is not None]
    out: dict[str, float | int | None] = {"unreachable": sum(r.n_relevant == 0 for r in answerable)}
    for k in (1, 10):
        value = mean([recall_at_k(m.doc_ranks, k) for m in squad])
        out[f"paragraph_recall@{k}"] = None if value is None else round(value, 4)
    return out


def aggregate(results: Sequence[QuestionResult], mode: str) -> dict[str, float | None]:
    """The metric dict of one mode (keys: METRIC_KEYS); unanswerable questions only count
    for abstention and latency.  None where a metric has no questions to measure."""
    answerable = [r for r in results if r.question.answerable]
    runs = [r.modes[mode] for r in answerable]
    out: dict[str, float | None] = {}
    for k in RECALL_KS:
        out[f"recall@{k}"] = mean([recall_at_k(m.hit_ranks, k) for m in runs])
    out["mrr@10"] = mean([mrr_at_k(m.hit_ranks, 10) for m in runs])
    out["ndcg@10"] = mean([ndcg_at_k(m.hit_ranks, 10, r.n_relevant) for r, m in zip(answerable, runs, strict=True)])
    out["answer_hit@1"] = mean([float(m.answer_hit) for m in runs])
    out["answer_f1"] = mean([m.f1 for m in runs])
    # the short answer alone contains a gold answer (the sentence answer when there is no span)
    out["short_hit@1"] = mean([float(m.short_hit) for m in runs])
    out["em"] = mean([m.em for m in runs])
    out["f1"] = mean([m.short_f1 for m in runs])
    p, r = precision_recall(
        [res.modes[mode].abstained for res in results], [not res.question.answerable for res in results]
    )
    out["abstain_precision"], out["abstain_recall"] = p, r
    # Per kind of question: declined though answerable; answered though the text cannot answer.
    out["false_abstain_rate"] = mean([float(m.abstained) for m in runs])
    unanswerable = [res.modes[mode].abstained for res in results if not res.question.answerable]
    out["missed_abstain_rate"] = mean([1.0 - float(a) for a in unanswerable])
    # SQuAD sets have no unanswerable questions; withholding the answering paragraph makes
    # some (answered questions only, so this does not count false abstentions twice).
    withheld = [m.withheld_abstained for m in runs if m.withheld_abstained is not None]
    out["withheld_missed_abstain_rate"] = mean([1.0 - float(a) for a in withheld])
    latencies = [m.latency_ms for res in results if (m := res.modes[mode]).latency_ms is not None and not res.error]
    out["latency_ms_p50"] = percentile(latencies, 50)
    out["latency_ms_p95"] = percentile(latencies, 95)
    timed = [res.modes[mode] for res in results if not res.error]
    out["retrieve_ms_p50"] = percentile([m.retrieve_ms for m in timed if m.retrieve_ms is not None], 50)
    out["read_ms_p50"] = percentile([m.read_ms for m in timed if m.read_ms is not None], 50)
    return {
        k: (None if v is None else round(v, 2 if k.endswith("_p50") or k.endswith("_p95") else 4))
        for k, v in out.items()
    }


def parse_modes(text: str | Sequence[str]) -> list[Mode]:
    """``"hybrid,dense"`` -> ["hybrid", "dense"], validated, order kept, no repeats."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    modes = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise QAError(
            f"未知的检索模式：{', '.join(bad) or '（空）'}（可选 {', '.join(MODES)}）",
            f"Unknown mode(s): {', '.join(bad) or '(none)'} (choose from {', '.join(MODES)})",
        )
    return modes  # type: ignore[return-value]


def evaluate(
    ds: Dataset,
    index: HybridIndex,
    encoder: Any,
    modes: Sequence[Mode] = MODES,
    top_k: int = 10,
    fusion: FusionConfig = FusionConfig(),
    index_info: IndexInfo | None = None,
    on_question: Callable[[], None] | None = None,
    progress: bool = False,
    reader: Reader | None = None,
) -> Report:
    """Ask every question in every mode against ``index`` and aggregate the metrics.

    All query vectors come from one batched ``encode_queries`` call; latency is
    measured on ``latency_sample`` questions, each also embedded alone for timing.
    """
    t0 = time.perf_counter()
    queries = QueryVectorCache(encoder)
    pipe = Pipeline(index, queries, fusion, reader or HeuristicReader())
    judge = HitJudge(index.chunks)
    needs_vector = any(m != "bm25" for m in modes)
    cleaned: dict[int, str] = {}
    refused: dict[int, str] = {}
    for i, q in enumerate(ds.questions):
        try:
            cleaned[i] = clean_query(check_question(q.question)[0])
        except QAError as e:
            refused[i] = e.en
    if needs_vector:
        queries.encode_queries(list(cleaned.values()), progress=progress)
    timed = latency_sample(len(ds.questions))
    results: list[QuestionResult] = []
    for i, q in enumerate(ds.questions):
        res = QuestionResult(q, judge.n_relevant(q) if q.answerable else 0)
        if i in refused:
            res.error = refused[i]
            res.modes = {mode: ModeResult([], [], "", True, False, 0.0, None) for mode in modes}
        else:
            encode_ms = None if i not in timed else queries.time_single(cleaned[i]) if needs_vector else 0.0
            for mode in modes:
                res.modes[mode] = ask_once(pipe, judge, q, mode, encode_ms, top_k)
            read = read_gold_passage(pipe, index, q)
            if read is not None:
                res.reader_em, res.reader_f1 = read
        results.append(res)
        if on_question:
            on_question()
    seen = {cid for r in results for m in r.modes.values() for cid in m.chunk_ids[:3]}
    info = index_info or IndexInfo(Path(), True, len(ds.documents), len(index), 0.0, 0)
    return Report(
        dataset=ds.name,
        kind=ds.kind,
        modes={mode: aggregate(results, mode) for mode in modes},
        results=results,
        index=info,
        settings={
            "top_k": top_k,
            "model_id": index.settings.model_id,
            "query_engine": getattr(encoder, "query_engine", None),
            "chunking": index.settings.chunking,
            "fusion": {"method": fusion.method, "alpha": fusion.alpha, "candidates": fusion.candidates},
            "queries_encoded": queries.encoded,
            "latency_sample": len(timed),
            "reader": pipe.reader.name,
        },
        seconds=time.perf_counter() - t0,
        passages={c.chunk_id: c.text for c in index.chunks if c.chunk_id in seen},
    )


# ---------------------------------------------------------------- reports
def report_json(report: Report) -> dict[str, Any]:
    """The ``--json`` summary plus run details and every question's per-mode outcome."""
    return {
        **report.summary(),
        "kind": report.kind,
        "settings": report.settings,
        "index": report.index.to_json(),
        "seconds": round(report.seconds, 2),
        "diagnostics": {mode: diagnostics(report.results, mode) for mode in report.modes},
        "questions": [
            {
                "id": r.question.qid,
                "question": r.question.question,
                "answers": list(r.question.answers),
                "tags": list(r.question.tags),
                "n_relevant": r.n_relevant,
                **({"error": r.error} if r.error else {}),
                "modes": {
                    mode: {
                        "first_hit_rank": m.first_rank,
                        "paragraph_first_rank": first_hit_rank(m.doc_ranks),
                        "hit_ranks": m.hit_ranks,
                        "chunks": m.chunk_ids,
                        "answer": m.answer,
                        "abstained": m.abstained,
                        "answer_hit": m.answer_hit,
                        "f1": round(m.f1, 4),
                        "short_answer": m.short_answer,
                        "short_hit": m.short_hit,
                        "short_em": m.em,
                        "short_f1": round(m.short_f1, 4),
                        "evidence": None if m.evidence is None else round(m.evidence, 4),
                        "latency_ms": None if m.latency_ms is None else round(m.latency_ms, 2),
                    }
                    for mode, m in r.modes.items()
                },
            }
            for r in report.results
        ],
    }


def _fmt(value: float | None, key: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if "_ms_" in key else f"{value:.3f}"


def metrics_markdown(report: Report) -> str:
    modes = list(report.modes)
    lines = ["| metric | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    for key in METRIC_KEYS:
        lines.append(f"| {key} | " + " | ".join(_fmt(report.modes[m][key], key) for m in modes) + " |")
    return "\n".join(lines)


def _diagnostics_markdown(report: Report) -> list[str]:
    rows = {mode: diagnostics(report.results, mode) for mode in report.modes}
    if all(d["paragraph_recall@1"] is None for d in rows.values()):
        return []
    cells = [
        f"{mode} {d['paragraph_recall@1']:.3f} / {d['paragraph_recall@10']:.3f}"
        for mode, d in rows.items()
        if d["paragraph_recall@1"] is not None and d["paragraph_recall@10"] is not None
    ]
    return [
        "Passage-level recall@1 / @10 (a chunk of the gold paragraph, whether or not it holds the answer): "
        + "; ".join(cells)
        + ".",
        "",
    ]


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "｜")
    return text if len(text) <= n else text[: n - 1] + "…"


def failures(report: Report) -> dict[str, list[QuestionResult]]:
    """Questions the first mode got wrong, worst first, in three groups.

    Retrieval: no hit at rank 1 (a miss in every mode first, then a later first hit).
    Abstention: an unanswerable question answered, or an answerable one refused.
    Answer: the right passage at rank 1 but the answer text lacks a gold answer.
    """
    primary = next(iter(report.modes))
    top_k = int(report.settings.get("top_k", 10))

    def rank(r: QuestionResult, mode: str) -> int:
        return r.modes[mode].first_rank or top_k + 1

    answerable = [r for r in report.results if r.question.answerable]
    retrieval = [r for r in answerable if rank(r, primary) > 1]
    retrieval.sort(key=lambda r: (-rank(r, primary), -sum(rank(r, m) for m in r.modes)))
    abstention = [r for r in report.results if r.modes[primary].abstained == r.question.answerable]
    answer = [r for r in answerable if rank(r, primary) == 1 and not r.modes[primary].answer_hit]
    answer.sort(key=lambda r: r.modes[primary].f1)
    return {"retrieval": retrieval, "abstention": abstention, "answer": answer}


def report_markdown(report: Report) -> str:
    primary = next(iter(report.modes))
    n_answerable = sum(r.question.answerable for r in report.results)
    unreachable = sum(r.question.answerable and r.n_relevant == 0 for r in report.results)
    s = report.settings
    out = [
        f"# Evaluation: {report.dataset}",
        "",
        f"{report.n} questions ({n_answerable} answerable, {report.n - n_answerable} unanswerable); "
        f"{unreachable} answerable questions have no chunk containing their evidence/answer "
        "(they can only miss). "
        f"Index: {report.index.n_docs} documents, {report.index.n_chunks} chunks, "
        f"{'loaded from cache' if report.index.cached else 'built'} in {report.index.seconds:.1f} s. "
        f"Model `{s.get('model_id')}`, chunking {s.get('chunking')}, fusion {s.get('fusion')}, "
        f"top-k {s.get('top_k')}. Run took {report.seconds:.1f} s.",
        "",
        metrics_markdown(report),
        "",
        *_diagnostics_markdown(report),
        f"Latency: `Pipeline.ask` (search + answer) plus, in modes that embed the question, the time to embed it "
        f"alone; measured on {s.get('latency_sample')} evenly spaced questions.",
    ]
    titles = {
        "retrieval": f"Retrieval failures ({primary}: no hit at rank 1), worst first",
        "abstention": f"Abstention errors ({primary})",
        "answer": f"Answer misses ({primary}: hit at rank 1, answer lacks a gold answer), lowest F1 first",
    }
    for group, items in failures(report).items():
        out += ["", f"## {titles[group]}: {len(items)}"]
        if len(items) > MAX_FAILURES_LISTED:
            out.append(f"\nThe first {MAX_FAILURES_LISTED} are listed; all are in the JSON report.")
        for r in items[:MAX_FAILURES_LISTED]:
            out += ["", *_failure_entry(report, r, primary)]
    return "\n".join(out) + "\n"


def _failure_entry(report: Report, r: QuestionResult, primary: str) -> list[str]:
    q = r.question
    ranks = " · ".join(f"{m} {res.first_rank or '—'}" for m, res in r.modes.items())
    gold = " / ".join(q.answers) if q.answers else "(unanswerable)"
    m = r.modes[primary]
    lines = [
        f"### {q.qid}: {_short(q.question, 120)}",
        f"- first hit rank: {ranks}; relevant chunks in index: {r.n_relevant}"
        + (f"; tags: {', '.join(q.tags)}" if q.tags else ""),
        f"- gold: {_short(gold, 160)}",
        f"- answer ({primary}{', abstained' if m.abstained else ''}, F1 {m.f1:.2f}): {_short(m.answer, 160)}",
    ]
    if r.error:
        lines.append(f"- refused: {r.error}")
    for i, cid in enumerate(m.chunk_ids[:3], 1):
        mark = "✓" if i in m.hit_ranks else "✗"
        lines.append(f"  {i}. {mark} `{cid}` {_short(report.passages.get(cid, ''))}")
    return lines


def report_chart(report: Report) -> bytes:
    """PNG comparing the modes: quality metrics as grouped bars, latency beside them.

    English labels only: CJK fonts may be missing where this runs.
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    quality = [k for k in METRIC_KEYS if "_ms_" not in k and not k.startswith("abstain")]
    if any(report.modes[m]["abstain_recall"] is not None for m in report.modes):
        quality += ["abstain_precision", "abstain_recall"]
    modes = list(report.modes)
    fig = Figure(figsize=(12, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax, lat = fig.subplots(1, 2, gridspec_kw={"width_ratios": [4, 1]})
    width = 0.8 / len(modes)
    x = np.arange(len(quality))
    for i, mode in enumerate(modes):
        raw = [report.modes[mode][k] for k in quality]
        # a metric that was not measured is missing (no bar, "n/a"), never a bar at 0
        values = [np.nan if v is None else v for v in raw]
        bars = ax.bar(x + (i - (len(modes) - 1) / 2) * width, values, width, label=mode)
        labels = ["n/a" if v is None else f"{v:.2f}" for v in raw]
        ax.bar_label(bars, labels=labels, fontsize=6, rotation=90, padding=2)
        for xi, v in zip(x, raw, strict=True):
            if v is None:
                ax.text(xi + (i - (len(modes) - 1) / 2) * width, 0.02, "n/a", fontsize=6, rotation=90, ha="center")
    ax.set_xticks(x, quality, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_title(f"{report.dataset}: retrieval and answers (n={report.n})")
    ax.legend(fontsize=8, loc="lower left")
    xl = np.arange(2)
    for i, mode in enumerate(modes):
        values = [report.modes[mode]["latency_ms_p50"] or 0.0, report.modes[mode]["latency_ms_p95"] or 0.0]
        lat.bar(xl + (i - (len(modes) - 1) / 2) * width, values, width, label=mode)
    lat.set_xticks(xl, ["p50", "p95"])
    lat.set_ylabel("ms")
    lat.set_title("latency per question")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def threshold_curve(report: Report, mode: str) -> dict[str, list[float]] | None:
    """Declines against false abstentions as the reader's threshold moves (None: heuristic reader).

    Answerable questions give the false-abstention axis; the other axis is the share of
    withheld-paragraph probes (SQuAD sets) or of unanswerable questions (gold) declined.
    """
    runs = [r for r in report.results if not r.error]
    answerable = [m.evidence for r in runs if r.question.answerable and (m := r.modes[mode]).evidence is not None]
    declined = [m.evidence for r in runs if not r.question.answerable and (m := r.modes[mode]).evidence is not None]
    declined += [m.withheld_evidence for r in runs if (m := r.modes[mode]).withheld_evidence is not None]
    if not answerable or not declined:
        return None
    grid = sorted(set(answerable) | set(declined))
    a, d = np.array(answerable), np.array(declined)
    return {
        "threshold": grid,
        "false_abstain_rate": [float(np.mean(a < t)) for t in grid],
        "declined": [float(np.mean(d < t)) for t in grid],
    }


def threshold_chart(report: Report) -> bytes | None:
    """PNG of ``threshold_curve`` per mode, or None when no mode has reader evidence."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves = {m: c for m in report.modes if (c := threshold_curve(report, m)) is not None}
    if not curves:
        return None
    fig = Figure(figsize=(6, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for mode, c in curves.items():
        ax.plot(c["false_abstain_rate"], c["declined"], label=mode)
        now = report.modes[mode]
        ax.plot(
            [now["false_abstain_rate"] or 0.0],
            [1 - (now["withheld_missed_abstain_rate"] or now["missed_abstain_rate"] or 0.0)],
            "ko",
            ms=4,
        )
    ax.axvline(0.05, color="grey", lw=0.8, ls=":")
    ax.set_xlim(0, 0.5)
    ax.set_ylim(0, 1)
    ax.set_xlabel("false abstention rate (answerable questions declined)")
    ax.set_ylabel("declined: withheld-paragraph probes / unanswerable")
    ax.set_title(f"{report.dataset}: reader threshold sweep (dot: as shipped)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_reports(report: Report, out_dir: Path) -> list[Path]:
    """``<dataset>.json``, ``.md`` and ``.png`` (and ``-threshold.png`` with the model reader)
    in ``out_dir``, each written atomically."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / f"{report.dataset}.{ext}" for ext in ("json", "md", "png")]
        atomic_write_text(paths[0], json.dumps(report_json(report), ensure_ascii=False, indent=1) + "\n")
        atomic_write_text(paths[1], report_markdown(report))
        atomic_write_bytes(paths[2], report_chart(report))
        sweep = threshold_chart(report)
        if sweep is not None:
            paths.append(out_dir / f"{report.dataset}-threshold.png")
            atomic_write_bytes(paths[-1], sweep)
    except OSError as e:
        raise QAError(
            f"无法写入评测报告到 {out_dir}：{e.strerror}", f"Cannot write evaluation reports to {out_dir}: {e.strerror}"
        ) from e
    return paths


def rich_table(report: Report):  # type: ignore[no-untyped-def]
    """The terminal table: one row per metric, one column per mode."""
    from rich.table import Table

    table = Table(title=f"{report.dataset} (n={report.n})")
    table.add_column("metric")
    for mode in report.modes:
        table.add_column(mode, justify="right")
    for key in METRIC_KEYS:
        table.add_row(key, *(_fmt(report.modes[m][key], key) for m in report.modes))
    return table


def run(
    paths: Sequence[Path],
    modes: Sequence[Mode],
    top_k: int,
    out_dir: Path,
    limit: int | None = None,
    corpus_dir: Path | None = None,
    encoder: Any = None,
    cache_root: Path | None = None,
    progress: bool = False,
    reader: Reader | None = None,
    split: str = "all",
    ablate: bool = False,
) -> Iterable[tuple[Report, list[Path]]]:
    """``qa eval``: for each dataset load, index (cached), evaluate, write reports; yield as done.

    Every dataset is loaded before the model so a bad path fails at once. ``split``
    "val" keeps only the reader's validation questions of SQuAD sets; ``ablate``: each
    dialogue set again with each resolution rule switched off (``*-ablation.md``).
    """
    from qa.eval_dialogues import is_dialogue_file, load_dialogues

    dialogue_paths = [p for p in paths if is_dialogue_file(p)]
    dialogue_sets = [(p, load_dialogues(p)) for p in dialogue_paths]
    loaded = [load_dataset(p, corpus_dir) for p in paths if p not in dialogue_paths]
    if split == "val":
        loaded = [validation_split(ds) for ds in loaded]
    datasets = [limit_questions(ds, limit) for ds in loaded]
    names: set[str] = set()
    for i, ds in enumerate(datasets, 1):
        if ds.name in names:
            ds.name = f"{ds.name}-{i}"
        names.add(ds.name)
    if encoder is None:
        from qa.model import Encoder

        encoder = Encoder(progress=progress)
    for ds in datasets:
        index, info = cached_index(ds, encoder, cache_root=cache_root, progress=progress)
        report = _evaluate_with_bar(ds, index, encoder, modes, top_k, info, progress, reader)
        report.settings["split"] = split
        yield report, write_reports(report, out_dir)
    for path, dialogues in dialogue_sets:
        yield run_dialogues(
            path, dialogues[:limit] if limit else dialogues, corpus_dir, encoder, out_dir, cache_root, reader, ablate
        )


def run_dialogues(
    path: Path,
    dialogues: Sequence[Any],
    corpus_dir: Path | None,
    encoder: Any,
    out_dir: Path,
    cache_root: Path | None = None,
    reader: Reader | None = None,
    ablate: bool = False,
) -> tuple[Any, list[Path]]:
    """The dialogue set over the corpus (index cached like the gold set's), and the gold
    set's questions for counting standalone questions the resolver changes."""
    from qa import eval_dialogues

    corpus = load_gold(default_gold_path(), dialogue_corpus(path, corpus_dir))
    index, _info = cached_index(corpus, encoder, cache_root=cache_root)
    pipe = Pipeline(index, encoder, FusionConfig(), reader or HeuristicReader())
    report = eval_dialogues.evaluate_dialogues(
        lambda q, history: pipe.ask(q, history=history),
        dialogues,
        path.stem,
        [q.question for q in corpus.questions],
    )
    report.reader = pipe.reader.name
    written = eval_dialogues.write_reports(report, out_dir)
    if ablate:
        ask = lambda q, history: pipe.ask(q, history=history)  # noqa: E731
        written += eval_dialogues.write_ablation(eval_dialogues.ablation(ask, dialogues, report), out_dir)
    return report, written


def dialogue_corpus(path: Path, corpus_dir: Path | None) -> Path:
    """The documents a dialogue set is asked over: a folder beside it with its name
    (``eval/dialogues_docs.jsonl`` -> ``eval/dialogues_docs/``), else ``--corpus``, else
    the default corpus."""
    beside = path.with_suffix("")
    if corpus_dir is None and beside.is_dir():
        return beside
    return corpus_dir or default_corpus_dir()


def _evaluate_with_bar(
    ds: Dataset,
    index: HybridIndex,
    encoder: Any,
    modes: Sequence[Mode],
    top_k: int,
    info: IndexInfo,
    progress: bool,
    reader: Reader | None = None,
) -> Report:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not progress) as bar:
        n = len(ds.questions)
        task = bar.add_task(f"{ds.name}: embedding {n} questions", total=n)
        asking = f"{ds.name}: asking ({', '.join(modes)})"
        return evaluate(
            ds,
            index,
            encoder,
            modes,
            top_k,
            index_info=info,
            on_question=lambda: bar.update(task, advance=1, description=asking),
            reader=reader,
        )
