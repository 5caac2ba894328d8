"""Evaluation metrics as small pure functions (no I/O, no model), each unit tested.

Ranking metrics use binary relevance and take, per query, the 1-based ranks at which
relevant items were retrieved (and, for nDCG, how many relevant items exist at all).
They are a few lines each, so we keep them here instead of adding a heavy dependency.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

from qa.normalize import to_simplified

_CJK_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD_CHAR = re.compile(r"[^\W_]", re.UNICODE)


# ---------------------------------------------------------------- ranking (one query)
def first_hit_rank(hit_ranks: Iterable[int]) -> int | None:
    """Rank of the first relevant item, or None when nothing relevant was retrieved."""
    ranks = [r for r in hit_ranks if r >= 1]
    return min(ranks) if ranks else None


def recall_at_k(hit_ranks: Iterable[int], k: int) -> float:
    """1.0 when a relevant item is within the top k (the "success@k" of QA retrieval)."""
    first = first_hit_rank(hit_ranks)
    return 1.0 if first is not None and first <= k else 0.0


def mrr_at_k(hit_ranks: Iterable[int], k: int) -> float:
    """Reciprocal rank of the first relevant item within the top k, else 0."""
    first = first_hit_rank(hit_ranks)
    return 1.0 / first if first is not None and first <= k else 0.0


def ndcg_at_k(hit_ranks: Iterable[int], k: int, n_relevant: int | None = None) -> float:
    """Binary nDCG@k: every retrieved relevant item counts, discounted by log2(rank + 1).

    The ideal ranking puts all ``n_relevant`` relevant items (those in the whole index,
    not only the retrieved ones) first; when it is unknown the retrieved ones are used,
    which can only overestimate.
    """
    ranks = sorted({r for r in hit_ranks if 1 <= r <= k})
    n_ideal = min(k, n_relevant if n_relevant is not None else len(ranks))
    if n_ideal <= 0:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r in ranks)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, n_ideal + 1))
    return min(1.0, dcg / idcg)


# ---------------------------------------------------------------- answer F1 (CMRC 2018)
def cmrc_tokens(text: str) -> list[str]:
    """Tokens as the CMRC 2018 evaluation script makes them, in simplified script.

    Each Chinese character is a token, a run of other letters/digits is one word
    token, and punctuation and spaces are dropped (the script's ``rm_punc=True``).
    """
    text = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    tokens: list[str] = []
    word = ""
    for ch in text:
        if _CJK_CHAR.match(ch) or not _WORD_CHAR.match(ch):
            if word:
                tokens.append(word)
                word = ""
            if _CJK_CHAR.match(ch):
                tokens.append(ch)
        else:
            word += ch
    if word:
        tokens.append(word)
    return tokens


def longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest contiguous run shared by two token lists (CMRC's ``find_lcs``)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                best = max(best, cur[j + 1])
        prev = cur
    return best


def char_f1(prediction: str, answers: Iterable[str]) -> float:
    """CMRC 2018 F1: precision/recall of the longest common token run; best over gold answers.

    Returns 0.0 when there are no gold answers or the prediction is empty.
    """
    pred = cmrc_tokens(prediction)
    best = 0.0
    for answer in answers:
        gold = cmrc_tokens(answer)
        lcs = longest_common_substring(gold, pred) if gold and pred else 0
        if lcs:
            precision, recall = lcs / len(pred), lcs / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


# ---------------------------------------------------------------- aggregates
def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; None for an empty list (a metric with no questions is unknown, not 0)."""
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """p-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    data = sorted(values)
    pos = (len(data) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def precision_recall(predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[float | None, float | None]:
    """Precision and recall of a yes/no decision (e.g. "abstained" vs "unanswerable").

    Both are None when there are no actual positives (nothing to measure); precision is
    0.0 when positives exist but nothing was predicted.
    """
    if len(predicted) != len(actual):
        raise ValueError("predicted and actual differ in length")
    n_actual = sum(actual)
    if n_actual == 0:
        return None, None
    n_pred = sum(predicted)
    both = sum(p and a for p, a in zip(predicted, actual, strict=True))
    return (both / n_pred if n_pred else 0.0), both / n_actual


def answer_contains(text: str, answers: Iterable[str]) -> bool:
    """Whether the text contains one of the gold answers (script, width and punctuation ignored)."""
    from qa.normalize import match_key

    key = match_key(text)
    return any(k and k in key for k in (match_key(a) for a in answers))


def cmrc_em(prediction: str, answers: Iterable[str]) -> float:
    """CMRC 2018 exact match: 1.0 when the prediction equals a gold answer once both are
    lower-cased, in simplified script, and stripped of punctuation and spaces."""
    pred = cmrc_tokens(prediction)
    return 1.0 if pred and any(cmrc_tokens(a) == pred for a in answers) else 0.0
