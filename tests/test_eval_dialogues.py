"""The dialogue evaluator on a scripted asker (no model): history, judging, summary, reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.eval_dialogues import (
    Dialogue,
    GoldTurn,
    evaluate_dialogues,
    is_dialogue_file,
    load_dialogues,
    standalone_changes,
    write_reports,
)
from qa.metrics import char_f1
from qa.types import Answer, Turn

DIALOGUE = Dialogue(
    "d1",
    (
        GoldTurn("首批国家级零碳园区是谁公布的？", ("国家发改委",), ("国家发改委披露",), ("first",)),
        GoldTurn(
            "一共有多少个？", ("52个",), ("首批52个",), ("follow-up", "ellipsis"), "首批国家级零碳园区一共有多少个？"
        ),
        GoldTurn("第二批呢？", (), (), ("follow-up", "ne", "unanswerable"), "第二批国家级零碳园区一共有多少个？"),
    ),
)


def scripted(replies: dict[str, tuple[str | None, bool]]):  # type: ignore[no-untyped-def]
    seen: list[tuple[str, int]] = []

    def ask(question: str, history: Sequence[Turn]) -> Answer:
        seen.append((question, len(history)))
        short, abstained = replies[question]
        resolved = "首批国家级零碳园区一共有多少个？" if question == "一共有多少个？" else ""
        text = "文章中没有找到相关内容。" if abstained else f"{short}\n…{short}…[1]"
        return Answer(question, text, abstained, "hybrid", (), short_answer=short, resolved_question=resolved)

    return ask, seen


def test_turns_are_asked_with_their_history_and_judged() -> None:
    ask, seen = scripted({
        "首批国家级零碳园区是谁公布的？": ("国家发改委", False),
        "一共有多少个？": ("52个", False),
        "第二批呢？": (None, True),
        "首批国家级零碳园区一共有多少个？": ("20个", False),  # the ceiling run: gold standalone questions
        "第二批国家级零碳园区一共有多少个？": ("52个", False),
    })  # fmt: skip
    report = evaluate_dialogues(ask, [DIALOGUE], standalone_questions=["孙捷是谁？", "零碳园区是什么？"])
    assert seen[:3] == [("首批国家级零碳园区是谁公布的？", 0), ("一共有多少个？", 1), ("第二批呢？", 2)]
    assert seen[3:] == [
        ("首批国家级零碳园区是谁公布的？", 0),
        ("首批国家级零碳园区一共有多少个？", 1),
        ("第二批国家级零碳园区一共有多少个？", 2),
    ]
    s = report.summary()
    ceiling = s["standalone_ceiling"]
    assert ceiling["first_turns"]["answer_hit"] == 1.0 and ceiling["follow_up_turns"]["answer_hit"] == 0.0
    assert ceiling["unanswerable_follow_ups_declined"] == 0.0
    assert s["first_turns"]["answer_hit"] == 1.0 and s["follow_up_turns"]["answer_hit"] == 1.0
    assert s["follow_up_turns"]["em"] == 1.0 and s["unanswerable_follow_ups_declined"] == 1.0
    unresolved = char_f1("第二批呢？", ["第二批国家级零碳园区一共有多少个？"])  # the scripted asker left it as asked
    assert s["resolution_f1"] == pytest.approx((1.0 + unresolved) / 2, abs=1e-4)
    assert s["gold_standalone_unchanged"] == 1.0 and s["resolve_ms_p50"] is not None


def test_a_wrong_answer_and_a_missed_decline_count_against() -> None:
    ask, _ = scripted({
        "首批国家级零碳园区是谁公布的？": ("国家发改委", False),
        "一共有多少个？": ("20个", False),
        "第二批呢？": ("52个", False),
    })  # fmt: skip
    s = evaluate_dialogues(ask, [DIALOGUE], ceiling=False).summary()
    assert s["standalone_ceiling"] is None
    assert s["follow_up_turns"]["answer_hit"] == 0.0 and s["unanswerable_follow_ups_declined"] == 0.0


def test_standalone_changes_are_listed() -> None:
    assert standalone_changes(["首批国家级零碳园区是谁公布的？", "一共有多少个？"]) == [
        ("一共有多少个？", "首批国家级零碳园区一共有多少个？")
    ]


def test_loading_recognising_and_writing(tmp_path: Path) -> None:
    path = tmp_path / "dialogues.jsonl"
    row = {
        "id": "d1",
        "tags": [],
        "turns": [{"q": "孙捷是谁？", "answers": ["孙捷"], "evidence": [], "tags": ["first"]}],
    }
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert is_dialogue_file(path) and load_dialogues(path)[0].turns[0].question == "孙捷是谁？"
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "g1", "question": "q", "answers": [], "evidence": [], "tags": []}\n', encoding="utf-8")
    assert not is_dialogue_file(gold)
    ask, _ = scripted({"孙捷是谁？": ("孙捷", False)})
    written = write_reports(evaluate_dialogues(ask, load_dialogues(path), "dialogues"), tmp_path / "out")
    assert [p.name for p in written] == ["dialogues.json", "dialogues.md"]
    assert json.loads(written[0].read_text(encoding="utf-8"))["turns_detail"][0]["hit"] is True
    path.write_text('{"id": "d1"}\n', encoding="utf-8")
    with pytest.raises(QAError, match="line 1"):
        load_dialogues(path)


@pytest.mark.slow
def test_dialogue_regression_floors(real_pipeline) -> None:  # type: ignore[no-untyped-def]
    """The real pipeline on eval/dialogues.jsonl; floors a little under the measured numbers
    (README, "Dialogues": first turns 0.907, follow-ups 0.896, 3.8 % false "not found", 0.883 of
    follow-ups right, unanswerable follow-ups declined 0.786, gold standalone questions unchanged 1.0).

    The unanswerable floor was 0.85 when the rewrites declined 13 of 14; asked as their gold
    standalone questions the reader declines only 5 of them (the ceiling below), so most of
    those declines were rewrites the reader could not read, not declines (docs/conversation.md,
    "Where the rest is lost"). It is now held to the measured 11 of 14, to the ceiling, and to
    the share of all follow-ups handled right, which a wrong rewrite cannot game."""
    import json as _json

    from tests.conftest import ROOT

    dialogues = load_dialogues(ROOT / "eval" / "dialogues.jsonl")
    gold = [_json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text("utf-8").splitlines()]
    report = evaluate_dialogues(lambda q, h: real_pipeline.ask(q, history=h), dialogues, standalone_questions=gold)
    write_reports(report, ROOT / "tests" / "artifacts" / "eval")
    s = report.summary()
    ceiling = s["standalone_ceiling"]
    assert s["first_turns"]["answer_hit"] >= 0.86, s
    assert s["follow_up_turns"]["answer_hit"] >= 0.87, s
    assert s["follow_up_turns"]["false_abstain_rate"] <= 0.06, s
    assert s["follow_ups_right"] >= 0.86, s
    assert s["unanswerable_follow_ups_declined"] >= 0.78, s
    assert s["unanswerable_follow_ups_declined"] >= ceiling["unanswerable_follow_ups_declined"], s
    assert s["gold_standalone_unchanged"] >= 0.98, s
    assert s["dependent_follow_ups_resolved"] >= 0.8, s
