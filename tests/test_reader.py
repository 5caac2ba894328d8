"""Readers: window choice, score combination, configuration, and the shipped model (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.reader import (
    DEFAULT_READER_DIR,
    HeuristicReader,
    ModelReader,
    ReaderConfig,
    choose_windows,
    combined_score,
    configured_reader_choice,
    open_reader,
    window_evidence,
)
from qa.reader_inputs import SpanScore
from qa.reader_net import READER_CONFIG, READER_FILE
from qa.types import Chunk, Hit

OFFSETS = [[(i, i + 1) for i in range(100)], [(i, i + 1) for i in range(30)]]


def test_windows_centre_on_the_best_sentences_and_skip_covered_ones() -> None:
    order = [(0, 50, 52), (0, 51, 53), (1, 0, 5), (0, 0, 3)]
    wins = choose_windows(order, OFFSETS, budget=20, max_windows=3)
    assert wins[0] == (0, 41, 61)  # 20 tokens around tokens 50-51
    assert wins[1] == (1, 0, 20)  # the second sentence lies inside the first window: skipped
    assert wins[2] == (0, 0, 20)  # clipped at the passage start
    assert len(choose_windows(order, OFFSETS, budget=20, max_windows=1)) == 1


def test_window_never_runs_past_the_passage_end() -> None:
    assert choose_windows([(1, 28, 30)], OFFSETS, budget=20, max_windows=3) == [(1, 10, 30)]


def test_evidence_is_span_against_null_plus_has_answer() -> None:
    assert window_evidence(SpanScore(0, 1, score=6.0, null=2.0, has_answer=1.5)) == pytest.approx(5.5)


def test_rank_breaks_near_ties_but_not_clear_reader_wins() -> None:
    assert combined_score(3.0, 0, 1.0) > combined_score(3.2, 1, 1.0)
    assert combined_score(3.0, 0, 1.0) < combined_score(5.0, 2, 1.0)
    assert combined_score(3.0, 0, 0.0) == 3.0


def test_config_reads_calibrated_values_next_to_the_weights(tmp_path: Path) -> None:
    (tmp_path / READER_CONFIG).write_text(json.dumps({"runtime": {"threshold": 1.25, "max_windows": 2, "x": 1}}))
    cfg = ReaderConfig.from_folder(tmp_path)
    assert cfg.threshold == 1.25 and cfg.max_windows == 2 and cfg.read_hits == ReaderConfig().read_hits
    assert ReaderConfig.from_folder(tmp_path / "missing") == ReaderConfig()
    (tmp_path / READER_CONFIG).write_text(json.dumps({"runtime": {"check_qualifiers": False}}))
    assert ReaderConfig.from_folder(tmp_path).check_qualifiers is False
    (tmp_path / READER_CONFIG).write_text(json.dumps({"runtime": {"check_qualifiers": "false"}}))
    assert ReaderConfig.from_folder(tmp_path).check_qualifiers is False


def test_reader_choice_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_READER", "OFF")
    assert configured_reader_choice() == "off"
    assert isinstance(open_reader(), HeuristicReader)
    monkeypatch.setenv("QA_READER", "maybe")
    with pytest.raises(QAError):
        configured_reader_choice()


def test_missing_reader_weights_are_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_READER_MODEL", str(tmp_path))
    with pytest.raises(QAError) as info:
        open_reader("on")
    assert "make train-reader" in info.value.en and "QA_READER=off" in info.value.en


def test_the_shipped_reader_is_small_and_described() -> None:
    weights = DEFAULT_READER_DIR / READER_FILE
    assert weights.is_file() and weights.stat().st_size <= 50 * 1024 * 1024
    assert (DEFAULT_READER_DIR / "MODEL_CARD.md").is_file()
    cfg = json.loads((DEFAULT_READER_DIR / READER_CONFIG).read_text(encoding="utf-8"))
    assert {"trainable_layers", "runtime", "base_model_sha256"} <= set(cfg)


def chunk_hit(text: str, rank: int = 1) -> Hit:
    chunk = Chunk(f"doc#{rank}", "doc", 0, len(text), (rank, rank), text, text)
    return Hit(chunk, 1.0 / rank, rank)


P1 = "2025年12月，国家发改委披露国内首批52个国家级零碳园区建设名单，计划在2027年至2030年期间陆续建成。"
P2 = "浙江等省份还提出量化目标，计划今年启动建设20个省级零碳园区、150家绿色工厂。"
P3 = "远景科技集团首席可持续发展官孙捷告诉第一财经记者，零碳园区实际上是一个绿色产业集群的概念。"


@pytest.fixture(scope="module")
def model_reader():  # type: ignore[no-untyped-def]
    return open_reader("on", progress=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question,expected",
    [
        ("首批国家级零碳园区有多少个？", "52个"),
        ("浙江计划今年启动建设多少家绿色工厂？", "150家"),
        ("孙捷是哪家公司的首席可持续发展官？", "远景科技集团"),
        ("首批国家级零碳园区计划在什么时候建成？", "2027年至2030年"),
    ],
)
def test_shipped_reader_finds_the_exact_answer(model_reader, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    hits = [chunk_hit(P3, 1), chunk_hit(P1, 2), chunk_hit(P2, 3)]
    reading = model_reader.read(question, hits)
    assert reading.reader == "model" and not reading.abstained and reading.span is not None
    text = hits[reading.span.hit].chunk.text[reading.span.start : reading.span.end]
    assert expected in text and len(text) <= len(expected) + 4, text


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "第二批国家级零碳园区什么时候公布？",
        "红烧肉怎么做才好吃？",
        "零碳园区的补贴标准是多少？",
    ],
)
def test_shipped_reader_declines_what_the_passages_do_not_say(model_reader, question: str) -> None:  # type: ignore[no-untyped-def]
    hits = [chunk_hit(P1, 1), chunk_hit(P2, 2)]
    assert model_reader.read(question, hits).abstained, question


def test_english_questions_get_the_heuristic_reading(tmp_path: Path) -> None:
    """The reader was trained on Chinese questions; an English one keeps the sentence answer."""
    from qa.reader import ModelReader

    reader = ModelReader.__new__(ModelReader)  # no session needed: the fallback returns first
    reader.config = ReaderConfig()
    hits = [chunk_hit(P1, 1)]
    reading = reader.read("How many national zero-carbon parks are in the first batch?", hits)
    assert reading.reader == "heuristic" and reading.span is None


@pytest.mark.slow
def test_the_qualifier_rule_is_what_declines_another_batch(model_reader) -> None:  # type: ignore[no-untyped-def]
    """Without the rule the reader reads 2025年 out of the first batch's sentence."""
    from dataclasses import replace

    hits = [chunk_hit(P1, 1), chunk_hit(P2, 2)]
    question = "第二批国家级零碳园区什么时候公布？"
    unchecked = ModelReader.__new__(ModelReader)
    unchecked.__dict__.update(model_reader.__dict__)
    unchecked.config = replace(model_reader.config, check_qualifiers=False)
    reading = unchecked.read(question, hits)
    assert not reading.abstained and reading.span is not None
    assert model_reader.read(question, hits).abstained


P_REPORT = "3月5日，十四届全国人大四次会议开幕，国务院总理李强作政府工作报告。"
P_LAST_YEAR = "2025年政府工作报告在介绍全年工作任务时提出，扎实开展国家碳达峰第二批试点，建立一批零碳园区、零碳工厂。"


@pytest.mark.slow
def test_a_day_question_gets_a_day_not_a_year(model_reader) -> None:  # type: ignore[no-untyped-def]
    """Asked 哪天, the reader alone reads "2025年" out of the 2025 report's sentence; the
    answer-kind rule takes the best span that is a day, from whichever window has one."""
    from dataclasses import replace

    hits = [chunk_hit(P_LAST_YEAR, 1), chunk_hit(P_REPORT, 2)]
    question = "今年政府工作报告是哪天作的？"

    def said(reader) -> str:  # type: ignore[no-untyped-def]
        reading = reader.read(question, hits)
        assert not reading.abstained and reading.span is not None
        return hits[reading.span.hit].chunk.text[reading.span.start : reading.span.end]

    unkinded = ModelReader.__new__(ModelReader)
    unkinded.__dict__.update(model_reader.__dict__)
    unkinded.config = replace(model_reader.config, answer_kind_spans=False)
    assert said(unkinded) == "2025年"
    assert said(model_reader) == "3月5日"


P_SUN = (
    "远景科技集团首席可持续发展官、零碳综合能源产品线总裁孙捷告诉第一财经记者，零碳园区实际上是一个绿色产业集群的概念。"
)


def _said(reader, question: str, hits: list[Hit], avoid: tuple[str, ...] = ()) -> str | None:  # type: ignore[no-untyped-def]
    reading = reader.read(question, hits, avoid=avoid)
    if reading.abstained or reading.span is None:
        return None
    return hits[reading.span.hit].chunk.text[reading.span.start : reading.span.end]


@pytest.mark.slow
def test_the_reader_reads_past_the_answers_to_avoid(model_reader) -> None:  # type: ignore[no-untyped-def]
    """ "除此之外呢？": the next best span that is none of the answers already given."""
    hits = [chunk_hit(P_SUN, 1)]
    question = "孙捷在远景科技集团担任什么职务？"
    first = _said(model_reader, question, hits)
    assert first is not None and "首席可持续发展官" in first
    second = _said(model_reader, question, hits, avoid=(first,))
    assert second is not None and second not in first and first not in second, second


@pytest.mark.slow
def test_a_post_is_the_title_before_the_name(model_reader) -> None:  # type: ignore[no-untyped-def]
    """The reader alone finds 国务院总理 for "李强是什么职务？" but too unsure to say it; the
    title right before the name is answer enough."""
    from dataclasses import replace

    hits = [chunk_hit(P_REPORT, 1)]
    unkinded = ModelReader.__new__(ModelReader)
    unkinded.__dict__.update(model_reader.__dict__)
    unkinded.config = replace(model_reader.config, answer_kind_spans=False)
    assert _said(unkinded, "李强是什么职务？", hits) is None
    assert _said(model_reader, "李强是什么职务？", hits) == "国务院总理"
    assert _said(model_reader, "张伟是什么职务？", hits) is None  # no such name: the threshold decides


@pytest.mark.slow
def test_a_batched_read_equals_reading_each_question_alone(model_reader) -> None:  # type: ignore[no-untyped-def]
    """The candidates of a follow-up are read in one ONNX run: same spans, same evidence."""
    hits = [chunk_hit(P3, 1), chunk_hit(P1, 2), chunk_hit(P2, 3)]
    questions = ["首批国家级零碳园区有多少个？", "孙捷是哪家公司的首席可持续发展官？", "红烧肉怎么做才好吃？"]
    batched = model_reader.read_many([(q, hits, ()) for q in questions])
    for question, together in zip(questions, batched, strict=True):
        alone = model_reader.read(question, hits)
        assert (together.abstained, together.span.hit, together.span.start, together.span.end) == (
            alone.abstained,
            alone.span.hit,
            alone.span.start,
            alone.span.end,
        )
        assert together.span.score == pytest.approx(alone.span.score, abs=1e-3)
