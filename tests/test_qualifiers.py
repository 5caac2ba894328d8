"""The batch/year rule: hand cases, including the ones it must leave alone."""

from __future__ import annotations

import pytest

from qa.qualifiers import Qualifier, chinese_number, contradicted, qualifiers


@pytest.mark.parametrize(
    ("text", "value"),
    [("二", 2), ("十", 10), ("十二", 12), ("二十三", 23), ("一百零五", 105), ("３", 3), ("12", 12), ("几", None)],
)
def test_chinese_numbers(text: str, value: int | None) -> None:
    assert chinese_number(text) == value


def test_ordinals_of_a_series_and_years_are_found() -> None:
    found = qualifiers("2025年12月，首批52个园区；第二批试点；第 3 届大会；第十二期")
    assert found == [
        Qualifier("批", 1, "首批"),
        Qualifier("批", 2, "第二批"),
        Qualifier("届", 3, "第 3 届"),
        Qualifier("期", 12, "第十二期"),
        Qualifier("年", 2025, "2025年"),
    ]
    assert qualifiers("首次提出；第二个问题；52个园区；120年历史") == []


@pytest.mark.parametrize(
    ("question", "sentence", "clash"),
    [
        (
            "第二批国家级零碳园区什么时候公布？",
            "2025年12月，国家发改委披露国内首批52个国家级零碳园区建设名单。",
            "第二批",
        ),
        ("第一批园区有几个？", "首批52个国家级零碳园区。", None),  # 首批 is 第一批
        ("第二批试点是什么？", "扎实开展国家碳达峰第二批试点。", None),
        ("第二批名单何时公布？", "名单将于明年公布。", None),  # no batch named: may rely on context
        ("2024年末哪个会议提出了零碳工厂？", "2025年政府工作报告提出零碳工厂。", "2024年"),
        ("2024年末哪个会议提出了零碳工厂？", "2024年末，全国工业和信息化工作会议提出。", None),
        ("1950年代鼓励哪种艺术？", "1950年代，官方鼓励社会主义现实主义。", None),
        ("第三届大会在哪里举行？", "第一届、第三届大会都在北京举行。", None),
    ],
)
def test_another_batch_or_year_contradicts(question: str, sentence: str, clash: str | None) -> None:
    found = contradicted(question, sentence)
    assert (found.text if found else None) == clash
