"""End to end with the real model and a real index: questions in both scripts, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.normalize import match_key
from qa.types import Turn
from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.slow

CASES = [
    ("首批国家级零碳园区有多少个？", "首批52个国家级零碳园区", (14, 14)),
    ("首批國家級零碳園區有多少個？", "首批52个国家级零碳园区", (14, 14)),
    ("零碳工厂到2030年要拓展到哪些行业？", "逐步拓展至钢铁、有色金属、石化化工、建材、纺织", (18, 22)),
    ("到2030年零碳工廠要擴展到哪些行業？", "逐步拓展至钢铁、有色金属、石化化工、建材、纺织", (18, 22)),
    ("李晓锋是哪所大学的教授？", "清华大学建筑学院教授李晓锋", (8, 9)),
    ("浙江计划今年建设多少个省级零碳园区？", "20个省级零碳园区", (16, 16)),
    ("什么是零碳园区与零碳工厂建设？", "是指通过技术清洁创新", (5, 7)),
]


@pytest.mark.parametrize("question,evidence,lines", CASES)
def test_right_passage_in_top_3_with_line_numbers(real_pipeline, question: str, evidence: str, lines) -> None:
    answer = real_pipeline.ask(question, top_k=3)
    found = [c for c in answer.citations if match_key(evidence) in match_key(c.text)]
    assert found, [c.text[:30] for c in answer.citations]
    first, last = found[0].lines
    assert first <= lines[0] and last >= lines[1], (found[0].lines, lines)


def test_52_parks_answer_is_highlighted_in_the_users_script(real_pipeline) -> None:
    simp = real_pipeline.ask("首批国家级零碳园区有多少个？")
    trad = real_pipeline.ask("首批國家級零碳園區有多少個？")
    for answer, word in ((simp, "国家级"), (trad, "國家級")):
        assert not answer.abstained and "52" in answer.answer and word in answer.answer
        c = answer.citations[0]
        s, e = c.highlight
        assert "52" in c.text[s:e] and c.lines == (14, 14)
        raw_line = (CORPUS / c.doc).read_text(encoding="utf-8").split("\n")[13]
        assert "首批52個國家級零碳園區" in raw_line


@pytest.mark.parametrize(
    "question,evidence",
    [
        ("Who delivered this year's government work report?", "国务院总理李强作政府工作报告"),
        ("How many parks are in the first national batch of zero-carbon parks?", "首批52个国家级零碳园区"),
        ("Which province has set numerical targets for zero-carbon parks?", "浙江等省份还提出量化目标"),
    ],
)
def test_english_questions_find_the_chinese_sentence(real_pipeline, question: str, evidence: str) -> None:
    """Searched with the Chinese words CC-CEDICT gives for their words (qa.crosslingual)."""
    answer = real_pipeline.ask(question, top_k=3)
    assert not answer.abstained and evidence in answer.answer, answer.answer


def test_an_english_question_about_nothing_in_the_article_is_declined(real_pipeline) -> None:
    answer = real_pipeline.ask("How much funding does each of them get?")  # 资金, 经费…: never in the article
    assert answer.abstained, answer.answer
    history = [Turn("Which province has set numerical targets for zero-carbon parks?", None)]
    assert real_pipeline.ask("What about Guangdong?", history=history).abstained  # 广东 is never named


@pytest.mark.parametrize("question", ["明天北京天气怎么样？", "红烧肉怎么做才好吃？", "零碳园区的补贴标准是多少？"])
def test_unsupported_questions_are_declined_with_related_passages(real_pipeline, question: str) -> None:
    answer = real_pipeline.ask(question)
    assert answer.abstained and answer.answer == "文章中没有找到相关内容。" and answer.citations


def test_all_modes_answer(real_pipeline) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        a = real_pipeline.ask("浙江计划建设多少家绿色工厂？", mode=mode)
        assert a.mode == mode and any("150" in c.text for c in a.citations)


def run_qa(*args: str, index_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "QA_CORPUS_DIR": str(CORPUS)}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        input=stdin,
    )


def test_cli_ask_json_and_file(tmp_path: Path) -> None:
    out = run_qa("ask", "首批國家級零碳園區有多少個？", "--json", index_dir=tmp_path / "idx")
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert {"question", "answer", "short_answer", "abstained", "mode", "latency_ms", "timings", "citations"} <= set(obj)
    assert "52" in obj["short_answer"] and len(obj["short_answer"]) <= 6
    assert obj["citations"][0]["lines"] == [14, 14] and "52" in obj["answer"]
    qfile = tmp_path / "q.txt"
    qfile.write_text("首批国家级零碳园区有多少个？\n\n浙江计划建设多少家绿色工厂？\n   \n", encoding="utf-8")
    out = run_qa("ask", "--file", str(qfile), "--json", index_dir=tmp_path / "idx")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 2 and "150" in json.dumps(rows[1], ensure_ascii=False)
    assert "rebuilt" not in out.stderr  # the index from the first call was reused


def test_cli_chat_from_a_dialogue_file_and_interactively(tmp_path: Path) -> None:
    lines = [
        {"dialogue": "a", "q": "首批国家级零碳园区是谁公布的？"},
        {"dialogue": "a", "q": "一共有多少个？"},
        {"dialogue": "b", "q": "一共有多少个？"},  # a new dialogue: nothing to lean on
    ]
    dialogues = tmp_path / "dialogues.jsonl"
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n" + "not json\n"
    dialogues.write_text(text, encoding="utf-8")
    out = run_qa("chat", "--file", str(dialogues), "--json", index_dir=tmp_path / "idx")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r.get("dialogue") for r in rows] == ["a", "a", "b", None]
    assert rows[1]["resolved_question"] == "首批国家级零碳园区一共有多少个？" and rows[1]["short_answer"] == "52个"
    assert rows[2]["resolved_question"] == "一共有多少个？"
    assert "Line 4" in rows[3]["error"] and "Traceback" not in out.stderr
    typed = "首批国家级零碳园区是谁公布的？\n一共有多少个？\n/new\n/quit\n一共有多少个？\n"
    out = run_qa("chat", stdin=typed, index_dir=tmp_path / "idx")
    assert out.returncode == 0, out.stderr
    assert "按上下文理解为：首批国家级零碳园区一共有多少个？" in out.stdout and "〖52个〗" in out.stdout
    assert "新对话 / new conversation" in out.stdout and out.stdout.count("〖") == 2  # /quit ended it


def test_cli_takes_any_question_length_and_stdin(tmp_path: Path) -> None:
    """A 20,000-character question on the command line used to kill the process in onnxruntime's
    import (SIGSEGV past ~32 KB of arguments); it is now cut to 500 characters with the notice."""
    out = run_qa("ask", "零碳" * 10_000, "--json", index_dir=tmp_path / "idx")
    assert out.returncode == 0, (out.returncode, out.stderr[-500:])
    assert "20000" in json.loads(out.stdout)["notice"]
    out = run_qa("ask", "-", "--json", stdin="首批国家级零碳园区有多少个？\n", index_dir=tmp_path / "idx")
    assert out.returncode == 0 and json.loads(out.stdout)["short_answer"] == "52个", out.stderr


def test_cli_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    out = run_qa("ask", "   ", index_dir=tmp_path / "idx")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "问题为空" in out.stderr and "empty" in out.stderr
    out = run_qa("ask", "零碳", "--corpus", str(tmp_path / "missing"), index_dir=tmp_path / "idx2")
    assert out.returncode == 1 and "Traceback" not in out.stderr and "Corpus folder not found" in out.stderr


def test_cli_corpus_check_reports_the_garbled_spans() -> None:
    out = run_qa("corpus", "check", index_dir=Path("/nonexistent"))
    assert out.returncode == 0
    assert "zero-carbon-parks.txt:9:25" in out.stdout and "zero-carbon-parks.txt:15:232" in out.stdout


# ---------------------------------------------------------------- the trained reader, end to end
def test_52_is_the_short_answer_marked_inside_the_highlighted_sentence(real_pipeline) -> None:
    for question, short in (("首批国家级零碳园区有多少个？", "52个"), ("首批國家級零碳園區有多少個？", "52個")):
        result = real_pipeline.run(question)
        answer = result.answer
        assert result.reading.reader == "model" and answer.short_answer == short, answer.short_answer
        assert answer.answer.startswith(short + "\n")
        cited = [c for c in answer.citations if c.answer_span]
        assert len(cited) == 1 and cited[0].lines == (14, 14)
        (s, e), (a, b) = cited[0].highlight, cited[0].answer_span
        assert s <= a < b <= e and cited[0].text[a:b] == short
        assert set(result.timings.to_json()) == {"retrieve_ms", "read_ms", "total_ms"}


@pytest.mark.parametrize(
    "question",
    [
        "第二批国家级零碳园区什么时候公布？",
        "第二批國家級零碳園區什麼時候公佈？",
        "首批零碳园区名单中有上海的园区吗？",
        "零碳园区的补贴标准是多少？",
    ],
)
def test_the_reader_declines_what_the_article_does_not_say(real_pipeline, question: str) -> None:
    answer = real_pipeline.ask(question)
    assert answer.abstained and answer.short_answer is None and answer.citations


def test_reader_off_gives_sentence_answers(real_pipeline) -> None:
    result = real_pipeline.run("首批国家级零碳园区有多少个？", reader=False)
    assert result.reading.reader == "heuristic" and result.answer.short_answer is None
    assert "52" in result.answer.answer and result.answer.answer.endswith("]")


def test_follow_ups_are_answered_in_their_conversation(real_pipeline) -> None:
    first = real_pipeline.ask("首批国家级零碳园区是谁公布的？")
    history = [Turn(first.question, first)]
    second = real_pipeline.ask("一共有多少个？", history=history)
    assert second.question == "一共有多少个？" and second.resolved_question == "首批国家级零碳园区一共有多少个？"
    assert second.short_answer == "52个" and second.to_json()["resolved_question"] == second.resolved_question
    history.append(Turn(second.question, second))
    assert real_pipeline.ask("第二批呢？", history=history).abstained  # the article names only the first batch
    alone = real_pipeline.ask("孙捷是哪家公司的首席可持续发展官？", history=history)
    assert alone.resolved_question == "" and alone.to_json()["resolved_question"] == alone.question


def test_a_follow_up_about_a_place_the_article_never_names_is_declined(real_pipeline) -> None:
    first = real_pipeline.ask("浙江计划今年启动建设多少家绿色工厂？")
    assert first.short_answer == "150家"
    follow = real_pipeline.ask("江苏呢？", history=[Turn(first.question, first)])
    assert follow.resolved_question == "江苏计划今年启动建设多少家绿色工厂？" and follow.abstained


def test_greeting_examples_are_answered_by_the_article(real_pipeline) -> None:
    hello = real_pipeline.run("你好")
    assert hello.answer.intent == "greeting" and not hello.answer.abstained and hello.hits == ()
    examples = [line[2:] for line in hello.answer.answer.splitlines() if line.startswith("- ")]
    assert len(examples) == 3
    for question in examples:
        answer = real_pipeline.ask(question)
        assert not answer.abstained and answer.short_answer, (question, answer.answer)


def test_a_summary_cites_every_part_of_the_article(real_pipeline) -> None:
    answer = real_pipeline.ask("总结一下这篇文章的主要内容")
    assert answer.intent == "summary" and not answer.abstained
    lines = [c.lines for c in answer.citations]
    assert len(lines) >= 5 and lines == sorted(lines) and lines[0][0] == 1 and lines[-1][1] >= 18
    follow = real_pipeline.ask("一共有多少个？", history=[Turn("你好", real_pipeline.ask("你好"))])
    assert follow.resolved_question == ""  # a greeting gives a follow-up nothing to lean on


def test_a_list_question_gets_every_item(real_pipeline) -> None:
    answer = real_pipeline.ask("首批园区有哪五大方面特点？")
    assert answer.short_answer == "地缘分布均衡、新能源消纳能力强、“以绿制绿”导向突出、工作基础扎实、效益预期显著"
    cited = next(c for c in answer.citations if c.answer_span)
    (a, b), (s, e) = cited.answer_span, cited.highlight
    assert s <= a < b <= e and cited.text[a:b].startswith("地缘分布均衡") and cited.text[a:b].endswith("效益预期显著")


def test_pipeline_run_is_thread_safe(real_pipeline) -> None:
    """Four threads asking at once get exactly the answers one thread gets (the UI and the
    JSON API call ``run`` from several threads without a lock of their own)."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [
        "首批国家级零碳园区有多少个？",
        "首批國家級零碳園區有多少個？",
        "浙江计划今年启动建设多少家绿色工厂？",
        "孙捷是哪家公司的首席可持续发展官？",
        "第二批国家级零碳园区什么时候公布？",
        "How many national zero-carbon parks are in the first batch?",
        "总结一下这篇文章",
        "首批园区有哪五大方面特点？",
    ] * 3
    modes = ["hybrid", "dense", "bm25"]
    serial = [real_pipeline.ask(q, mode=modes[i % 3]) for i, q in enumerate(questions)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda iq: real_pipeline.ask(iq[1], mode=modes[iq[0] % 3]), enumerate(questions)))
    assert parallel == serial


def test_a_question_about_the_others_never_gets_the_one_set_aside(real_pipeline) -> None:
    """ "另外四个部门是哪些？" two turns after "工信部": the article names no other department."""
    from qa.types import Turn

    history: list[Turn] = []
    for question in ("零碳工厂建设的指导意见是哪些部门发的？", "什么时候印发的？"):
        history.append(Turn(question, real_pipeline.ask(question, history=history)))
    assert history[0].answer.short_answer == "工信部"
    others = real_pipeline.ask("另外四个部门是哪些？", history=history)
    assert others.abstained and others.short_answer is None
