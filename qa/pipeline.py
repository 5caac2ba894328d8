"""The one API the CLI, the UI and the eval runner call: ``Pipeline.open(...).run(q)``.

Opening loads the model, the reader and the index once; a missing or stale index is
rebuilt (incrementally: only changed chunk texts are embedded again). ``run`` is
retrieve -> read -> compose, and returns the answer with the ranked hits, the
reader's reading and the timings; ``ask`` is the answer alone (a value: equal for
equal questions). Both take the conversation so far (``history``): a follow-up is first
resolved into the standalone question it means (``qa.conversation``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from qa import settings
from qa.answer import compose
from qa.answer_types import expected_kind, span_fits
from qa.candidates import Candidate, candidates, focus_document, pick
from qa.chunking import ChunkingConfig, chunk_documents
from qa.conversation import Resolution
from qa.corpus import CORRECTIONS_FILE, Skipped, corpus_files, load_corpus
from qa.crosslingual import chinese_terms, dictionary, name_terms
from qa.documents import add_files, catalog, remove_file
from qa.errors import QAError
from qa.fileio import sha256_file, sweep_stale_temps
from qa.index import HybridIndex, ProgressCallback, read_manifest, required_settings
from qa.intents import detect_intent, intent_answer
from qa.lists import asked_count, gather_items, is_list_question
from qa.loaders import SUPPORTED_LIST
from qa.normalize import clean_query, has_chinese, to_simplified
from qa.reader import HeuristicReader, ModelReader, Reader, open_reader
from qa.retrieve import FusionConfig, Retriever
from qa.types import MODES, Answer, Document, Hit, Mode, Reading, Result, Timings, Turn

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MAX_QUESTION_CHARS = settings.MAX_QUESTION_CHARS
MAX_TOP_K = settings.TOP_K_MAX


def default_corpus_dir() -> Path:
    chosen = settings.current().corpus_dir
    if chosen is not None:
        return chosen
    return Path("corpus") if Path("corpus").is_dir() else PROJECT_ROOT / "corpus"


def default_index_dir(corpus_dir: Path | None = None) -> Path:
    """``$QA_INDEX_DIR``, else ``index/`` for the project's corpus; another corpus folder
    (``--corpus``, ``$QA_CORPUS_DIR``) gets its own index under ``$QA_CACHE_DIR/indexes``,
    named after it, so pointing at other documents never replaces the project's index."""
    chosen = settings.current()
    if chosen.index_dir is not None:
        return chosen.index_dir
    project = Path("index") if Path("corpus").is_dir() else PROJECT_ROOT / "index"
    corpus = (corpus_dir or default_corpus_dir()).resolve()
    if corpus in ((Path("corpus")).resolve(), (PROJECT_ROOT / "corpus").resolve()):
        return project
    import hashlib

    key = hashlib.sha1(str(corpus).encode("utf-8")).hexdigest()[:12]
    return chosen.cache_dir / "indexes" / f"{corpus.name or 'corpus'}-{key}"


def folders(corpus_dir: Path | None = None, index_dir: Path | None = None) -> tuple[Path, Path]:
    """(corpus folder, index folder): the given ones, else the defaults (the index for that corpus)."""
    return corpus_dir or default_corpus_dir(), index_dir or default_index_dir(corpus_dir)


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """sha256 of every corpus file and of the corrections list: the index's freshness key."""
    out = {}
    paths = corpus_files(corpus_dir)
    if (corpus_dir / CORRECTIONS_FILE).is_file():
        paths.append(corpus_dir / CORRECTIONS_FILE)
    for p in paths:
        try:
            out[p.relative_to(corpus_dir).as_posix()] = sha256_file(p)  # streamed: bounded memory
        except OSError:
            continue  # vanished or unreadable: load_corpus reports it
    return out


@dataclass
class BuildReport:
    """What an index build did, for the CLI summary."""

    rebuilt: bool
    reasons: list[str] = field(default_factory=list)
    n_docs: int = 0
    n_chunks: int = 0
    reused: int = 0
    n_sentences: int = 0  # sentence vectors in the index (0: turned off)
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list, repr=False)  # what a rebuild read ([] if none)


def stale_reasons(manifest: dict[str, object] | None, expected: dict[str, object]) -> list[str]:
    """Which settings differ from the stored manifest (['missing'] if there is none)."""
    if manifest is None:
        return ["missing"]
    return [k for k, v in expected.items() if manifest.get(k) != v]


def ensure_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder,  # qa.model.Encoder  # type: ignore[no-untyped-def]
    chunking: ChunkingConfig = ChunkingConfig(),
    force: bool = False,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    current: HybridIndex | None = None,
) -> tuple[HybridIndex, BuildReport]:
    """Load the index, or (re)build it when missing, stale, corrupted or forced.

    ``on_progress`` is told how far a build has got (the UI's progress bar); ``current``
    is the index already in memory (a running app's), reused instead of read from disk.
    """
    hashes = corpus_hashes(corpus_dir)
    expected = {**required_settings(encoder, chunking), "corpus": hashes}
    manifest = read_manifest(index_dir)
    reasons = (["forced"] if force else []) + stale_reasons(manifest, expected)  # forced: say what else was stale
    previous: HybridIndex | None = None
    if not reasons and current is not None and current.corpus_hashes == hashes:
        return current, BuildReport(rebuilt=False)  # nothing changed: keep the index in memory
    if not reasons:
        try:
            return HybridIndex.load(index_dir), BuildReport(rebuilt=False)
        except QAError as e:
            reasons = [f"unreadable: {e.en}"]
    if current is not None:
        previous = current
    elif manifest is not None:
        try:
            previous = HybridIndex.load(index_dir)
        except QAError:
            previous = None
    t0 = time.perf_counter()
    tell = on_progress or (lambda _fraction, _what: None)
    tell(0.02, "读取文件 Reading files")
    docs, skipped = load_corpus(corpus_dir)
    if not docs:  # never replace a working index with an empty one
        why = "".join(f"\n  - {s.path}: {s.zh} / {s.en}" for s in skipped)
        raise QAError(
            f"语料目录 {corpus_dir} 中没有可索引的文件（{SUPPORTED_LIST}），原有索引保持不变。",
            f"No indexable files ({SUPPORTED_LIST}) in {corpus_dir}; the previous index is unchanged.{why}",
        )
    tell(0.1, "分块 Chunking")
    chunks = chunk_documents(docs, chunking)
    index = HybridIndex.build(
        chunks,
        encoder,
        chunking,
        corpus_hashes=hashes,
        previous=previous,
        progress=progress,
        sentence_vectors=bool(expected["sentence_vectors"]),
        on_progress=None if on_progress is None else lambda f, what: tell(0.1 + 0.8 * f, what),
    )
    index.catalog = catalog(docs, chunks, skipped, corpus_dir, hashes, manifest)
    tell(0.92, "保存索引 Saving the index")
    index.save(index_dir)
    tell(1.0, "完成 Done")
    report = BuildReport(
        rebuilt=True,
        reasons=reasons,
        n_docs=len(docs),
        n_chunks=len(chunks),
        reused=index.reused,
        n_sentences=len(index.sentences[0]) if index.sentences is not None else 0,
        seconds=time.perf_counter() - t0,
        skipped=skipped,
        documents=docs,
    )
    return index, report


def check_question(question: str) -> tuple[str, str]:
    """Validate a question; returns (question to use, notice for the user)."""
    if not isinstance(question, str) or not question.strip():
        raise QAError("问题为空，请输入一个问题。", "The question is empty; please type a question.")
    q = "".join(ch for ch in question if ch in "\n\t" or ch.isprintable()).strip()
    if not any(ch.isalnum() for ch in q):
        raise QAError(
            "问题里没有文字，只有标点或符号，请换个问法。",
            "The question has no words, only punctuation or symbols; please rephrase.",
        )
    if len(q) > MAX_QUESTION_CHARS:
        return q[:MAX_QUESTION_CHARS], (
            f"问题过长（{len(q)} 字），只用了前 {MAX_QUESTION_CHARS} 字。"
            f" / The question was too long ({len(q)} characters); only the first {MAX_QUESTION_CHARS} were used."
        )
    return q, ""


class Pipeline:
    """Model + index + retriever, loaded once; ``ask`` answers one question."""

    def __init__(  # type: ignore[no-untyped-def]
        self, index: HybridIndex, encoder, fusion: FusionConfig = FusionConfig(), reader: Reader | None = None
    ) -> None:
        self.encoder = encoder
        self.fusion = fusion
        self.reader: Reader = reader or HeuristicReader()
        self.retriever = Retriever(index, self._embed_query, fusion)
        self.build_report: BuildReport | None = None
        self.corpus_dir: Path | None = None  # set by open(); lets the UI show what was indexed
        self.index_dir: Path | None = None
        self.chunking = ChunkingConfig()
        self._updating = threading.RLock()  # one corpus update at a time; asks never wait for it
        self._documents: tuple[HybridIndex, list[Document]] | None = None  # the documents of that index

    def _embed_query(self, question: str):  # type: ignore[no-untyped-def]
        return self.encoder.encode_queries([question])[0]

    @property
    def index(self) -> HybridIndex:
        """The index questions are answered from now (swapped whole by ``update``)."""
        return self.retriever.index

    def documents(self) -> list[Document]:
        """The cleaned documents of the indexed corpus (for the article view): those the
        last build read, or read once for an index that was loaded as it was."""
        if self.corpus_dir is None:
            return []
        index, known = self.index, self._documents
        if known is None or known[0] is not index:
            known = (index, load_corpus(self.corpus_dir)[0])
            self._documents = known
        return known[1]

    def _remember(self, index: HybridIndex, report: BuildReport) -> None:
        """Keep the documents a build read, so the article view need not read them again."""
        self.build_report = report
        if report.rebuilt:
            self._documents = (index, report.documents)

    def _corpus(self) -> Path:
        if self.corpus_dir is None:
            raise QAError("这个问答实例没有语料目录。", "This pipeline has no corpus folder.")
        return self.corpus_dir

    @classmethod
    def open(
        cls,
        corpus_dir: Path | None = None,
        index_dir: Path | None = None,
        model: str | None = None,
        chunking: ChunkingConfig = ChunkingConfig(),
        fusion: FusionConfig = FusionConfig(),
        force_rebuild: bool = False,
        progress: bool = True,
        reader: str | None = None,
    ) -> Pipeline:
        """``reader``: "on" (the trained model) or "off" (heuristic); default ``$QA_READER``."""
        from qa.model import Encoder

        encoder = Encoder(model, progress=progress)
        chosen_reader = open_reader(reader, progress=progress)
        corpus, index_folder = folders(corpus_dir, index_dir)
        for folder in (corpus, index_folder):  # what a write killed mid-way left behind
            sweep_stale_temps(folder)
        index, report = ensure_index(corpus, index_folder, encoder, chunking, force=force_rebuild, progress=progress)
        pipe = cls(index, encoder, fusion, chosen_reader)
        pipe.corpus_dir, pipe.index_dir, pipe.chunking = corpus, index_folder, chunking
        pipe._remember(index, report)
        return pipe

    def warm(self) -> None:
        """Load, in the background, what a first English question would wait for: the
        English-Chinese dictionary (~0.2 s from its cache; ~5 s to parse, once per machine).
        For servers: a one-shot command would spend that on every run for nothing."""
        threading.Thread(target=dictionary, name="qa-cedict", daemon=True).start()

    # ------------------------------------------------------------ the user's documents
    def update(self, on_progress: ProgressCallback | None = None) -> BuildReport:
        """Bring the index up to date with the corpus folder (incrementally), then swap it in.

        Questions keep being answered from the previous index until the new one is saved
        and loaded: the swap is one assignment, so an ask sees the old or the new, whole.
        """
        corpus = self._corpus()
        with self._updating:
            index, report = ensure_index(
                corpus,
                self.index_dir or default_index_dir(corpus),
                self.encoder,
                self.chunking,
                progress=False,
                on_progress=on_progress,
                current=self.index,
            )
            self.retriever = Retriever(index, self._embed_query, self.fusion)
            self._remember(index, report)
            return report

    def add_documents(
        self, files: Sequence[tuple[str, bytes]], on_progress: ProgressCallback | None = None
    ) -> tuple[list[str], BuildReport]:
        """Store files in the corpus folder (checked, sanitised, atomic), then ``update``."""
        corpus = self._corpus()
        with self._updating:  # no other update may index half of a batch
            stored = [name for name, _ in add_files(corpus, files)]
            return stored, self.update(on_progress)

    def remove_document(self, name: str, on_progress: ProgressCallback | None = None) -> BuildReport:
        """Delete one document from the corpus folder, then ``update``."""
        corpus = self._corpus()
        with self._updating:
            remove_file(corpus, name)  # refuses the last document before deleting anything
            return self.update(on_progress)

    def search(self, question: str, top_k: int = 5, mode: Mode = "hybrid") -> list[Hit]:
        check_mode_and_k(mode, top_k)
        q, _ = check_question(question)
        return self.retriever.search(q, top_k, mode)

    def run(
        self,
        question: str,
        top_k: int = settings.TOP_K_DEFAULT,
        mode: Mode = "hybrid",
        depth: int = 0,
        reader: bool = True,
        history: Sequence[Turn] = (),
    ) -> Result:
        """Resolve, retrieve, read, compose: the answer with the ranked hits (at least
        ``depth`` of them, for the eval's recall@k), the reading and the timings.
        ``reader=False`` uses the heuristic reader whatever was opened (the UI's
        setting); ``history``: the earlier turns, most recent last."""
        t0 = time.perf_counter()
        check_mode_and_k(mode, top_k)
        q, notice = check_question(question)
        retriever = self.retriever  # one index for the whole question, even if an update swaps it
        intent = detect_intent(q)
        if intent:  # a greeting, thanks, help or "summarise": answered from the corpus, no retrieval
            answer = intent_answer(q, intent, retriever.index.chunks, mode)
            elapsed = (time.perf_counter() - t0) * 1000
            return Result(answer, (), Reading("intent", abstained=False), Timings(0.0, 0.0, elapsed))
        options = candidates(q, history)
        option = options[0]
        focus = focus_document(history) if option.resolution.rule != "none" else ""
        # an English question is searched with the Chinese words the corpus uses for its words
        query = with_chinese_terms(option.resolution.search, retriever.index)
        hits = retriever.search(query, max(top_k, 5, depth), mode, prefer_doc=focus, bonus=self.fusion.focus_bonus)
        reading = None
        if len(options) > 1 and reader and isinstance(self.reader, ModelReader):
            reading = self._read_rewrite(retriever, option, hits, top_k)
            if reading.abstained:  # the rewrite cannot be answered: another reading may be
                option, hits, reading = self._read_alternatives(
                    retriever, options, top_k, mode, depth, focus, (option, hits, reading)
                )
        resolution = option.resolution
        understood = resolution.question
        retrieved = time.perf_counter()
        read = self.answer_from(
            understood,
            hits,
            mode,
            top_k,
            notice,
            reader=reader,
            index=retriever.index,
            resolution=resolution,
            reading=reading,
        )
        answer = read.answer
        if understood != q or resolution.rule != "none":
            answer = replace(answer, question=q, resolved_question=understood, resolution_rule=resolution.rule)
        timings = Timings(
            retrieve_ms=(retrieved - t0) * 1000,
            read_ms=read.timings.read_ms,
            total_ms=(time.perf_counter() - t0) * 1000,
        )
        return Result(answer, tuple(hits), read.reading, timings)

    def _read_rewrite(self, retriever: Retriever, option: Candidate, hits: list[Hit], top_k: int) -> Reading:
        considered = hits[: max(top_k, 5)]
        resolution = option.resolution
        reading = self.reader.read(resolution.question, considered, retriever.index.idf, avoid=resolution.avoid)
        return allowed(reading, resolution, considered)

    def _read_alternatives(
        self,
        retriever: Retriever,
        options: Sequence[Candidate],
        top_k: int,
        mode: Mode,
        depth: int,
        focus: str,
        declined: tuple[Candidate, list[Hit], Reading],
    ) -> tuple[Candidate, list[Hit], Reading]:
        """The other readings of a follow-up whose rewrite was declined, retrieved (queries
        embedded in one batch) and read (one batched reader run); the one ``pick`` takes,
        or the rewrite's decline."""
        others = options[1:]
        queries = [clean_query(with_chinese_terms(o.resolution.search, retriever.index)) for o in others]
        vectors = self.encoder.encode_queries(queries) if mode != "bm25" else [None] * len(queries)
        found = [
            retriever.search(
                query, max(top_k, 5, depth), mode, vector=v, prefer_doc=focus, bonus=self.fusion.focus_bonus
            )
            for query, v in zip(queries, vectors, strict=True)
        ]
        shown = [h[: max(top_k, 5)] for h in found]
        asks = [(o.resolution.question, h, o.resolution.avoid) for o, h in zip(others, shown, strict=True)]
        readings = self.reader.read_many(asks, retriever.index.idf)  # type: ignore[attr-defined]
        readings = [allowed(r, o.resolution, h) for r, o, h in zip(readings, others, shown, strict=True)]
        evidence = [
            r.span.score
            if r.span is not None and not r.abstained and of_asked_kind(r, o.resolution.question, h)
            else None
            for r, o, h in zip(readings, others, shown, strict=True)
        ]
        at = pick(evidence, self.reader.config.threshold)  # type: ignore[attr-defined]
        return declined if at is None else (others[at], found[at], readings[at])

    def ask(
        self, question: str, top_k: int = settings.TOP_K_DEFAULT, mode: Mode = "hybrid", history: Sequence[Turn] = ()
    ) -> Answer:
        """Answer one question with cited passages (or abstain); ``history``: earlier turns."""
        return self.run(question, top_k, mode, history=history).answer

    def answer_from(
        self,
        question: str,
        hits: list[Hit],
        mode: Mode,
        top_k: int = settings.TOP_K_DEFAULT,
        notice: str = "",
        reader: bool = True,
        index: HybridIndex | None = None,
        resolution: Resolution | None = None,
        reading: Reading | None = None,
    ) -> Result:
        """Read and compose from these ranked hits, without retrieving: the second half of
        ``run`` (the eval also passes hits with the answering paragraph withheld, to see
        whether the bot then declines). ``Result.timings`` covers only the reading.
        ``resolution``: what the conversation asks of any answer (``Resolution.allows``);
        ``reading``: the reader's reading when already done (the candidates' batched run)."""
        t0 = time.perf_counter()
        idf = (index or self.index).idf  # the index the hits came from
        considered = hits[: max(top_k, 5)]
        if reading is None:
            chosen = self.reader if reader else HeuristicReader()
            # "除此之外呢？" reads past the answers given; "另外四个部门…" and "除了工信部还有谁？" decline
            # rather than give one back (reading past read 五部门 there; measured in the README)
            reading = chosen.read(question, considered, idf, avoid=resolution.avoid if resolution else ())
            if resolution is not None:
                reading = allowed(reading, resolution, considered)
        reading = with_list_items(question, considered, reading)
        t1 = time.perf_counter()
        answer = compose(question, considered, mode, reading, max_citations=top_k, notice=notice, idf=idf)
        total = (time.perf_counter() - t0) * 1000
        return Result(answer, tuple(hits), reading, Timings(0.0, (t1 - t0) * 1000, total))


def allowed(reading: Reading, resolution: Resolution, considered: Sequence[Hit]) -> Reading:
    """The reading, declined when its answer does not fit the conversation
    (``Resolution.allows``: the focus unnamed, or an answer set aside)."""
    if reading.abstained:
        return reading
    span = reading.span
    said = considered[span.hit].chunk.text[span.start : span.end] if span is not None else ""
    if resolution.allows([h.chunk.text for h in considered], said):
        return reading
    return replace(reading, abstained=True)


def of_asked_kind(reading: Reading, question: str, considered: Sequence[Hit]) -> bool:
    """Whether the reading's span is of the kind the question asks for (an age for 多大年纪,
    a year for 哪一年: ``qa.answer_types``). The reader prefers such a span but falls back
    to its best one; an alternative reading of a follow-up must have one, since a guessed
    referent that reads "十四届" for "他今年多大？" is a wrong answer, not a reading."""
    span = reading.span
    if span is None:
        return False
    text = to_simplified(considered[span.hit].chunk.text)  # same length
    return span_fits(expected_kind(to_simplified(question)), text, span.start, span.end)


NAME_SCAN_MAX_CHUNKS = 20_000  # above this, English questions' pinyin names are not looked for


def with_chinese_terms(question: str, index: HybridIndex) -> str:
    """An English question with the Chinese words the corpus uses for its words appended
    (``qa.crosslingual``): both BM25 and the embedding then match the passages better
    (measured on the dialogues' English turns: README, "English questions")."""
    if has_chinese(question):
        return question  # before ``index.text``: a Chinese question never joins the chunk texts
    terms = chinese_terms(question, index.uses)
    if len(index.chunks) <= NAME_SCAN_MAX_CHUNKS:  # the scan reads every chunk's text (~1 ms for the article)
        terms += name_terms(question, index.text, index.uses)
    return f"{question} {' '.join(terms)}" if terms else question


def with_list_items(question: str, hits: Sequence[Hit], reading: Reading) -> Reading:
    """A list question answered with one item of an enumeration gets all its items."""
    span = reading.span
    if reading.abstained or span is None or not is_list_question(question):
        return reading
    items = gather_items(hits[span.hit].chunk.text, span.start, span.end)
    wanted = asked_count(question)
    if not items or (wanted is not None and wanted != len(items)):
        return reading
    return replace(reading, span=replace(span, start=items[0][0], end=items[-1][1], items=tuple(items)))


def check_mode_and_k(mode: str, top_k: int) -> None:
    if mode not in MODES:
        raise QAError(
            f"未知的检索模式：{mode}（可选 {', '.join(MODES)}）", f"Unknown mode: {mode} (one of {', '.join(MODES)})"
        )
    if not 1 <= int(top_k) <= MAX_TOP_K:
        raise QAError(f"top-k 应在 1 到 {MAX_TOP_K} 之间。", f"top-k must be between 1 and {MAX_TOP_K}.")
