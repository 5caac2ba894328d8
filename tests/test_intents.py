"""Chat intents: recognised in both scripts and English; replies built from the corpus."""

from __future__ import annotations

import pytest

from qa.intents import cloze_question, detect_intent, example_questions, intent_answer, key_sentence
from qa.types import Chunk


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("你好", "greeting"),
        ("您好！", "greeting"),
        ("Hello!", "greeting"),
        ("謝謝", "thanks"),
        ("thank you very much", "thanks"),
        ("你能做什么？", "help"),
        ("你是誰？", "help"),
        ("Who are you?", "help"),
        ("总结一下这篇文章的主要内容", "summary"),
        ("請概括一下全文", "summary"),
        ("這篇文章講了什麼？", "summary"),
        ("文章的主要内容是什么？", "summary"),
        ("What is the article about?", "summary"),
        ("李晓锋总结了什么？", ""),
        ("你好，首批园区有多少个？", ""),
        ("首批国家级零碳园区有多少个？", ""),
        ("谁能做什么来推进零碳园区？", ""),
    ],
)
def test_intents_are_recognised(text: str, kind: str) -> None:
    assert detect_intent(text) == kind


def chunk(text: str, n: int, doc: str = "a.txt") -> Chunk:
    return Chunk(f"{doc}#{n}", doc, n * 100, n * 100 + len(text), (n, n), text, text)


PARTS = [
    chunk("首批园区有五大特点。国家发改委披露国内首批52个国家级零碳园区建设名单，计划在2027年建成。园区很多。", 1),
    chunk("浙江等省份还提出量化目标，计划今年启动建设20个省级零碳园区。这是目标。", 2),
    chunk("2025年12月，名单公布。", 3),
]


def test_cloze_questions_ask_for_the_number_or_date() -> None:
    assert (
        cloze_question("浙江等省份还提出量化目标，计划今年启动建设20个省级零碳园区。")
        == "计划今年启动建设多少个省级零碳园区？"
    )
    assert cloze_question("目前全国各类园区约1.5万个。") == "目前全国各类园区有多少个？"
    assert cloze_question("会议在北京召开，讨论了很多事情。") is None
    assert example_questions(PARTS) == [
        "国家发改委披露国内首批多少个国家级零碳园区建设名单？",
        "计划今年启动建设多少个省级零碳园区？",
    ]


def test_key_sentence_is_the_centre_of_its_passage() -> None:
    text = "零碳园区很重要。零碳园区建设需要零碳能源和零碳工厂。天气不错。"
    s, e = key_sentence(text)  # type: ignore[misc]
    assert text[s:e] == "零碳园区建设需要零碳能源和零碳工厂。"


def test_summary_cites_the_key_sentence_of_each_part() -> None:
    answer = intent_answer("总结一下这篇文章", "summary", PARTS, "hybrid")
    assert not answer.abstained and answer.intent == "summary" and answer.answer.startswith("这篇文章主要讲了：")
    assert [c.n for c in answer.citations] == [1, 2, 3] and all(c.highlight for c in answer.citations)
    for c in answer.citations:
        s, e = c.highlight  # type: ignore[misc]
        assert f"{c.text[s:e]}[{c.n}]" in answer.answer
    traditional = intent_answer("總結一下這篇文章", "summary", PARTS, "hybrid")
    assert traditional.answer.startswith("這篇文章主要講了：") and "國家發改委" in traditional.answer


def test_greeting_and_help_say_what_the_bot_answers_with_examples() -> None:
    hello = intent_answer("你好", "greeting", PARTS, "hybrid")
    assert hello.answer.startswith("你好！") and "计划今年启动建设多少个省级零碳园区？" in hello.answer
    assert not hello.abstained and hello.citations == () and hello.to_json()["intent"] == "greeting"
    english = intent_answer("What can you do?", "help", PARTS, "hybrid")
    assert "citations" in english.answer and "a.txt" in english.answer
    assert intent_answer("謝謝", "thanks", PARTS, "hybrid").answer.startswith("不客氣")
