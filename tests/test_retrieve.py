"""Fusion functions (pure) and the Retriever over a small index."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.pipeline import Pipeline, ensure_index
from qa.retrieve import FusionConfig, minmax, reciprocal_rank_fusion, top_k, weighted_score_fusion
from tests.conftest import FakeEncoder


def test_minmax() -> None:
    assert minmax({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert minmax({1: 5.0}) == {1: 1.0} and minmax({}) == {}


def test_weighted_fusion_gives_missing_side_its_minimum() -> None:
    fused = weighted_score_fusion({1: 0.9, 2: 0.5}, {2: 10.0, 3: 4.0}, alpha=0.5)
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.0})
    assert weighted_score_fusion({1: 1.0, 2: 0.0}, {}, 0.3) == pytest.approx({1: 0.3, 2: 0.0})


def test_rrf() -> None:
    fused = reciprocal_rank_fusion({"a": [1, 2], "b": [2, 3]}, {"a": 1.0, "b": 1.0}, k=60)
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61) and top_k(fused, 1)[0][0] == 2


def test_top_k_is_deterministic_on_ties() -> None:
    assert top_k({3: 1.0, 1: 1.0, 2: 0.5}, 2) == [(1, 1.0), (3, 1.0)]


@pytest.fixture
def fake_pipeline(tmp_path: Path, corpus_copy: Path) -> Pipeline:
    enc = FakeEncoder()
    index, _ = ensure_index(corpus_copy, tmp_path / "idx", enc, progress=False)
    return Pipeline(index, enc, FusionConfig())


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_returns_ranked_hits_with_component_scores(fake_pipeline: Pipeline, mode: str) -> None:
    hits = fake_pipeline.search("首批国家级零碳园区有多少个", top_k=3, mode=mode)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))
    if mode == "hybrid":
        assert any("bm25" in h.scores and "dense" in h.scores for h in hits)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_hits_carry_each_sentences_dense_score_when_the_question_is_embedded(
    fake_pipeline: Pipeline, mode: str
) -> None:
    from qa.chunking import split_sentences

    question = "首批国家级零碳园区有多少个"
    vector = fake_pipeline.encoder.encode_queries([question])[0]
    for h in fake_pipeline.search(question, top_k=3, mode=mode):
        if mode == "bm25":  # nothing was embedded: the answer ranks sentences by their words
            assert h.sentence_scores == {}
            continue
        assert list(h.sentence_scores) == split_sentences(h.chunk.text)
        for (s, e), score in h.sentence_scores.items():
            expected = float(fake_pipeline.encoder.encode_passages([h.chunk.text[s:e]])[0] @ vector)
            assert abs(score - expected) < 2e-3


def test_bm25_finds_the_52_parks_sentence_in_both_scripts(fake_pipeline: Pipeline) -> None:
    for q in ("首批国家级零碳园区有多少个？", "首批國家級零碳園區有多少個？"):
        top = fake_pipeline.search(q, top_k=1, mode="bm25")[0]
        assert "52" in top.chunk.text and top.chunk.lines == (14, 14)


def test_stop_word_only_query_has_no_bm25_hits(fake_pipeline: Pipeline) -> None:
    assert fake_pipeline.search("是什么呢", top_k=3, mode="bm25") == []
