"""The kind of answer a question asks for, and whether a span is of that kind.

Why: the reader's best span is sometimes of the wrong kind: asked "今年政府工作报告是哪天作的？",
it reads "2025年" (a year) out of a sentence about the 2025 report. A question that asks
for a day, a month, a year or a count names the kind plainly (哪天, 几月, 哪一年, 多少个);
a span without it cannot be the answer, so the reader takes its best span that has it.
A question that asks for a number of things ("哪三个特点") wants a list of that many.

Pure functions on simplified text; measured in the README ("Reader").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.lists import asked_count, gather_items

_NUMERAL = r"[0-9０-９零〇一二两三四五六七八九十百千万亿半]"
# (kind, how a question asks for it, what an answer of that kind contains)
_KINDS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("day", re.compile(r"哪一?天|几号|几月几[日号]|哪一?日"), re.compile(f"{_NUMERAL}+\\s*[日号]|[今昨当同][天日]")),
    ("month", re.compile(r"哪一?个月|几月份?(?![0-9几]*[日号])"), re.compile(f"{_NUMERAL}+\\s*月|[年月][初中底末]")),
    ("year", re.compile(r"哪一?年|何年|几几年"), re.compile(f"{_NUMERAL}+\\s*年|[0-9]{{4}}|[今去明前]年")),
    ("count", re.compile(r"多少[个家项座批倍人次种所位条]|几[个家项座批倍人次种所位条大]"), re.compile(_NUMERAL)),
)


_LIST_SEPARATORS = re.compile(r"[、；;]|和|与|及")  # enumeration marks; a comma also ends clauses


@dataclass(frozen=True)
class AnswerKind:
    """What the answer must be: "day", "month", "year", "count", or "items" (``items`` of them)."""

    name: str
    items: int = 0


def expected_kind(question: str) -> AnswerKind | None:
    """The kind of answer the (simplified) question asks for, when it says, else None."""
    wanted = asked_count(question)
    if wanted is not None and wanted >= 2:
        return AnswerKind("items", wanted)
    for name, asks, _ in _KINDS:
        if asks.search(question):
            return AnswerKind(name)
    return None


def fits(kind: AnswerKind | None, answer: str) -> bool:
    """Whether an answer span is of the kind asked for (any span fits no kind)."""
    if kind is None:
        return True
    if kind.name == "items":
        return len(_LIST_SEPARATORS.findall(answer)) >= kind.items - 1
    return next(p for k, _, p in _KINDS if k == kind.name).search(answer) is not None


def span_fits(kind: AnswerKind | None, text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is of the kind asked for; for a list of N things the head
    of an announced list of N counts too (the reply gathers its items: ``qa.lists``)."""
    if kind is not None and kind.name == "items" and len(gather_items(text, start, end)) == kind.items:
        return True
    return fits(kind, text[start:end])
