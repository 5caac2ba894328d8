"""Gathering an enumeration's items for list questions (pure text functions)."""

from __future__ import annotations

from qa.lists import asked_count, gather_items, is_list_question

FEATURES = (
    "首批园区有五大方面特点，包括地缘分布均衡，各省份至少有1个园区入选；新能源消纳能力强，比例不低于50%；"
    "“以绿制绿”导向突出，形成良性循环；工作基础扎实；效益预期显著，排放仅约1/10。下一句。"
)


def spans(text: str, found: list[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in found]


def test_the_head_of_an_announced_item_gathers_every_head() -> None:
    start = FEATURES.index("地缘分布均衡")
    items = gather_items(FEATURES, start, start + len("地缘分布均衡"))
    assert spans(FEATURES, items) == [
        "地缘分布均衡",
        "新能源消纳能力强",
        "“以绿制绿”导向突出",
        "工作基础扎实",
        "效益预期显著",
    ]


def test_a_span_that_is_not_an_item_head_gathers_nothing() -> None:
    inside = FEATURES.index("各省份")
    assert gather_items(FEATURES, inside, inside + 3) == []  # the second clause of an item
    text = "中西部能源富集区倾向绿电直连，并承接产业转移；东部沿海地区则侧重虚拟电厂。"
    assert gather_items(text, 0, len("中西部能源富集区")) == []  # parallel clauses, no 包括/：
    one = "主要有：钢铁。"
    assert gather_items(one, 4, 6) == []  # one item is not a list


def test_list_questions_and_their_count() -> None:
    assert is_list_question("首批园区有哪五大方面特点？") and asked_count("首批园区有哪五大方面特点？") == 5
    assert is_list_question("到2030年要拓展到哪些行业？") and asked_count("到2030年要拓展到哪些行业？") is None
    assert not is_list_question("首批园区有多少个？")
