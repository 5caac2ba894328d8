"""The eval runner: loaders, hit rules, metric aggregation, cached indexes, reports, CLI.

Fast tests use the FakeEncoder on tiny fixture files; ``slow`` tests run the real model
on the gold set and on a sample of each public benchmark.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import evaluate as ev
from qa.errors import QAError
from qa.metrics import precision_recall, recall_at_k
from qa.pipeline import Pipeline
from qa.types import Chunk
from tests.conftest import ARTIFACTS, CORPUS, ROOT, SHARED_BENCHMARKS, FakeEncoder

MODES = ["hybrid", "dense", "bm25"]

SQUAD = {
    "version": "test",
    "data": [
        {
            "title": "长城",
            "id": "A1",
            "paragraphs": [
                {
                    "id": "A1-0",
                    "context": "長城是中國古代的軍事防禦工程。長城的修築歷史可上溯到西周時期。",
                    "qas": [
                        {"id": "q1", "question": "长城是什么工程？", "answers": [{"text": "軍事防禦工程"}]},
                        {"id": "q2", "question": "长城最早修于什么时期？", "answers": [{"text": "西周時期"}]},
                    ],
                },
                {
                    "id": "A1-1",
                    "context": "明长城东起鸭绿江，西至嘉峪关，总长约8851公里。",
                    "qas": [{"id": "q3", "question": "明长城总长多少公里？", "answers": [{"text": "8851公里"}]}],
                },
            ],
        },
        {
            "title": "长城",  # same title as the first article: ids must stay unique
            "id": "A2",
            "paragraphs": [
                {
                    "id": "A2-0",
                    "context": "熊猫是中国特有的哺乳动物，主要以竹子为食。",
                    "qas": [
                        {"id": "q4", "question": "熊猫主要吃什么？", "answers": [{"text": "竹子"}, {"text": "竹子"}]},
                        {"id": "q5", "question": "熊猫会飞吗？", "answers": [], "is_impossible": True},
                    ],
                }
            ],
        },
    ],
}

ARTICLE = (
    "零碳园区是指园区内二氧化碳排放持续降低、逐步趋向净零的园区。\n"
    "首批国家级零碳园区共有52个，计划在2027年至2030年期间陆续建成。\n"
    "浙江计划今年启动建设20个省级零碳园区。\n"
)
GOLD_ROWS = [
    {
        "id": "t1",
        "question": "首批国家级零碳园区有几个？",
        "answers": ["52个"],
        "evidence": ["首批國家級零碳園區共有52個"],
    },
    {
        "id": "t2",
        "question": "浙江启动几个省级零碳园区？",
        "answers": ["20个"],
        "evidence": ["启动建设20个省级零碳园区"],
    },
    {"id": "t3", "question": "零碳园区的补贴标准是多少？", "answers": [], "evidence": [], "tags": ["unanswerable"]},
]


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "mini_squad.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def gold_files(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "article.txt").write_text(ARTICLE, encoding="utf-8")
    gold = tmp_path / "mini_gold.jsonl"
    gold.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in GOLD_ROWS) + "\n", encoding="utf-8")
    return gold, corpus


def chunk(doc_id: str, text: str) -> Chunk:
    return Chunk(f"{doc_id}#x", doc_id, 0, len(text), (1, 1), text, text)


# ---------------------------------------------------------------- loaders
def test_load_squad_makes_one_document_per_paragraph(squad_file: Path) -> None:
    ds = ev.load_squad(squad_file)
    assert ds.kind == "squad" and ds.name == "mini_squad"
    assert [d.doc_id for d in ds.documents] == ["长城#0", "长城#1", "长城~1#0"]
    assert [q.qid for q in ds.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert ds.questions[2].gold_doc == "长城#1"
    assert ds.questions[3].answers == ("竹子",)  # duplicate answers collapsed
    assert not ds.questions[4].answerable
    assert ds.documents[0].simplified.startswith("长城是中国古代")


def test_squad_hash_follows_the_file(squad_file: Path) -> None:
    before = ev.load_squad(squad_file).source_hash
    squad_file.write_text(squad_file.read_text(encoding="utf-8").replace("8851", "8852"), encoding="utf-8")
    assert ev.load_squad(squad_file).source_hash != before


def test_load_gold(gold_files: tuple[Path, Path]) -> None:
    gold, corpus = gold_files
    ds = ev.load_dataset(gold, corpus)
    assert ds.kind == "gold" and len(ds.documents) == 1
    assert [q.qid for q in ds.questions] == ["t1", "t2", "t3"]
    assert ds.questions[0].evidence == ("首批國家級零碳園區共有52個",)
    assert ds.questions[2].tags == ("unanswerable",) and not ds.questions[2].answerable


def test_loader_errors(tmp_path: Path, gold_files: tuple[Path, Path]) -> None:
    gold, corpus = gold_files
    with pytest.raises(QAError, match="not found"):
        ev.load_dataset(tmp_path / "missing.json")
    with pytest.raises(QAError, match="Unsupported"):
        ev.load_dataset(tmp_path / "x.csv")
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(QAError, match="SQuAD"):
        ev.load_dataset(tmp_path / "bad.json")
    gold.write_text(gold.read_text(encoding="utf-8") * 2, encoding="utf-8")
    with pytest.raises(QAError, match="duplicate id"):
        ev.load_dataset(gold, corpus)


def test_limit_questions(squad_file: Path, gold_files: tuple[Path, Path]) -> None:
    squad = ev.load_squad(squad_file)
    sample = ev.limit_questions(squad, 3)
    assert len(sample.questions) == 3 and sample.documents == squad.documents
    assert sample.questions == ev.limit_questions(squad, 3).questions  # deterministic
    order = [q.qid for q in squad.questions]
    assert [order.index(q.qid) for q in sample.questions] == sorted(order.index(q.qid) for q in sample.questions)
    gold = ev.load_dataset(*gold_files)
    assert [q.qid for q in ev.limit_questions(gold, 2).questions] == ["t1", "t2"]
    assert ev.limit_questions(gold, 99) is gold


def test_focus_documents_keeps_gold_paragraphs_and_some_distractors(squad_file: Path) -> None:
    ds = ev.load_squad(squad_file)
    ds.questions = [q for q in ds.questions if q.qid == "q3"]
    focused = ev.focus_documents(ds, 1)
    ids = [d.doc_id for d in focused.documents]
    assert "长城#1" in ids and len(ids) == 2
    assert ids == [d.doc_id for d in ev.focus_documents(ds, 1).documents]  # deterministic
    assert focused.source_hash != ds.source_hash  # its own cache entry
    assert len(ev.focus_documents(ds, 99).documents) == 3


# ---------------------------------------------------------------- hit rules
def test_gold_hit_matches_evidence_across_scripts_and_punctuation() -> None:
    q = ev.EvalQuestion("t", "?", ("52个",), evidence=("首批國家級零碳園區共有52個",))
    assert ev.is_hit(q, chunk("a", "首批国家级零碳园区，共有 52 个，计划……"))
    assert not ev.is_hit(q, chunk("a", "首批国家级零碳园区共有50个"))


def test_gold_hit_needs_any_one_evidence() -> None:
    q = ev.EvalQuestion("t", "?", ("x",), evidence=("第一句证据", "第二句证据"))
    assert ev.is_hit(q, chunk("a", "……第二句证据。"))
    assert not ev.is_hit(q, chunk("a", "第一句"))


def test_squad_hit_needs_the_gold_paragraph_and_the_answer() -> None:
    q = ev.EvalQuestion("q", "?", ("竹子",), gold_doc="熊猫#0")
    assert ev.is_hit(q, chunk("熊猫#0", "主要以竹子为食"))
    assert not ev.is_hit(q, chunk("熊猫#1", "主要以竹子为食"))  # answer text, wrong paragraph
    assert not ev.is_hit(q, chunk("熊猫#0", "熊猫是中国特有的哺乳动物"))  # right paragraph, no answer


def test_empty_keys_never_match_everything() -> None:
    q = ev.EvalQuestion("q", "?", ("。。",), gold_doc="d")
    assert q.hit_keys() == ()
    assert not ev.is_hit(q, chunk("d", "任何文字"))


# ---------------------------------------------------------------- aggregation
def mode_result(ranks: list[int], abstained: bool = False, hit: bool = False, f1: float = 0.0, ms: float = 1.0):
    return ev.ModeResult([f"c{i}" for i in range(10)], ranks, "答", abstained, hit, f1, ms)


def test_aggregate_hand_values() -> None:
    results = [
        ev.QuestionResult(ev.EvalQuestion("a", "?", ("x",)), 1, {"bm25": mode_result([1], hit=True, f1=1.0, ms=10)}),
        ev.QuestionResult(ev.EvalQuestion("b", "?", ("x",)), 2, {"bm25": mode_result([3, 4], ms=20)}),
        ev.QuestionResult(ev.EvalQuestion("c", "?", ("x",)), 1, {"bm25": mode_result([], abstained=True, ms=30)}),
        ev.QuestionResult(ev.EvalQuestion("d", "?", ()), 0, {"bm25": mode_result([], abstained=True, ms=40)}),
    ]
    m = ev.aggregate(results, "bm25")
    assert tuple(m) == ev.METRIC_KEYS
    assert m["recall@1"] == pytest.approx(1 / 3, abs=1e-4)  # the unanswerable one is not counted
    assert m["recall@3"] == m["recall@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)
    assert m["answer_hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["answer_f1"] == pytest.approx(1 / 3, abs=1e-4)
    assert (m["abstain_precision"], m["abstain_recall"]) == (0.5, 1.0)  # 2 abstained, 1 of them unanswerable
    assert m["false_abstain_rate"] == pytest.approx(1 / 3, abs=1e-4) and m["missed_abstain_rate"] == 0.0
    assert m["latency_ms_p50"] == 25.0 and m["latency_ms_p95"] == 38.5
    assert precision_recall([True], [True]) == (1.0, 1.0)


def test_withheld_paragraph_probe_counts_answers_given_without_the_answering_paragraph() -> None:
    def result(withheld: bool | None) -> ev.QuestionResult:
        m = mode_result([1], hit=True)
        m.withheld_abstained = withheld
        return ev.QuestionResult(ev.EvalQuestion("q", "?", ("x",)), 1, {"hybrid": m})

    m = ev.aggregate([result(True), result(False), result(False), result(None)], "hybrid")
    assert m["withheld_missed_abstain_rate"] == pytest.approx(2 / 3, abs=1e-4)  # None: not probed
    assert ev.aggregate([result(None)], "hybrid")["withheld_missed_abstain_rate"] is None


def test_withheld_probe_never_sees_the_answering_paragraph(
    squad_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.pipeline import Pipeline

    calls: list[tuple[list[str], list[int]]] = []
    real = Pipeline.answer_from

    def recording(self, question, hits, mode, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(([h.chunk.doc_id for h in hits], [h.rank for h in hits]))
        return real(self, question, hits, mode, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "answer_from", recording)
    report, _ = run_fake(ev.load_squad(squad_file), tmp_path, ["hybrid"])
    pending = iter(calls)
    probed = 0
    for r in report.results:  # each question: the answer, then (when it answered) the probe
        asked, _ = next(pending)
        m = r.modes["hybrid"]
        assert (m.withheld_abstained is None) == (m.abstained or not r.question.answerable)
        if m.withheld_abstained is None:
            continue
        docs, ranks = next(pending)
        assert r.question.gold_doc in asked and r.question.gold_doc not in docs
        assert ranks == list(range(1, len(ranks) + 1)) and docs
        probed += 1
    assert probed and next(pending, None) is None


def test_parse_modes() -> None:
    assert ev.parse_modes("bm25, hybrid,bm25") == ["bm25", "hybrid"]
    with pytest.raises(QAError):
        ev.parse_modes("hybrid,sparse")
    with pytest.raises(QAError):
        ev.parse_modes(",")


# ---------------------------------------------------------------- the run (fake encoder)
def run_fake(ds: ev.Dataset, tmp_path: Path, modes: list[str] = MODES) -> tuple[ev.Report, FakeEncoder]:
    enc = FakeEncoder()
    index, info = ev.cached_index(ds, enc, cache_root=tmp_path / "cache")
    enc.calls = enc.texts_encoded = 0
    return ev.evaluate(ds, index, enc, modes, 10, index_info=info), enc  # type: ignore[arg-type]


def test_summary_has_the_exact_keys(squad_file: Path, tmp_path: Path) -> None:
    report, _ = run_fake(ev.load_squad(squad_file), tmp_path)
    summary = json.loads(json.dumps(report.summary()))
    assert set(summary) == {"dataset", "n", "modes", "reader_em", "reader_f1"}
    assert summary["dataset"] == "mini_squad" and summary["n"] == 5
    assert 0 <= summary["reader_em"] <= summary["reader_f1"] <= 1  # the gold paragraph given
    assert list(summary["modes"]) == MODES
    for metrics in summary["modes"].values():
        assert list(metrics) == list(ev.METRIC_KEYS)
        assert all(0 <= metrics[k] <= 1 for k in ev.METRIC_KEYS if "_ms_" not in k and not k.startswith("abstain"))
        assert metrics["em"] <= metrics["f1"] and metrics["retrieve_ms_p50"] > 0
        assert metrics["latency_ms_p50"] > 0


def test_each_question_is_embedded_once_for_all_modes(squad_file: Path, tmp_path: Path) -> None:
    report, enc = run_fake(ev.load_squad(squad_file), tmp_path)
    assert report.settings["queries_encoded"] == report.n  # not once per mode
    # one batched call for the vectors, plus one single call per timed question
    assert enc.calls == 1 + report.settings["latency_sample"]
    assert enc.texts_encoded == report.n + report.settings["latency_sample"]
    _, enc = run_fake(ev.load_squad(squad_file), tmp_path, ["bm25"])
    assert enc.texts_encoded == 0


def test_latency_sample_is_spread_and_bounded() -> None:
    assert ev.latency_sample(5) == {0, 1, 2, 3, 4}
    big = ev.latency_sample(3219)
    assert 150 <= len(big) <= ev.LATENCY_SAMPLE and min(big) == 0 and max(big) > 3000


def test_latency_only_from_timed_questions(squad_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ev, "LATENCY_SAMPLE", 2)
    report, _ = run_fake(ev.load_squad(squad_file), tmp_path)
    timed = [r.question.qid for r in report.results if r.modes["hybrid"].latency_ms is not None]
    assert timed == ["q1", "q4"] and report.modes["hybrid"]["latency_ms_p50"] is not None


def test_retrieval_depth_and_hits_are_recorded(squad_file: Path, tmp_path: Path) -> None:
    report, _ = run_fake(ev.load_squad(squad_file), tmp_path)
    by_id = {r.question.qid: r for r in report.results}
    assert len(by_id["q3"].modes["hybrid"].chunk_ids) == report.index.n_chunks  # fewer chunks than top-k
    assert by_id["q3"].n_relevant == 1
    assert by_id["q3"].modes["bm25"].first_rank == 1
    assert by_id["q5"].n_relevant == 0


def test_a_deep_run_gives_the_same_answer_as_ask(gold_files: tuple[Path, Path], tmp_path: Path) -> None:
    """The eval retrieves 10 hits for recall@10: that must not change what ``ask`` answers."""
    ds = ev.load_dataset(*gold_files)
    enc = FakeEncoder()
    index, _ = ev.cached_index(ds, enc, cache_root=tmp_path / "cache")
    pipe = Pipeline(index, enc)
    for q in ds.questions:
        for mode in MODES:
            deep = pipe.run(q.question, mode=mode, depth=10)  # type: ignore[arg-type]
            assert len(deep.hits) == min(10, len(index))
            assert deep.answer == pipe.ask(q.question, mode=mode)  # type: ignore[arg-type]


def test_gold_run_scores_abstention(gold_files: tuple[Path, Path], tmp_path: Path) -> None:
    report, _ = run_fake(ev.load_dataset(*gold_files), tmp_path)
    for metrics in report.modes.values():
        assert metrics["abstain_recall"] is not None
    assert report.modes["bm25"]["recall@1"] == 1.0  # the tiny article: each answer is one chunk away
    assert ev.diagnostics(report.results, "bm25")["paragraph_recall@1"] is None  # gold: no paragraphs


def test_squad_without_unanswerable_has_null_abstention(squad_file: Path, tmp_path: Path) -> None:
    ds = ev.load_squad(squad_file)
    ds.questions = [q for q in ds.questions if q.answerable]
    report, _ = run_fake(ds, tmp_path)
    assert report.modes["hybrid"]["abstain_precision"] is None
    assert report.modes["hybrid"]["abstain_recall"] is None


def test_refused_question_counts_as_a_miss(squad_file: Path, tmp_path: Path) -> None:
    ds = ev.load_squad(squad_file)
    ds.questions = [*ds.questions[:1], ev.EvalQuestion("bad", "？？", ("x",), gold_doc="长城#0")]
    report, _ = run_fake(ds, tmp_path)
    assert report.n == 2 and report.results[1].error
    assert report.modes["bm25"]["recall@10"] <= 0.5


# ---------------------------------------------------------------- cache
def test_index_is_cached_and_keyed_by_settings(squad_file: Path, tmp_path: Path, monkeypatch) -> None:
    from qa.chunking import ChunkingConfig, split_sentences

    ds = ev.load_squad(squad_file)
    enc = FakeEncoder()
    first, info1 = ev.cached_index(ds, enc, cache_root=tmp_path)
    texts = {c.text for c in first.chunks} | {c.text[s:e] for c in first.chunks for s, e in split_sentences(c.text)}
    assert not info1.cached and enc.texts_encoded == len(texts) > info1.n_chunks and info1.bytes > 0
    second, info2 = ev.cached_index(ds, enc, cache_root=tmp_path)
    assert info2.cached and info2.path == info1.path and enc.texts_encoded == len(texts)  # no re-embedding
    assert [c.chunk_id for c in second.chunks] == [c.chunk_id for c in first.chunks]
    assert ev.index_key(ds, enc, ChunkingConfig(100, 20)) != ev.index_key(ds, enc, ChunkingConfig())
    monkeypatch.setenv("QA_SENTENCE_VECTORS", "0")
    assert ev.index_key(ds, enc, ChunkingConfig()) != info1.path.name
    monkeypatch.delenv("QA_SENTENCE_VECTORS")
    import qa.index

    monkeypatch.setattr(qa.index, "text_processing_version", lambda: "cleaning code changed")
    assert ev.index_key(ds, enc, ChunkingConfig()) != info1.path.name
    assert info1.path.parent == tmp_path / "indexes"


def test_corrupted_cache_is_rebuilt(squad_file: Path, tmp_path: Path) -> None:
    ds = ev.load_squad(squad_file)
    _, info = ev.cached_index(ds, FakeEncoder(), cache_root=tmp_path)
    vectors = next(info.path.glob("build-*/vectors.npy"))
    vectors.write_bytes(b"garbage")
    _, again = ev.cached_index(ds, FakeEncoder(), cache_root=tmp_path)
    assert not again.cached


# ---------------------------------------------------------------- reports
def test_reports_are_written(squad_file: Path, tmp_path: Path) -> None:
    report, _ = run_fake(ev.load_squad(squad_file), tmp_path)
    paths = ev.write_reports(report, tmp_path / "reports")
    assert [p.name for p in paths] == ["mini_squad.json", "mini_squad.md", "mini_squad.png"]
    data = json.loads(paths[0].read_text(encoding="utf-8"))
    assert {"dataset", "n", "modes", "questions", "index", "settings"} <= set(data)
    assert len(data["questions"]) == 5 and set(data["questions"][0]["modes"]) == set(MODES)
    assert data["diagnostics"]["hybrid"] == {"unreachable": 0, "paragraph_recall@1": 1.0, "paragraph_recall@10": 1.0}
    md = paths[1].read_text(encoding="utf-8")
    assert "| metric | hybrid | dense | bm25 |" in md and "| recall@1 |" in md
    assert "Retrieval failures" in md
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "reports").glob(".*tmp"))  # no temp files left behind


def test_failures_are_listed_worst_first() -> None:
    q = ev.EvalQuestion
    results = [
        ev.QuestionResult(q("late", "?", ("x",)), 1, {"hybrid": mode_result([4])}),
        ev.QuestionResult(q("miss", "?", ("x",)), 1, {"hybrid": mode_result([])}),
        ev.QuestionResult(q("ok", "?", ("x",)), 1, {"hybrid": mode_result([1], hit=True)}),
        ev.QuestionResult(q("near", "?", ("x",)), 1, {"hybrid": mode_result([2])}),
        ev.QuestionResult(q("none", "?", ()), 0, {"hybrid": mode_result([], abstained=False)}),
    ]
    info = ev.IndexInfo(Path(), True, 1, 1, 0, 0)
    report = ev.Report("x", "gold", {"hybrid": ev.aggregate(results, "hybrid")}, results, info, {"top_k": 10}, 0.0)
    groups = ev.failures(report)
    assert [r.question.qid for r in groups["retrieval"]] == ["miss", "late", "near"]
    assert [r.question.qid for r in groups["abstention"]] == ["none"]
    md = ev.report_markdown(report)
    assert md.index("### miss") < md.index("### late") < md.index("### near")


# ---------------------------------------------------------------- CLI
def test_cli_eval_json(squad_file: Path, gold_files: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:
    import qa.model
    from qa.cli import main

    monkeypatch.setattr(qa.model, "Encoder", lambda *a, **k: FakeEncoder())
    shared = qa.model.cache_dir()
    (tmp_path / "cache").mkdir()
    for converted in ("models", "reader"):  # converted once per machine: not again for this test (~20 s)
        if (shared / converted).is_dir():
            (tmp_path / "cache" / converted).symlink_to(shared / converted)
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    gold, corpus = gold_files
    out = tmp_path / "out"
    args = ["eval", "--dataset", str(gold), "--dataset", str(squad_file), "--corpus", str(corpus)]
    result = CliRunner().invoke(main, [*args, "--json", "--out", str(out), "--modes", "bm25,hybrid", "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["dataset"], r["n"], list(r["modes"])) for r in lines] == [
        ("mini_gold", 2, ["bm25", "hybrid"]),
        ("mini_squad", 2, ["bm25", "hybrid"]),
    ]
    base = {f"{n}.{e}" for n in ("mini_gold", "mini_squad") for e in ("json", "md", "png")}
    written = {p.name for p in out.iterdir()}
    # with the model reader, a threshold sweep per set beside them (the CLI's default reader)
    assert base <= written and {w for w in written - base if not w.endswith("-threshold.png")} == set()
    assert (tmp_path / "cache" / "indexes").is_dir()


def test_cli_eval_rejects_bad_options(tmp_path: Path) -> None:
    from qa.cli import main

    runner = CliRunner()
    bad_mode = runner.invoke(main, ["eval", "--modes", "sparse"])
    assert bad_mode.exit_code != 0 and "Unknown mode" in bad_mode.output and "Traceback" not in bad_mode.output
    assert runner.invoke(main, ["eval", "--top-k", "0"]).exit_code != 0
    assert runner.invoke(main, ["eval", "--limit", "0"]).exit_code != 0
    missing = runner.invoke(main, ["eval", "--dataset", str(tmp_path / "nope.json")])
    assert missing.exit_code != 0 and "not found" in missing.output


# ---------------------------------------------------------------- real model (slow)
GOLD_FLOORS = {  # a little under the measured numbers with the reader (README, "Measurements")
    "recall@1": 0.88,  # 0.924
    "recall@3": 0.95,  # 0.975
    "recall@10": 0.98,  # 1.0
    "abstain_precision": 0.6,  # 0.714
    "abstain_recall": 0.5,  # 0.588
    "answer_hit@1": 0.80,  # 0.835
    "em": 0.38,  # 0.430
    "f1": 0.58,  # 0.630
}
GOLD_CEILINGS = {"false_abstain_rate": 0.08}  # 0.051


@pytest.mark.slow
def test_gold_set_regression(real_pipeline: Pipeline, tmp_path: Path) -> None:
    ds = ev.load_dataset(ROOT / "eval" / "gold.jsonl", CORPUS)
    index, info = ev.cached_index(ds, real_pipeline.encoder, cache_root=tmp_path)
    report = ev.evaluate(ds, index, real_pipeline.encoder, ["hybrid"], 10, index_info=info, reader=real_pipeline.reader)
    ev.write_reports(report, ARTIFACTS / "eval")
    metrics = report.modes["hybrid"]
    assert report.settings["reader"] == "model"
    low = {k: (metrics[k], floor) for k, floor in GOLD_FLOORS.items() if (metrics[k] or 0.0) < floor}
    assert low == {}, f"below the regression floor (measured, floor): {low}"
    high = {k: (metrics[k], top) for k, top in GOLD_CEILINGS.items() if (metrics[k] or 0.0) > top}
    assert high == {}, f"above the regression ceiling (measured, ceiling): {high}"


BENCHMARK_SAMPLE = 200
BENCHMARK_DISTRACTORS = 100  # extra paragraphs besides the ~180 the sampled questions ask about
BENCHMARK_FLOORS = {"cmrc2018_dev": 0.94, "drcd_dev": 0.92}  # hybrid recall@1 on the sample: measured 0.975, 0.955


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHMARK_FLOORS))
def test_public_benchmark_sample(real_pipeline: Pipeline, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """200 fixed questions over their own paragraphs plus 100 distractors, all modes.

    Indexing all 848/1,000 contexts takes longer than a CI step should (see
    eval/README.md), so this indexes about 300 paragraphs, without sentence vectors
    (they choose the answer's sentence, never the ranking asserted here: half the
    embedding time); its numbers are a regression guard, not comparable with the full
    run.  Cached under $QA_CACHE_DIR.
    """
    path = SHARED_BENCHMARKS / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    monkeypatch.setenv("QA_SENTENCE_VECTORS", "0")
    ds = ev.focus_documents(ev.limit_questions(ev.load_dataset(path), BENCHMARK_SAMPLE), BENCHMARK_DISTRACTORS)
    index, info = ev.cached_index(ds, real_pipeline.encoder)
    report = ev.evaluate(ds, index, real_pipeline.encoder, MODES, 10, index_info=info)
    ev.write_reports(report, ARTIFACTS / "eval")
    recall = {mode: report.modes[mode]["recall@1"] or 0.0 for mode in MODES}
    assert report.n == BENCHMARK_SAMPLE
    assert recall["hybrid"] >= BENCHMARK_FLOORS[name], recall
    # On the full sets hybrid beats both single retrievers (make eval; README). On 200
    # questions one question is 0.005, so the comparison is paired: hybrid may trail the
    # better single mode only by sampling noise (2 standard errors of the questions they
    # disagree on). A broken fusion loses far more (plain RRF: ~70 DRCD questions).
    top1 = {mode: [recall_at_k(r.modes[mode].hit_ranks, 1) for r in report.results] for mode in MODES}
    for single in ("dense", "bm25"):
        wins = sum(h > s for h, s in zip(top1["hybrid"], top1[single], strict=True))
        losses = sum(h < s for h, s in zip(top1["hybrid"], top1[single], strict=True))
        assert losses - wins <= 2 * math.sqrt(wins + losses), (single, wins, losses, recall)


def test_threshold_sweep_uses_answerable_and_withheld_evidence() -> None:
    def result(answerable: bool, evidence: float, withheld: float | None = None) -> ev.QuestionResult:
        m = mode_result([1], hit=True)
        m.evidence, m.withheld_evidence = evidence, withheld
        q = ev.EvalQuestion("q", "?", ("x",) if answerable else ())
        return ev.QuestionResult(q, 1, {"hybrid": m})

    results = [result(True, 5.0, 1.0), result(True, 3.0, 4.0), result(False, 2.0)]
    report = ev.Report("set", "squad", {"hybrid": ev.aggregate(results, "hybrid")}, results, None, {}, 0.0)  # type: ignore[arg-type]
    curve = ev.threshold_curve(report, "hybrid")
    assert curve is not None
    at = dict(zip(curve["threshold"], zip(curve["false_abstain_rate"], curve["declined"], strict=True), strict=True))
    assert at[2.0] == (0.0, 1 / 3)  # declined pool 2.0, 1.0, 4.0: only 1.0 is below 2.0
    assert at[4.0] == (0.5, 2 / 3)  # answerable 3.0 declined (false); 1.0 and 2.0 declined, 4.0 not
    assert ev.threshold_chart(report) is not None


def test_threshold_sweep_is_absent_for_the_heuristic_reader() -> None:
    m = mode_result([1], hit=True)
    results = [ev.QuestionResult(ev.EvalQuestion("q", "?", ("x",)), 1, {"hybrid": m})]
    report = ev.Report("set", "squad", {"hybrid": ev.aggregate(results, "hybrid")}, results, None, {}, 0.0)  # type: ignore[arg-type]
    assert ev.threshold_curve(report, "hybrid") is None and ev.threshold_chart(report) is None


def test_prune_cached_keeps_the_most_recently_used_per_dataset(tmp_path: Path) -> None:
    import os

    root = tmp_path / "indexes"
    made = []
    for i in range(5):
        folder = root / f"cmrc2018_dev-{i:016x}"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{}")
        os.utime(folder / "manifest.json", (1000 + i, 1000 + i))
        made.append(folder)
    other = root / "drcd_dev-0000000000000000"
    corpus_index = root / "cmrc2018_dev-abcdef123456"  # another corpus's production index: not the eval's
    for folder in (other, corpus_index):
        folder.mkdir()
        (folder / "manifest.json").write_text("{}")
    os.utime(made[0] / "manifest.json", (2000, 2000))  # the oldest was just used again
    removed = ev.prune_cached(made[4], keep=3)
    assert sorted(removed) == sorted([made[1], made[2]])
    assert {p.name for p in root.iterdir()} == {made[0].name, made[3].name, made[4].name, other.name, corpus_index.name}
