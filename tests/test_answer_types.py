"""The kind of answer a question asks for (a day, a month, a year, a count)."""

from __future__ import annotations

import pytest

from qa.answer_types import AnswerKind, expected_kind, fits


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("今年政府工作报告是哪天作的？", "day"),
        ("会议是几月几号开幕的？", "day"),
        ("指导意见是几月印发的？", "month"),
        ("从哪一年开始遴选零碳工厂？", "year"),
        ("首批国家级零碳园区有多少个？", "count"),
        ("首批园区有几大方面的特点？", "count"),
        ("政府工作报告是谁作的？", None),
        ("入选的园区里有多少已经动起来了？", None),  # 多少 without a classifier: "近半" answers it
        ("零碳园区是什么时候提出的？", None),  # any time expression may answer: no one kind
        ("他说零碳园区有哪三个特点？", "items"),
    ],
)
def test_expected_kind(question: str, kind: str | None) -> None:
    found = expected_kind(question)
    assert (found.name if found else None) == kind
    if kind == "items":
        assert found == AnswerKind("items", 3)


@pytest.mark.parametrize(
    ("kind", "answer", "ok"),
    [
        ("day", "3月5日", True),
        ("day", "2025年", False),
        ("month", "1月", True),
        ("month", "年底", True),
        ("year", "2026年", True),
        ("year", "今年", True),
        ("year", "工信部", False),
        ("count", "52个", True),
        ("count", "五大方面", True),
        ("count", "国家发改委", False),
        (None, "anything", True),
    ],
)
def test_fits(kind: str | None, answer: str, ok: bool) -> None:
    assert fits(AnswerKind(kind) if kind else None, answer) is ok


def test_a_number_of_things_is_a_list_of_that_many() -> None:
    three = AnswerKind("items", 3)
    assert fits(three, "低成本、低能耗、低碳排")
    assert not fits(three, "地缘分布均衡")
