"""The reader's input layout and span decoding (no model)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qa.reader_inputs import (
    MAX_TOKENS,
    Special,
    assemble,
    best_span,
    context_budget,
    context_offset,
    pad_batch,
    ranked_spans,
    windows,
)

SPECIAL = Special(cls=0, sep=2, pad=1, word_start=6)


@pytest.mark.parametrize("n,budget,stride", [(10, 20, 5), (100, 30, 10), (257, 64, 32), (64, 64, 16)])
def test_windows_cover_every_token_and_overlap_by_the_stride(n: int, budget: int, stride: int) -> None:
    wins = windows(n, budget, stride)
    covered = set()
    for a, b in wins:
        assert 0 <= a < b <= n and b - a <= budget
        covered.update(range(a, b))
    assert covered == set(range(n))
    for (a1, b1), (a2, _) in itertools.pairwise(wins):
        assert a2 > a1 and b1 - a2 >= min(stride, b1 - a1)  # neighbours share at least the stride


def test_assemble_puts_the_context_after_the_question() -> None:
    q, ctx = [11, 12], [21, 22, 23, 24]
    ids = assemble(q, ctx, (1, 3), SPECIAL)
    assert ids == [0, 11, 12, 2, 2, 22, 23, 2]
    assert ids[context_offset(len(q))] == 22
    assert context_budget(len(q)) + len(q) + 4 == MAX_TOKENS


def test_pad_batch_pads_to_a_multiple_and_masks() -> None:
    ids, mask = pad_batch([[5, 6, 7], [8]], pad=1, multiple=4)
    assert ids.shape == (2, 4) and ids[1].tolist() == [8, 1, 1, 1]
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]


def logits_for(n_question: int, starts: list[float], ends: list[float], cls: tuple[float, float, float]) -> np.ndarray:
    n = context_offset(n_question) + len(starts) + 1
    out = np.full((n, 3), -10.0, np.float32)
    out[0] = cls
    first = context_offset(n_question)
    out[first : first + len(starts), 0] = starts
    out[first : first + len(ends), 1] = ends
    return out


def test_best_span_takes_the_highest_start_plus_end_with_end_after_start() -> None:
    # the highest end (index 0) comes before the highest start (index 2): not a span
    lg = logits_for(2, starts=[0.0, 0.0, 3.0, 0.0], ends=[5.0, 0.0, 0.0, 2.5], cls=(0.5, 0.25, 1.5))
    span = best_span(lg, 2, 4)  # (0, 0) scores 5.0; the best end alone cannot follow the best start
    assert (span.start, span.end) == (2, 3) and span.score == pytest.approx(5.5)
    assert span.null == pytest.approx(0.75) and span.has_answer == pytest.approx(1.5)


def test_best_span_respects_the_longest_answer() -> None:
    lg = logits_for(1, starts=[4.0, 0.0, 0.0, 0.0, 0.0], ends=[0.0, 0.0, 0.0, 0.0, 4.0], cls=(0, 0, 0))
    assert (best_span(lg, 1, 5).start, best_span(lg, 1, 5).end) == (0, 4)
    short = best_span(lg, 1, 5, max_answer=2)
    assert short.end - short.start < 2


def test_ranked_spans_are_valid_spans_best_first() -> None:
    lg = logits_for(2, starts=[0.0, 0.0, 3.0, 0.0], ends=[5.0, 0.0, 0.0, 2.5], cls=(0.5, 0.25, 1.5))
    spans = ranked_spans(lg, 2, 4, limit=4)
    assert [(s.start, s.end) for s in spans[:2]] == [(2, 3), (0, 0)]  # 5.5, then 5.0
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert all(s.end >= s.start for s in spans)
    assert len(ranked_spans(lg, 2, 2, max_answer=1, limit=50)) == 2  # only as many as there are spans
    assert ranked_spans(lg, 2, 4)[0] == best_span(lg, 2, 4)
