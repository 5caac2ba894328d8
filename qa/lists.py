"""List questions: gather the items when the answer is one item of an enumeration.

"首批园区有哪五大方面特点？" The reader points at "地缘分布均衡", the head of the first
of five "；"-separated clauses ("包括地缘分布均衡，…；新能源消纳能力强，…；…"). The
answer the user wants is every head: "地缘分布均衡、新能源消纳能力强、…". A list that
sits inside one clause ("汽车、锂电池、光伏…") is already one span and is left alone.

Pure functions on the passage text; the span is widened to cover the items, and the
items are returned as spans so the reply can list them in the asker's script.
"""

from __future__ import annotations

import re

_LIST_QUESTION = re.compile(r"哪些|哪几|有哪|哪[一二三四五六七八九十两\d]+[个大项种类方面条点]")
_ITEM_END = "；;。！？!?\n"
_CLAUSE_END = "，,；;。！？!?\n"
_ENUMERATION_START = re.compile(r"(?:包括|分别是|分别为|主要有|[：:])\s*$")


def is_list_question(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


def asked_count(question: str) -> int | None:
    """How many items the question asks for ("哪五大方面" -> 5), when it says."""
    from qa.qualifiers import chinese_number

    m = re.search(r"哪([一二三四五六七八九十两\d]+)", question)
    return chinese_number(m.group(1)) if m else None


def _clause_head(text: str, start: int) -> tuple[int, int]:
    """The first comma-clause of the item starting at ``start``."""
    end = start
    while end < len(text) and text[end] not in _CLAUSE_END:
        end += 1
    return start, end


def gather_items(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the enumeration's items when [start, end) is the head of one of them.

    An item is a "；"-separated segment; its head is its first comma-clause. The span
    counts as a head when it follows the enumeration's announcement (包括, 分别是, ：) and
    ends inside its first clause. Fewer than two items: an empty list.
    """
    seg_start = start
    while seg_start > 0 and text[seg_start - 1] not in _ITEM_END:
        seg_start -= 1
    if not _ENUMERATION_START.search(text[seg_start:start]):
        return []  # parallel clauses without "包括"/"：" are not announced as a list
    head = _clause_head(text, start)
    if end > head[1]:
        return []
    items = [head]
    pos = start
    while True:  # the following segments, up to the end of the sentence
        while pos < len(text) and text[pos] not in _ITEM_END:
            pos += 1
        if pos >= len(text) or text[pos] not in "；;":
            break
        pos += 1
        if pos < len(text) and text[pos] not in _ITEM_END:
            items.append(_clause_head(text, pos))
    return items if len(items) >= 2 else []
