"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from qa.metrics import (
    char_f1,
    cmrc_tokens,
    first_hit_rank,
    longest_common_substring,
    mean,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    precision_recall,
    recall_at_k,
)


def test_first_hit_rank() -> None:
    assert first_hit_rank([4, 2, 7]) == 2
    assert first_hit_rank([]) is None


@pytest.mark.parametrize(("ranks", "k", "expected"), [([3], 1, 0.0), ([3], 3, 1.0), ([3, 1], 1, 1.0), ([], 10, 0.0)])
def test_recall_at_k(ranks: list[int], k: int, expected: float) -> None:
    assert recall_at_k(ranks, k) == expected


def test_mrr_at_k() -> None:
    assert mrr_at_k([3, 5], 10) == pytest.approx(1 / 3)
    assert mrr_at_k([1], 10) == 1.0
    assert mrr_at_k([11], 10) == 0.0  # beyond the cut-off
    assert mrr_at_k([], 10) == 0.0


def test_ndcg_single_relevant() -> None:
    assert ndcg_at_k([1], 10, n_relevant=1) == 1.0
    assert ndcg_at_k([2], 10, n_relevant=1) == pytest.approx(1 / math.log2(3))  # 0.6309


def test_ndcg_two_hits() -> None:
    # DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) = 1.6309
    assert ndcg_at_k([1, 3], 10, n_relevant=2) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_ndcg_uses_all_relevant_in_index() -> None:
    # one of three relevant chunks retrieved, at rank 2: 0.6309 / (1 + 0.6309 + 0.5)
    assert ndcg_at_k([2], 10, n_relevant=3) == pytest.approx(0.63093 / 2.13093, abs=1e-4)
    # unknown n_relevant falls back to the retrieved hits
    assert ndcg_at_k([2], 10) == pytest.approx(1 / math.log2(3))


def test_ndcg_edge_cases() -> None:
    assert ndcg_at_k([], 10, n_relevant=0) == 0.0
    assert ndcg_at_k([], 10, n_relevant=2) == 0.0
    assert ndcg_at_k([12], 10, n_relevant=1) == 0.0


def test_cmrc_tokens() -> None:
    assert cmrc_tokens("Hello World 2024年，好！") == ["hello", "world", "2024", "年", "好"]
    assert cmrc_tokens("李強") == ["李", "强"]  # simplified before comparing


def test_longest_common_substring_is_contiguous() -> None:
    assert longest_common_substring(list("abxcd"), list("abcd")) == 2
    assert longest_common_substring(list("xbcdy"), list("abcde")) == 3
    assert longest_common_substring([], list("abc")) == 0


def test_char_f1_hand_values() -> None:
    assert char_f1("李强", ["李强"]) == 1.0
    # prediction 7 characters, gold 2, common run 2: P = 2/7, R = 1, F1 = 4/9
    assert char_f1("国务院总理李强", ["李强"]) == pytest.approx(4 / 9)
    # common run 2 of "ab|cd": P = 2/5, R = 2/4, F1 = 0.4444
    assert char_f1("零碳X园区", ["零碳园区"]) == pytest.approx(2 * 0.4 * 0.5 / 0.9)


def test_char_f1_normalises_and_takes_best_answer() -> None:
    assert char_f1("李強，", ["李强"]) == 1.0
    assert char_f1("李强", ["王五", "李强"]) == 1.0
    assert char_f1("李强", []) == 0.0
    assert char_f1("", ["李强"]) == 0.0


def test_mean_and_percentile() -> None:
    assert mean([1.0, 2.0]) == 1.5
    assert mean([]) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 21)), 95) == pytest.approx(19.05)  # numpy: 19.05
    assert percentile([5.0], 95) == 5.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_precision_recall() -> None:
    assert precision_recall([True, True, False, False], [True, False, True, False]) == (0.5, 0.5)
    assert precision_recall([True, False], [False, False]) == (None, None)  # nothing to measure
    assert precision_recall([False, False], [True, False]) == (0.0, 0.0)


# ---------------------------------------------------------------- CMRC 2018 EM (hand-computed)
def test_cmrc_em_ignores_case_punctuation_spaces_and_script() -> None:
    from qa.metrics import cmrc_em

    assert cmrc_em("52个", ["52个"]) == 1.0
    assert cmrc_em("《政府工作报告》", ["政府工作报告"]) == 1.0  # punctuation dropped
    assert cmrc_em("ω-Force", ["ω-force"]) == 1.0  # lower-cased
    assert cmrc_em("國家級", ["国家级"]) == 1.0  # compared in simplified script
    assert cmrc_em("52", ["52个"]) == 0.0
    assert cmrc_em("", ["52个"]) == 0.0
    assert cmrc_em("约1.5万个", ["1.5万个", "约1.5万个"]) == 1.0  # best over gold answers


def test_cmrc_f1_on_a_partial_answer() -> None:
    from qa.metrics import char_f1

    # pred 首批52个 -> [首, 批, 52, 个]; gold 52个 -> [52, 个]; LCS 2: P 2/4, R 2/2, F1 2/3
    assert abs(char_f1("首批52个", ["52个"]) - 2 / 3) < 1e-9
