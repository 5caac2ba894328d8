"""One test module for every store (``qa.store``): FAISS + bm25s, Milvus Lite embedded, and
Milvus Lite as a local server on a free loopback port (started and stopped here).

The Milvus cases skip, with the reason, when pymilvus / milvus-lite cannot run here.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa.chunking import ChunkingConfig
from qa.errors import QAError
from qa.index import HybridIndex, read_manifest
from qa.pipeline import ensure_index
from qa.retrieve import FusionConfig, Retriever
from qa.store import LocalStore, MilvusStore, Store, owner_prefix
from tests.conftest import FakeEncoder

IDS = ["a#1", "a#2", "b#1", "b#2", "c#1", "c#2"]
TOKENS = [
    ["零碳", "园区", "零碳园区", "首批", "52"],
    ["浙江", "绿色", "工厂", "150"],
    ["孙捷", "远景", "集团", "零碳"],
    ["园区", "排放", "31%"],
    ["工厂", "钢铁", "2030"],
    ["零碳", "工厂", "指导意见", "工信部"],
]


def vectors(n: int = len(IDS), dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def milvus_or_skip() -> None:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as e:
        pytest.skip(f"Milvus Lite cannot run here: {e}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``milvus-lite server`` on a free loopback port for this module; its URI."""
    milvus_or_skip()
    exe = shutil.which("milvus-lite", path=str(Path(sys.executable).parent)) or shutil.which("milvus-lite")
    if exe is None:
        pytest.skip("the milvus-lite command is not installed")
    port = free_port()
    data = tmp_path_factory.mktemp("milvus-server")
    proc = subprocess.Popen(
        [exe, "server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.skip(f"milvus-lite server exited with {proc.returncode}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.skip("milvus-lite server did not start within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(params=["local", "milvus-lite", "milvus-server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(store kind, URI) for each store under test."""
    if request.param == "local":
        return "local", ""
    milvus_or_skip()
    if request.param == "milvus-lite":
        return "milvus", str(tmp_path / "milvus.db")
    return "milvus", request.getfixturevalue("milvus_server")


def make_store(backend: tuple[str, str], ids=IDS, vecs=None, tokens=TOKENS) -> Store:  # type: ignore[no-untyped-def]
    kind, uri = backend
    vecs = vectors(len(ids)) if vecs is None else vecs
    return MilvusStore.create(uri, ids, vecs, tokens) if kind == "milvus" else LocalStore.create(ids, vecs, tokens)


# ---------------------------------------------------------------- the protocol
def test_dense_search_is_exact_cosine(backend: tuple[str, str]) -> None:
    vecs = vectors()
    store = make_store(backend, vecs=vecs)
    query = vecs[2] + 0.1 * vecs[4]
    query /= np.linalg.norm(query)
    found = store.dense_search(query, 3)
    expected = sorted(range(len(IDS)), key=lambda i: -float(vecs[i] @ query))[:3]
    assert list(found) == [IDS[i] for i in expected] or set(found) == {IDS[i] for i in expected}
    for cid, score in found.items():
        assert score == pytest.approx(float(vecs[IDS.index(cid)] @ query), abs=1e-5)


def test_bm25_search_scores_like_lucene(backend: tuple[str, str]) -> None:
    store = make_store(backend)
    reference = LocalStore.create(IDS, vectors(), TOKENS)
    query = ["零碳", "工厂"]
    found, expected = store.bm25_search(query, 10), reference.bm25_search(query, 10)
    assert set(found) == set(expected) == {"a#1", "b#1", "a#2", "c#1", "c#2"}
    # Milvus keeps BM25's (k1 + 1) factor, which Lucene (and bm25s "lucene") dropped: scores are
    # 2.2x, and min-max fusion does not see a constant factor. Its document lengths differ a
    # little (a few %), never the order here.
    ratios = [found[cid] / score for cid, score in expected.items()]
    assert max(ratios) / min(ratios) < 1.05 and (
        ratios[0] == pytest.approx(1.0) or ratios[0] == pytest.approx(2.2, rel=0.03)
    )
    assert sorted(found, key=lambda c: (-found[c], c))[0] == sorted(expected, key=lambda c: (-expected[c], c))[0]
    assert store.bm25_search(["没有的词"], 5) == {}


def test_document_frequencies(backend: tuple[str, str]) -> None:
    store = make_store(backend)
    assert store.document_frequency("零碳") == 3 and store.document_frequency("工厂") == 3
    assert store.document_frequency("钢铁") == 1 and store.document_frequency("没有") == 0


def test_upsert_replaces_and_delete_removes_by_id(backend: tuple[str, str]) -> None:
    store = make_store(backend)
    vecs = vectors()
    store.upsert(["c#2", "d#1"], np.stack([vecs[0], vecs[1]]), [["钢铁", "新"], ["全新", "零碳"]])
    assert len(store) == 7
    assert store.document_frequency("零碳") == 3  # c#2 lost it, d#1 brought it
    assert store.document_frequency("钢铁") == 2 and store.document_frequency("新") == 1
    assert set(store.bm25_search(["全新"], 5)) == {"d#1"}
    store.delete(["a#1", "d#1", "not-there"])
    assert len(store) == 5 and store.document_frequency("零碳") == 1
    assert "a#1" not in store.dense_search(vecs[0], 10) and "a#1" not in store.bm25_search(["52"], 5)


# ---------------------------------------------------------------- the index on each store
def build(corpus: Path, folder: Path, encoder: FakeEncoder, backend: tuple[str, str], monkeypatch) -> HybridIndex:  # type: ignore[no-untyped-def]
    kind, uri = backend
    monkeypatch.setenv("QA_STORE", kind)
    monkeypatch.setenv("QA_MILVUS_URI", uri)
    index, _ = ensure_index(corpus, folder, encoder, ChunkingConfig(), progress=False)
    return index


def test_index_round_trip_and_the_same_rankings(
    backend: tuple[str, str], corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = FakeEncoder()
    index = build(corpus_copy, tmp_path / "idx", encoder, backend, monkeypatch)
    manifest = read_manifest(tmp_path / "idx")
    assert manifest["store"] == backend[0] and manifest["store_entry"]["kind"] == backend[0]
    loaded = HybridIndex.load(tmp_path / "idx")
    local = build(corpus_copy, tmp_path / "local", FakeEncoder(), ("local", ""), monkeypatch)
    for question in ("首批国家级零碳园区有多少个", "浙江计划建设多少家绿色工厂", "零碳工厂 钢铁 2030"):
        for mode in ("hybrid", "dense", "bm25"):
            got = [h.chunk.chunk_id for h in Retriever(loaded, encoder._vec, FusionConfig()).search(question, 5, mode)]
            want = [h.chunk.chunk_id for h in Retriever(local, encoder._vec, FusionConfig()).search(question, 5, mode)]
            assert got == want, (question, mode)
    assert loaded.idf("零碳") == pytest.approx(local.idf("零碳")) and loaded.idf("没有的词") == local.idf("没有的词")
    assert len(index) == len(loaded) == len(local)


def test_incremental_builds_reuse_vectors_and_keep_one_previous_collection(
    backend: tuple[str, str], corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = FakeEncoder()
    folder = tmp_path / "idx"
    build(corpus_copy, folder, encoder, backend, monkeypatch)
    collections = []
    for n in range(2):
        doc = next(corpus_copy.glob("*.txt"))
        doc.write_text(doc.read_text(encoding="utf-8") + f"\n新增的一段话，第{n}次修改。\n", encoding="utf-8")
        before = encoder.texts_encoded
        index = build(corpus_copy, folder, encoder, backend, monkeypatch)
        assert 0 < encoder.texts_encoded - before <= 3 and index.reused == len(index) - 1
        collections.append(read_manifest(folder)["store_entry"].get("collection"))
    if backend[0] == "milvus":
        client = index.store.client  # type: ignore[attr-defined]
        owned = sorted(c for c in client.list_collections() if c.startswith(owner_prefix(folder)))
        assert owned == sorted(collections)  # the current build and the one before it; older ones dropped


def build_on_lite(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HybridIndex:
    """An index of ``corpus`` in ``tmp_path/idx`` on a Milvus Lite file beside it (skips without Milvus)."""
    milvus_or_skip()
    return build(corpus, tmp_path / "idx", FakeEncoder(), ("milvus", str(tmp_path / "milvus.db")), monkeypatch)


def test_a_missing_milvus_collection_asks_for_a_rebuild(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build_on_lite(corpus_copy, tmp_path, monkeypatch)
    index.store.client.drop_collection(index.store.collection)  # type: ignore[attr-defined]
    with pytest.raises(QAError, match="rebuild"):
        HybridIndex.load(tmp_path / "idx")
    rebuilt, report = ensure_index(corpus_copy, tmp_path / "idx", FakeEncoder(), progress=False)
    assert report.rebuilt and len(rebuilt) == len(index)


def test_unknown_store_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.store import configured_store

    monkeypatch.setenv("QA_STORE", "elastic")
    with pytest.raises(QAError, match="QA_STORE"):
        configured_store()


@pytest.mark.slow
def test_the_real_pipeline_answers_alike_on_milvus(
    real_pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from qa.pipeline import Pipeline
    from tests.conftest import CORPUS

    milvus_or_skip()
    monkeypatch.setenv("QA_STORE", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", str(tmp_path / "milvus.db"))
    pipe = Pipeline.open(CORPUS, tmp_path / "idx", progress=False)
    assert pipe.index.settings.store == "milvus"
    for question in (
        "首批国家级零碳园区有多少个？",
        "首批國家級零碳園區有多少個？",
        "浙江计划今年启动建设多少家绿色工厂？",
        "第二批国家级零碳园区什么时候公布？",
        "How many national zero-carbon parks are in the first batch?",
    ):
        for mode in ("hybrid", "dense", "bm25"):
            got, want = pipe.ask(question, mode=mode), real_pipeline.ask(question, mode=mode)
            assert (got.short_answer, got.abstained, got.answer) == (want.short_answer, want.abstained, want.answer)
            assert [(c.chunk_id, c.lines) for c in got.citations] == [(c.chunk_id, c.lines) for c in want.citations]


def test_a_killed_builds_unsaved_collection_is_dropped_once_it_is_old(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build killed between creating its collection and saving it leaves ``qa_new_<time>_…``."""
    from qa.store import ORPHAN_AGE_S, orphaned

    index = build_on_lite(corpus_copy, tmp_path, monkeypatch)
    client = index.store.client  # type: ignore[attr-defined]
    old, young = f"qa_new_{int(time.time()) - ORPHAN_AGE_S - 60}_abc123", f"qa_new_{int(time.time())}_def456"
    for name in (old, young):
        client.create_collection(name, dimension=4)
    assert orphaned(old) and not orphaned(young) and not orphaned("qa_new_123")  # and only our own names
    doc = next(corpus_copy.glob("*.txt"))
    doc.write_text(doc.read_text(encoding="utf-8") + "\n又一段。\n", encoding="utf-8")
    build_on_lite(corpus_copy, tmp_path, monkeypatch)
    names = set(client.list_collections())
    assert old not in names and young in names  # a build still running keeps its collection
