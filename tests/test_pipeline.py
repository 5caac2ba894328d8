"""Pipeline.ask: input checks and the JSON contract, on the fake encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import QAError
from qa.pipeline import MAX_QUESTION_CHARS, Pipeline, check_question, ensure_index
from tests.conftest import FakeEncoder

JSON_KEYS = {"question", "answer", "short_answer", "abstained", "mode", "latency_ms", "timings", "citations"}
CITATION_KEYS = {"n", "doc", "lines", "page", "chunk_id", "score", "text", "text_original", "highlight", "answer_span"}


@pytest.fixture
def pipe(tmp_path: Path, corpus_copy: Path) -> Pipeline:
    enc = FakeEncoder()
    index, _ = ensure_index(corpus_copy, tmp_path / "idx", enc, progress=False)
    return Pipeline(index, enc)


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "？？！！", "🙂🙂", "……"])
def test_empty_or_symbol_only_questions_are_refused_in_both_languages(pipe: Pipeline, bad: str) -> None:
    with pytest.raises(QAError) as e:
        pipe.ask(bad)
    assert e.value.zh and e.value.en


def test_long_question_is_capped_with_a_notice(pipe: Pipeline) -> None:
    answer = pipe.ask("零碳园区" * 3000)
    assert len(answer.question) == MAX_QUESTION_CHARS
    assert "too long" in answer.notice and "过长" in answer.notice


def test_control_characters_are_removed() -> None:
    q, notice = check_question("零碳\x00园区\x07是什么")
    assert q == "零碳园区是什么" and notice == ""


@pytest.mark.parametrize("mode,k", [("fast", 3), ("hybrid", 0), ("hybrid", 500)])
def test_bad_mode_or_top_k_is_a_clear_error(pipe: Pipeline, mode: str, k: int) -> None:
    with pytest.raises(QAError):
        pipe.ask("零碳园区", top_k=k, mode=mode)  # type: ignore[arg-type]


def test_answer_json_has_the_stable_keys(pipe: Pipeline) -> None:
    out = pipe.run("首批国家级零碳园区有多少个？", top_k=3).to_json()
    assert set(out) >= JSON_KEYS
    assert (
        set(out["timings"]) == {"retrieve_ms", "read_ms", "total_ms"}
        and out["latency_ms"] == out["timings"]["total_ms"]
    )
    assert out["citations"] and all(set(c) == CITATION_KEYS for c in out["citations"])
    c = out["citations"][0]
    assert c["n"] == 1 and c["doc"] == "zero-carbon-parks.txt" and len(c["lines"]) == 2
    s, e = c["highlight"]
    assert 0 <= s < e <= len(c["text"])


def test_another_corpus_folder_gets_its_own_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Pointing at other documents (--corpus, QA_CORPUS_DIR) never replaces the project's index."""
    from qa.pipeline import PROJECT_ROOT, default_index_dir

    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(PROJECT_ROOT)
    assert default_index_dir(PROJECT_ROOT / "corpus") == Path("index")
    mine, theirs = default_index_dir(tmp_path / "mine"), default_index_dir(tmp_path / "theirs")
    assert mine.parent == tmp_path / "cache" / "indexes" and mine.name.startswith("mine-") and mine != theirs
    monkeypatch.setenv("QA_CORPUS_DIR", str(tmp_path / "mine"))
    assert default_index_dir() == mine
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "chosen"))
    assert default_index_dir(tmp_path / "mine") == tmp_path / "chosen"


def test_the_last_document_cannot_be_removed(corpus_copy: Path, tmp_path: Path) -> None:
    index, _ = ensure_index(corpus_copy, tmp_path / "index", FakeEncoder(), progress=False)
    pipe = Pipeline(index, FakeEncoder())
    pipe.corpus_dir, pipe.index_dir = corpus_copy, tmp_path / "index"
    (name,) = [p.name for p in corpus_copy.glob("*.txt")]
    with pytest.raises(QAError) as info:
        pipe.remove_document(name)
    assert "最后一个" in info.value.zh and "last document" in info.value.en
    assert (corpus_copy / name).is_file()
    stored, report = pipe.add_documents([("more.md", "# 补充\n\n星河市今年新建零碳工厂9家。".encode())])
    assert stored == ["more.md"] and report.rebuilt and {c.doc_id for c in pipe.index.chunks} >= {"more.md", name}
    pipe.remove_document("more.md")
    assert {c.doc_id for c in pipe.index.chunks} == {name} and not (corpus_copy / "more.md").exists()


def test_warm_loads_the_dictionary_in_the_background(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    from qa import pipeline

    loaded = threading.Event()
    monkeypatch.setattr(pipeline, "dictionary", loaded.set)
    pipeline.Pipeline.warm(object())  # type: ignore[arg-type]
    assert loaded.wait(5)
