"""Training code on a tiny made-up set: examples, negatives, a few steps, resume (never a real run)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from qa.splits import is_validation
from train.reader_data import Question, delete_answer_sentences, load_side, swap_question

CONTEXT = "首批国家级零碳园区共有52个。名单由国家发改委公布。浙江计划建设20个省级零碳园区。"


def tiny_squad(path: Path) -> Path:
    """Articles on both sides of the split, each with two answerable questions."""
    train_ids = [f"T{i}" for i in range(200) if not is_validation("tiny", f"T{i}")][:4]
    val_ids = [f"T{i}" for i in range(200) if is_validation("tiny", f"T{i}")][:2]
    data = []
    for k, aid in enumerate(train_ids + val_ids):
        context = f"第{k}篇。" + CONTEXT
        qas = [
            {
                "id": f"{aid}-1",
                "question": "首批国家级零碳园区有多少个？",
                "answers": [{"text": "52个", "answer_start": context.index("52个")}],
            },
            {
                "id": f"{aid}-2",
                "question": "名单由哪个部门公布？",
                "answers": [{"text": "国家发改委", "answer_start": context.index("国家发改委")}],
            },
        ]
        data.append({"id": aid, "title": aid, "paragraphs": [{"context": context, "qas": qas}]})
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), encoding="utf-8")
    return path


def test_split_sides_share_no_article(tmp_path: Path) -> None:
    f = tiny_squad(tmp_path / "tiny_dev.json")
    train, val = load_side([f], validation=False), load_side([f], validation=True)
    assert len(train.paragraphs) == 4 and len(val.paragraphs) == 2
    assert not set(train.article_of) & set(val.article_of)
    q = train.questions[0]
    assert train.paragraphs[q.paragraph][q.answer_start :].startswith(q.answers[0])


def test_deleting_the_answer_sentence_leaves_no_answer() -> None:
    rest = delete_answer_sentences(CONTEXT + "其他内容还有很多很多很多很多。" * 2, ["52个"])
    assert rest is not None and "52个" not in rest and "国家发改委" in rest
    assert delete_answer_sentences("只有一句52个。", ["52个"]) is None  # too little left


def test_swapped_question_asks_for_something_the_passage_lacks() -> None:
    q = Question("q", "浙江计划建设20个省级零碳园区吗？", ("20个",), 0, 0)
    swapped = swap_question(q, CONTEXT, {}, random.Random(0))
    assert swapped is not None and swapped != q.question
    assert "20个" not in swapped  # the number was changed to one the passage does not have


@pytest.mark.slow
def test_training_runs_a_few_steps_writes_weights_and_resumes(tmp_path: Path) -> None:
    from train.train_reader import main

    f = tiny_squad(tmp_path / "tiny_dev.json")
    args = ["--data", str(f), "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    args += ["--report", str(tmp_path / "report.json"), "--max-steps", "2", "--tokens-per-batch", "512"]
    report = main(args)
    assert report["steps"] == 2 and (tmp_path / "out" / "reader.safetensors").is_file()
    assert json.loads((tmp_path / "report.json").read_text())["validation"]["questions"] == 4
    assert len((tmp_path / "work" / "log.jsonl").read_text().splitlines()) == 2
    again = main(args)  # resumes at step 2: no more steps
    assert again["steps"] == 2 and len((tmp_path / "work" / "log.jsonl").read_text().splitlines()) == 2


def test_threshold_is_the_highest_that_keeps_false_abstentions_under_the_cap() -> None:
    from train.calibrate_reader import choose_threshold, rates

    evidence = {
        "a": {"answerable": [float(x) for x in range(1, 21)], "withheld": [0.5, 1.5, 2.5, 9.0], "unanswerable": []},
        "b": {"answerable": [3.0] * 10, "withheld": [], "unanswerable": [0.0, 5.0]},
    }
    t = choose_threshold(evidence, 0.05)
    assert t == 2.0  # at 2.0 set a declines 1 of 20 (5 %); at 3.0 it would decline 2 of 20
    r = rates(evidence, t)
    assert r["a"]["false_abstain_rate"] == 0.05 and r["a"]["withheld_declined"] == 0.5
    assert r["b"]["false_abstain_rate"] == 0.0 and r["b"]["unanswerable_declined"] == 0.5
    assert r["b"]["withheld_declined"] is None
