"""Plain, frozen data types passed between the pipeline stages.

Every stage (corpus -> normalise -> chunk -> index -> retrieve -> answer -> present)
speaks in these types, so no stage needs to import the one after it.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Document:
    """One cleaned source document and the map back to its raw file.

    ``text`` is the cleaned text in the document's own script, ``simplified`` the
    same text in simplified Chinese with exactly the same length (character i of one
    is character i of the other), and ``raw_offsets[i]`` is the index in ``raw`` of
    cleaned character i (one extra entry marks the end), so any cleaned span can be
    traced back to raw line numbers.
    """

    doc_id: str
    raw: str
    text: str
    simplified: str
    raw_offsets: tuple[int, ...]
    line_starts: tuple[int, ...] = field(repr=False, default=())
    kind: str = "txt"  # the file's format (qa.loaders.FORMATS): txt, md, pdf, docx, html
    page_starts: tuple[int, ...] = ()  # raw index where each page begins (PDFs); () = no pages

    @property
    def pages(self) -> int | None:
        return len(self.page_starts) or None

    @functools.cached_property
    def clean_page_starts(self) -> tuple[int, ...]:
        """Index in ``text`` where each page after the first begins."""
        return tuple(bisect.bisect_left(self.raw_offsets, p) for p in self.page_starts[1:])

    def page_of(self, start: int) -> int | None:
        """1-based page of cleaned character ``start`` (None for formats without pages)."""
        if not self.page_starts:
            return None
        return 1 + bisect.bisect_right(self.clean_page_starts, start)

    def raw_line_of(self, raw_index: int) -> int:
        """1-based line number in the raw file of a raw character index."""
        return bisect.bisect_right(self.line_starts, raw_index)

    def line_range(self, start: int, end: int) -> tuple[int, int]:
        """Raw (first, last) 1-based line numbers covered by cleaned span [start, end)."""
        if end <= start:
            end = start + 1
        first = self.raw_offsets[min(start, len(self.raw_offsets) - 1)]
        last = self.raw_offsets[min(end - 1, len(self.raw_offsets) - 1)]
        return self.raw_line_of(first), self.raw_line_of(last)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a span of one document's cleaned text."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    lines: tuple[int, int]
    text: str  # simplified script: what is embedded and BM25-indexed
    text_original: str  # the cleaned text in the document's own script
    page: int | None = None  # 1-based page where the chunk begins (PDFs), else None
    page_breaks: tuple[int, ...] = ()  # offsets in ``text`` where each following page begins

    def page_at(self, offset: int) -> int | None:
        """The page of character ``offset`` of ``text`` (None without pages)."""
        if self.page is None:
            return None
        return self.page + bisect.bisect_right(self.page_breaks, offset)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and each retriever's own score."""

    chunk: Chunk
    score: float
    rank: int
    scores: dict[str, float] = field(default_factory=dict)
    # Dense similarity of the question to each sentence of the chunk, keyed by the
    # sentence's span in ``chunk.text``; empty without sentence vectors (or in BM25 mode).
    sentence_scores: dict[tuple[int, int], float] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    """A numbered source shown under an answer; ``highlight`` is a span in ``text``."""

    n: int
    doc: str
    lines: tuple[int, int]
    chunk_id: str
    score: float
    text: str
    text_original: str
    highlight: tuple[int, int] | None
    answer_span: tuple[int, int] | None = None  # the short answer inside ``text`` (inside ``highlight``)
    page: int | None = None  # 1-based page of the highlighted sentence (or the passage) in a PDF

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc": self.doc,
            "lines": list(self.lines),
            "page": self.page,
            "chunk_id": self.chunk_id,
            "score": round(float(self.score), 6),
            "text": self.text,
            "text_original": self.text_original,
            "highlight": list(self.highlight) if self.highlight else None,
            "answer_span": list(self.answer_span) if self.answer_span else None,
        }


@dataclass(frozen=True)
class Span:
    """The reader's answer: characters [start, end) of ``hits[hit].chunk.text``."""

    hit: int
    start: int
    end: int
    score: float  # the reader's evidence for it (higher: more sure there is an answer)
    items: tuple[tuple[int, int], ...] = ()  # a gathered list: each item's span inside [start, end)


@dataclass(frozen=True)
class Reading:
    """What a reader made of the hits: an exact span (or none), and whether to decline."""

    reader: str  # "model" or "heuristic"
    abstained: bool
    span: Span | None = None
    no_answer: float | None = None  # the model's no-answer evidence (None for the heuristic)


@dataclass(frozen=True)
class Answer:
    """What the user sees: answer text with [n] markers, and its citations.

    A value: the same question over the same index gives an equal Answer (timings
    live in ``Result``).
    """

    question: str
    answer: str
    abstained: bool
    mode: Mode
    citations: tuple[Citation, ...]
    notice: str = ""  # e.g. "question was truncated"; shown, never silently dropped
    short_answer: str | None = None  # the exact answer span, in the asker's script
    resolved_question: str = ""  # the question as understood from the conversation ("" = as asked)
    intent: str = ""  # "greeting", "thanks", "help" or "summary": a chat reply, not an answer to a question
    resolution_rule: str = ""  # which resolution rule made ``resolved_question`` ("" = as asked)

    @property
    def understood(self) -> str:
        """The question that was answered: the resolved follow-up, or the question itself."""
        return self.resolved_question or self.question

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question": self.question,
            "resolved_question": self.understood,
            "answer": self.answer,
            "short_answer": self.short_answer,
            "abstained": self.abstained,
            "intent": self.intent or None,
            "mode": self.mode,
            "citations": [c.to_json() for c in self.citations],
        }
        if self.resolution_rule:
            out["resolution_rule"] = self.resolution_rule
        if self.notice:
            out["notice"] = self.notice
        return out


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: the question and its Answer (or an error)."""

    question: str
    answer: Answer | None = None
    error: str = ""

    @property
    def resolved_question(self) -> str:
        return self.answer.understood if self.answer is not None else self.question

    @classmethod
    def from_json(cls, item: object) -> Turn:
        """A history entry from JSON: a question string, or {"question"/"q", "answer",
        "short_answer", "resolved_question", "abstained"} (an ``ask --json`` object fits)."""
        if isinstance(item, str):
            return cls(item)
        if not isinstance(item, dict):
            raise TypeError("history entries are strings or objects")
        question = str(item.get("question", item.get("q", "")) or "")
        answer = item.get("answer")
        if answer is None and item.get("short_answer") is None and not item.get("resolved_question"):
            return cls(question)
        short = item.get("short_answer")
        return cls(
            question,
            Answer(
                question=question,
                answer=str(answer or short or ""),
                abstained=bool(item.get("abstained", False)),
                mode="hybrid",
                citations=_cited(item.get("citations")),
                short_answer=str(short) if short else None,
                resolved_question=str(item.get("resolved_question") or ""),
            ),
        )


def _cited(items: object) -> tuple[Citation, ...]:
    """The documents an earlier answer cited, from its JSON (``doc`` and ``answer_span`` are
    what the conversation reads: which document it is about); anything else is ignored."""
    if not isinstance(items, list):
        return ()
    out = []
    for n, c in enumerate(items[:MAX_HISTORY_CITATIONS], 1):
        if isinstance(c, dict) and isinstance(c.get("doc"), str):
            span = c.get("answer_span")
            marked = (0, 0) if isinstance(span, list) and len(span) == 2 else None
            out.append(Citation(n, c["doc"][:500], (0, 0), "", 0.0, "", "", None, marked))
    return tuple(out)


MAX_HISTORY_CITATIONS = 20


@dataclass(frozen=True)
class Timings:
    retrieve_ms: float
    read_ms: float
    total_ms: float

    def to_json(self) -> dict[str, float]:
        return {
            k: round(v, 2)
            for k, v in (("retrieve_ms", self.retrieve_ms), ("read_ms", self.read_ms), ("total_ms", self.total_ms))
        }


@dataclass(frozen=True)
class Result:
    """One pipeline run: the answer, every ranked hit, the reader's reading, timings."""

    answer: Answer
    hits: tuple[Hit, ...]
    reading: Reading
    timings: Timings

    def to_json(self) -> dict[str, Any]:
        """The ``qa ask --json`` object: the answer plus ``latency_ms`` (total) and ``timings``."""
        return {
            **self.answer.to_json(),
            "latency_ms": round(self.timings.total_ms, 2),
            "timings": self.timings.to_json(),
        }


class Asker(Protocol):
    """What a front door (UI, JSON API) needs from ``qa.pipeline.Pipeline``: one call."""

    def run(
        self,
        question: str,
        top_k: int = ...,
        mode: Mode = ...,
        depth: int = ...,
        reader: bool = ...,
        history: Sequence[Turn] = ...,
    ) -> Result: ...


@runtime_checkable
class Library(Protocol):
    """What the UI's documents panel needs from ``qa.pipeline.Pipeline``: the folders,
    the documents, and adding or removing one (each followed by an index update)."""

    corpus_dir: Path | None
    index_dir: Path | None

    def documents(self) -> list[Document]: ...

    def add_documents(self, files: Sequence[tuple[str, bytes]], on_progress: Any = ...) -> tuple[list[str], Any]: ...

    def remove_document(self, name: str, on_progress: Any = ...) -> Any: ...
