"""Qualifiers a question pins its answer to: ordinals ("第二批", "首届") and years ("2024年").

Why: the reader finds the answer's *kind* well but is weak at noticing that the
sentence is about another batch or another year. Asked "第二批国家级零碳园区什么时候公布？"
it reads "2025年" out of the sentence about the *first* batch (首批). When the answer's
sentence carries a qualifier of the same kind with another value, and not the
question's, the sentence answers a different question, and the reader declines.

Pure functions on simplified text; the rule is measured in the README ("Reader").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL = "[零〇一二两三四五六七八九十百0-9０-９]+"
# Classifiers an ordinal attaches to when it names one of a series (batch, session, term...).
_SERIES = "批|届|期|轮|代|任|版|季|阶段"
_ORDINAL = re.compile(f"(?:第\\s*({_NUMERAL})|(首))\\s*({_SERIES})")
_YEAR = re.compile(r"(?<![0-9０-９])([12][0-9]{3})\s*年")


@dataclass(frozen=True)
class Qualifier:
    """One pinned value: ``kind`` is the classifier ("批", "届", ...) or "年"."""

    kind: str
    value: int
    text: str


def chinese_number(text: str) -> int | None:
    """ "二十三" -> 23, "12" -> 12, "十" -> 10; None when it is not a plain number."""
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def qualifiers(text: str) -> list[Qualifier]:
    """The ordinals of a series and the years named in ``text``, in order."""
    found: list[Qualifier] = []
    for m in _ORDINAL.finditer(text):
        value = 1 if m.group(2) else chinese_number(m.group(1))
        if value is not None:
            found.append(Qualifier(m.group(3), value, m.group(0)))
    found.extend(Qualifier("年", int(m.group(1)), m.group(0)) for m in _YEAR.finditer(text))
    return found


def contradicted(question: str, sentence: str) -> Qualifier | None:
    """The question's qualifier that ``sentence`` contradicts, if any.

    Contradicts: the sentence names one or more qualifiers of the same kind, none with
    the question's value ("首批" where the question asks about "第二批"). A sentence that
    names no qualifier of that kind is not contradicting: it may rely on context.
    """
    in_sentence: dict[str, set[int]] = {}
    for q in qualifiers(sentence):
        in_sentence.setdefault(q.kind, set()).add(q.value)
    for asked in qualifiers(question):
        values = in_sentence.get(asked.kind)
        if values and asked.value not in values:
            return asked
    return None
