"""Golden retrieval: the top chunk and its score per mode on a small fixture corpus.

The fake bag-of-characters encoder makes these exact and model-free; a change to
cleaning, chunking, tokenising, BM25 or fusion that moves a ranking or a score shows
up here first. Regenerate only on purpose, and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.pipeline import Pipeline, ensure_index
from tests.conftest import FakeEncoder

FIXTURE = Path(__file__).parent / "fixtures" / "golden_corpus"

GOLDEN = [
    ("首批国家级零碳园区有多少个？", "hybrid", "parks.txt#e4a30742b1", 1.0),
    ("首批国家级零碳园区有多少个？", "dense", "parks.txt#e4a30742b1", 0.5817),
    ("首批国家级零碳园区有多少个？", "bm25", "parks.txt#e4a30742b1", 2.5145),
    ("零碳工厂到2030年拓展到哪些行业？", "hybrid", "factories.txt#2b612d8949", 0.977),
    ("零碳工厂到2030年拓展到哪些行业？", "dense", "parks.txt#62edde7955", 0.6074),  # characters mislead the fake
    ("零碳工厂到2030年拓展到哪些行业？", "bm25", "factories.txt#2b612d8949", 3.0753),
    ("浙江计划建设多少家绿色工厂？", "hybrid", "zhejiang.txt#1aa682b321", 1.0),
    ("浙江计划建设多少家绿色工厂？", "dense", "zhejiang.txt#1aa682b321", 0.6336),
    ("浙江计划建设多少家绿色工厂？", "bm25", "zhejiang.txt#1aa682b321", 2.9532),
]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    enc = FakeEncoder()
    index, _ = ensure_index(FIXTURE, tmp_path_factory.mktemp("golden-idx"), enc, progress=False)
    return Pipeline(index, enc)


@pytest.mark.parametrize("question,mode,chunk_id,score", GOLDEN)
def test_top_chunk_and_score_are_pinned(pipe: Pipeline, question: str, mode: str, chunk_id: str, score: float) -> None:
    top = pipe.search(question, 3, mode)[0]  # type: ignore[arg-type]
    assert (top.chunk.chunk_id, round(top.score, 4)) == (chunk_id, score)
