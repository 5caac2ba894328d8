"""The kind of answer a question asks for, and whether a span is of that kind.

Why: the reader's best span is sometimes of the wrong kind: asked "今年政府工作报告是哪天作的？",
it reads "2025年" (a year) out of a sentence about the 2025 report. A question that asks
for a day, a month, a year or a count names the kind plainly (哪天, 几月, 哪一年, 多少个);
a span without it cannot be the answer, so the reader takes its best span that has it.
An age (多大年纪, 几岁) wants 岁 or 旬, not a year ("1872年") or an ordinal ("十四届"); "哪几个园区"
asks which ones, by name, not how many ("52个").
A question that asks for a number of things ("哪三个特点") wants a list of that many; a
quoted abbreviation ("三低") a list of that many items that each have its character
(低成本、低能耗、低碳排). A question about a person's post ("李强是什么职务？") wants the
title right before the name, as Chinese news writes them (国务院总理李强).

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
    (
        "age",
        re.compile(r"多大(?:年纪|岁数|了)|(?:今年|当时|那年|时候?)多大|几岁|多少岁|年龄|岁数"),
        re.compile(f"{_NUMERAL}+\\s*(?:周?岁|旬)"),
    ),
    (  # "哪几个园区": which ones, named; not a count ("52个"), though 几个 asks for one below
        "which",
        re.compile(r"哪几[个家项座批种所位条类]|哪些"),
        re.compile(f"^(?!.*{_NUMERAL}+\\s*[个家项座批种所位条类]$).+", re.S),
    ),
    ("count", re.compile(r"多少[个家项座批倍人次种所位条]|几[个家项座批倍人次种所位条大]"), re.compile(_NUMERAL)),
)


_LIST_SEPARATORS = re.compile(r"[、；;]|和|与|及")  # enumeration marks; a comma also ends clauses
_ABBREVIATION = re.compile(r"[“\"「‘]([二两三四五六七八九十])([\u4e00-\u9fff])[”\"」’]")  # “三低”
_POST = re.compile(
    r"^([\u4e00-\u9fff]{2,4}?)(?:目前|现在|当时)?"
    r"(?:的(?:职务|职位|职业|头衔|身份)|(?:还|又|也)?(?:是什么(?:职务|职位|职业|头衔|身份)|(?:担任|兼任?|任)什么))"
)


@dataclass(frozen=True)
class AnswerKind:
    """What the answer must be: "day", "month", "year", "count", "items" (``items`` of them,
    each with the character ``shared`` when an abbreviation gives one), or "title" (of
    ``person``: the span comes right before the name)."""

    name: str
    items: int = 0
    shared: str = ""
    person: str = ""


def expected_kind(question: str) -> AnswerKind | None:
    """The kind of answer the (simplified) question asks for, when it says, else None."""
    from qa.qualifiers import chinese_number

    wanted = asked_count(question)
    if wanted is not None and wanted >= 2:
        return AnswerKind("items", wanted)
    abbreviation = _ABBREVIATION.search(question)
    if abbreviation:
        return AnswerKind("items", chinese_number(abbreviation.group(1)), shared=abbreviation.group(2))
    post = _POST.match(question)
    if post and post.group(1) not in ("他们", "她们", "这位", "那位", "此人"):
        return AnswerKind("title", person=post.group(1))
    for name, asks, _ in _KINDS:
        if asks.search(question):
            return AnswerKind(name)
    return None


def fits(kind: AnswerKind | None, answer: str) -> bool:
    """Whether an answer span is of the kind asked for (any span fits no kind)."""
    if kind is None:
        return True
    if kind.name == "items":
        if kind.shared:  # one clause, judged from its opening quote: 零碳园区“低成本、低能耗、低碳排
            if re.search(r"[，,。：:”」]", answer):
                return False
            answer = re.split(r"[“「\"]", answer)[-1]
        items = [x for x in _LIST_SEPARATORS.split(answer) if x.strip()]
        if not all(kind.shared in x for x in items):
            return False  # "低成本、低能耗、低碳排": short items, each with the abbreviation's character
        return len(items) >= kind.items
    if kind.name == "title":
        return True  # judged on the text after the span (``span_fits``)
    return next(p for k, _, p in _KINDS if k == kind.name).search(answer) is not None


def span_fits(kind: AnswerKind | None, text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is of the kind asked for; for a list of N things the head
    of an announced list of N counts too (the reply gathers its items: ``qa.lists``)."""
    if kind is not None and kind.name == "items":
        items = gather_items(text, start, end)
        if len(items) == kind.items:
            return not kind.shared or all(kind.shared in text[a:b] for a, b in items)
    if kind is not None and kind.name == "title":
        return end > start and text[end:].lstrip().startswith(kind.person) and text[end - 1] not in "，。；、,"
    return fits(kind, text[start:end])


def trimmed(kind: AnswerKind | None, text: str, start: int, end: int) -> tuple[int, int]:
    """The span without what comes before an abbreviation's quoted list: 零碳园区“低成本、…
    -> 低成本、… (a fitting span may start before the quote, ``fits``)."""
    if kind is None or not kind.shared:
        return start, end
    quote = max(text.rfind(q, start, end) for q in '“「"')
    return (quote + 1, end) if quote >= start and quote + 1 < end else (start, end)
