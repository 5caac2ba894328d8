"""The kind of answer a question asks for (a day, a month, a year, an age, which ones, a count, a list, a title)."""

from __future__ import annotations

import pytest

from qa.answer_types import AnswerKind, expected_kind, fits, span_fits, trimmed


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
        ("他去世的时候多大年纪？", "age"),
        ("她几岁开始学琴？", "age"),
        ("这个湖有多大？", None),  # a size, not an age
        ("影响有多大？", None),
        ("首批是哪几个园区？", "which"),  # 几个 inside 哪几个 asks for names, not a count
        ("有哪些部门参与？", "which"),
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
        ("age", "35岁", True),
        ("age", "年近七旬", True),
        ("age", "1872年", False),  # a year, not an age
        ("age", "十四届", False),
        ("which", "浙江、江苏", True),
        ("which", "国家发改委披露国内首批52个", False),
        (None, "anything", True),
    ],
)
def test_fits(kind: str | None, answer: str, ok: bool) -> None:
    assert fits(AnswerKind(kind) if kind else None, answer) is ok


def test_a_number_of_things_is_a_list_of_that_many() -> None:
    three = AnswerKind("items", 3)
    assert fits(three, "低成本、低能耗、低碳排")
    assert not fits(three, "地缘分布均衡")


def test_a_quoted_abbreviation_is_a_list_whose_items_share_its_character() -> None:
    kind = expected_kind("零碳园区有哪“三低”特点？")
    assert kind == AnswerKind("items", 3, shared="低")
    assert fits(kind, "低成本、低能耗、低碳排")
    assert fits(kind, "零碳园区“低成本、低能耗、低碳排")  # judged from its opening quote
    assert not fits(kind, "地缘分布均衡、新能源消纳能力强、工作基础扎实")  # a list of three, not the 低 ones
    assert not fits(kind, "概念，借助零碳园区“低成本、低能耗、低碳排")  # more than one clause
    text = "借助零碳园区“低成本、低能耗、低碳排”的特点"
    start = text.index("零碳园区")
    assert trimmed(kind, text, start, text.index("”")) == (text.index("低成本"), text.index("”"))
    assert trimmed(AnswerKind("items", 3), text, start, text.index("”")) == (start, text.index("”"))


@pytest.mark.parametrize(
    ("question", "person"),
    [
        ("李强是什么职务？", "李强"),
        ("李晓锋的身份是什么？", "李晓锋"),
        ("孙捷还兼什么职务？", "孙捷"),
        ("孙捷担任什么？", "孙捷"),
        ("长鼻王是什么东西的名称？", None),  # 是什么 alone asks no post
        ("石山麟是什么集团的总裁？", None),
        ("他是什么职务？", None),  # a pronoun is resolved first (qa.conversation)
    ],
)
def test_a_question_about_a_post_wants_the_title_before_the_name(question: str, person: str | None) -> None:
    kind = expected_kind(question)
    assert (kind.person if kind is not None and kind.name == "title" else None) == person


def test_a_title_is_the_span_right_before_the_name() -> None:
    kind = AnswerKind("title", person="李强")
    text = "3月5日，十四届全国人大四次会议开幕，国务院总理李强作政府工作报告。"
    title = text.index("国务院总理")
    assert span_fits(kind, text, title, text.index("李强"))
    assert not span_fits(kind, text, title, title + 3)  # 国务院 does not reach the name
    assert not span_fits(kind, text, 0, text.index("，"))
