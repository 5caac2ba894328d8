"""How the reader sees a question and a passage: token windows and span decoding.

One place for the input layout, shared by training (``train/``) and the runtime
reader (``qa/reader.py``), so the two can never disagree. Pure functions over token
ids and logits; no model here.

Layout: ``<s> question </s> </s> context-window </s>`` (XLM-R pairs). A passage longer
than a window is read in overlapping windows. The SentencePiece word-start piece
``▁`` alone carries no text in Chinese and overlaps the next character's offsets, so
context pieces that are only ``▁`` are dropped: every context token then maps to a
distinct character span of the passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_TOKENS = 256  # whole input; measured against 384 in the README (speed vs. context)
MAX_QUESTION_TOKENS = 64
DOC_STRIDE = 96  # tokens two neighbouring windows share
MAX_ANSWER_TOKENS = 64  # a tenth of CMRC answers are 25-70 characters long


@dataclass(frozen=True)
class Special:
    cls: int
    sep: int
    pad: int
    word_start: int  # the lone "▁" piece


def special_ids(tokenizer) -> Special:  # type: ignore[no-untyped-def]
    """The control ids of the tokenizer (XLM-R vocabulary: 0, 2, 1, 6)."""
    return Special(
        cls=tokenizer.token_to_id("<s>"),
        sep=tokenizer.token_to_id("</s>"),
        pad=tokenizer.token_to_id("<pad>"),
        word_start=tokenizer.token_to_id("▁"),
    )


def encode_question(tokenizer, question: str, special: Special) -> list[int]:  # type: ignore[no-untyped-def]
    ids = [i for i in tokenizer.encode(question, add_special_tokens=False).ids if i != special.word_start]
    return ids[:MAX_QUESTION_TOKENS]


def encode_context(tokenizer, text: str, special: Special) -> tuple[list[int], list[tuple[int, int]]]:  # type: ignore[no-untyped-def]
    """Context token ids and each token's [start, end) character span in ``text``."""
    enc = tokenizer.encode(text, add_special_tokens=False)
    keep = [k for k, i in enumerate(enc.ids) if i != special.word_start]
    return [enc.ids[k] for k in keep], [tuple(enc.offsets[k]) for k in keep]


def context_budget(n_question: int) -> int:
    return MAX_TOKENS - n_question - 4


def windows(n_context: int, budget: int, stride: int = DOC_STRIDE) -> list[tuple[int, int]]:
    """Token ranges [start, end) covering the context, neighbours sharing ``stride`` tokens."""
    if n_context <= budget:
        return [(0, n_context)]
    step = max(1, budget - stride)
    out = []
    start = 0
    while True:
        end = min(start + budget, n_context)
        out.append((start, end))
        if end == n_context:
            return out
        start += step


def assemble(
    question_ids: Sequence[int], context_ids: Sequence[int], window: tuple[int, int], special: Special
) -> list[int]:
    """Input ids of one window; its context starts at ``len(question_ids) + 3``."""
    return [special.cls, *question_ids, special.sep, special.sep, *context_ids[window[0] : window[1]], special.sep]


def context_offset(n_question: int) -> int:
    return n_question + 3


def pad_batch(rows: Sequence[Sequence[int]], pad: int, multiple: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Ids and attention mask, padded to a multiple of ``multiple`` (fewer distinct shapes)."""
    longest = max(len(r) for r in rows)
    width = -(-longest // multiple) * multiple
    ids = np.full((len(rows), width), pad, np.int64)
    mask = np.zeros((len(rows), width), np.int64)
    for k, r in enumerate(rows):
        ids[k, : len(r)] = r
        mask[k, : len(r)] = 1
    return ids, mask


@dataclass(frozen=True)
class SpanScore:
    """The best span of one window: token indices into the window's context, and scores."""

    start: int
    end: int  # inclusive
    score: float  # start logit + end logit
    null: float  # CLS start + CLS end: the span head's "no answer"
    has_answer: float  # the CLS has-answer logit


def ranked_spans(
    logits: np.ndarray, n_question: int, n_window: int, max_answer: int = MAX_ANSWER_TOKENS, limit: int = 1
) -> list[SpanScore]:
    """The ``limit`` highest-scoring spans (end >= start, at most ``max_answer`` tokens)
    inside the window, best first.

    ``logits`` is (tokens, 3) for one input: start, end, has-answer.
    """
    first = context_offset(n_question)
    starts = logits[first : first + n_window, 0].astype(np.float64)
    ends = logits[first : first + n_window, 1].astype(np.float64)
    # score[i, j] = start[i] + end[j] for i <= j < i + max_answer
    total = starts[:, None] + ends[None, :]
    idx = np.arange(n_window)
    valid = (idx[None, :] >= idx[:, None]) & (idx[None, :] < idx[:, None] + max_answer)
    total = np.where(valid, total, -np.inf).ravel()
    limit = min(limit, int(valid.sum()))
    top = np.argpartition(-total, limit - 1)[:limit] if limit < total.size else np.arange(total.size)
    top = top[np.argsort(-total[top], kind="stable")][:limit]
    null, has_answer = float(logits[0, 0] + logits[0, 1]), float(logits[0, 2])
    return [SpanScore(int(f) // n_window, int(f) % n_window, float(total[f]), null, has_answer) for f in top]


def best_span(logits: np.ndarray, n_question: int, n_window: int, max_answer: int = MAX_ANSWER_TOKENS) -> SpanScore:
    """Highest-scoring span inside the window (``ranked_spans``' first)."""
    return ranked_spans(logits, n_question, n_window, max_answer)[0]
