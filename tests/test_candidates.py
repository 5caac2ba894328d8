"""Follow-up candidates (``qa.candidates``): which readings a follow-up gets, and the pick."""

from __future__ import annotations

from qa.candidates import MARGIN, candidates, dialogue_topics, focus_document, last_answer, pick
from qa.types import Answer, Citation, Turn


def _turn(question: str, short: str | None = None, doc: str = "a.txt", abstained: bool = False) -> Turn:
    cite = Citation(1, doc, (1, 1), "c", 1.0, "……", "……", (0, 2), (0, 1) if short else None)
    answer = Answer(question, short or "……", abstained, "hybrid", (cite,), short_answer=short)
    return Turn(question, answer)


def test_a_standalone_question_is_one_candidate() -> None:
    history = [_turn("苏镜宇是在哪里踢球的？", "张家口足校")]
    got = candidates("漠河古莲机场总投资是多少？", history)
    assert [c.kind for c in got] == ["rewrite"] and got[0].resolution.question == "漠河古莲机场总投资是多少？"


def test_a_pronoun_gets_the_rewrite_as_typed_the_topic_and_the_answer() -> None:
    history = [_turn("哪位将领在1650年投降了清朝？", "李成栋")]
    got = candidates("他是哪里人？", history)
    kinds = [c.kind for c in got]
    assert kinds[0] == "rewrite" and "as-asked" in kinds
    questions = {c.kind: c.resolution.question for c in got}
    assert questions["as-asked"] == "他是哪里人？"
    assert any(c.resolution.question == "李成栋是哪里人？" for c in got)


def test_a_demonstrative_with_a_classifier_keeps_its_noun() -> None:
    """ "那场比赛" is not replaced half ("苏镜宇场比赛"): the topic goes in front."""
    history = [_turn("苏镜宇在哪一年首次登上中超赛场？", "2006年")]
    got = [c.resolution.question for c in candidates("那场比赛的对手是谁？", history)]
    assert "苏镜宇那场比赛的对手是谁？" in got
    assert not any("场比赛" in q and "那场比赛" not in q for q in got[1:])


def test_ne_gets_only_other_slot_swaps() -> None:
    """ "X呢？" is no question as typed: no as-asked, no topic in front; another slot swapped."""
    history = [_turn("苏镜宇的原名叫什么？", "苏博")]
    got = candidates("他的哥哥呢？", history)
    assert got[0].resolution.rule == "ne"
    assert all(c.kind in ("rewrite", "swap") for c in got)


def test_traditional_follow_ups_get_traditional_candidates() -> None:
    history = [_turn("慈禧太后的丈夫是哪位皇帝？", "咸丰帝")]
    got = candidates("他是哪一年駕崩的？", history)
    assert all("驾" not in c.resolution.question for c in got)
    assert any("咸豐帝" in c.resolution.question for c in got)


def test_earlier_questions_are_never_joined() -> None:
    history = [_turn("苏镜宇是在哪里踢球的？", "张家口足校"), _turn("他后来加入了哪支球队？", "天津泰达")]
    for c in candidates("几岁加入的？", history):
        assert c.resolution.question.count("？") <= 1 and "，" not in c.resolution.question


def test_the_dialogue_topic_comes_first_then_the_latest() -> None:
    history = [_turn("馬祖列島由哪個縣管轄？", "連江縣"), _turn("南竿鄉有多少人口？", "一萬")]
    assert dialogue_topics(history)[:2] == ["马祖列岛", "南竿乡"]


def test_the_focus_document_is_where_the_last_answer_came_from() -> None:
    assert focus_document([_turn("问题？", "答案", doc="馬祖列島.txt")]) == "馬祖列島.txt"
    assert focus_document([_turn("问题？", None, doc="x.txt", abstained=True)]) == ""
    assert focus_document([]) == ""
    assert last_answer([_turn("问题？", "連江縣")]) == "连江县"


def test_pick_needs_the_margin_and_takes_the_most_evidence() -> None:
    threshold = -2.0
    assert pick([None, None], threshold) is None
    assert pick([threshold + MARGIN - 0.1], threshold) is None  # answered, but not sure enough
    assert pick([threshold + MARGIN, 9.0, None, 3.0], threshold) == 1
    assert pick([5.0, 5.0], threshold) == 0  # a tie goes to the earlier, simpler one


def test_an_api_history_entry_keeps_the_document_it_cited() -> None:
    item = {
        "question": "馬祖列島由哪個縣管轄？",
        "answer": "連江縣",
        "short_answer": "連江縣",
        "citations": [{"doc": "other.txt", "answer_span": None}, {"doc": "馬祖列島.txt", "answer_span": [3, 6]}],
    }
    assert focus_document([Turn.from_json(item)]) == "馬祖列島.txt"
    assert focus_document([Turn.from_json({**item, "citations": "bad"})]) == ""
