"""HybridIndex: persistence, manifest checks, staleness, atomic and incremental rebuilds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.chunking import ChunkingConfig
from qa.cli import describe_reasons
from qa.errors import QAError
from qa.index import HybridIndex, read_manifest
from qa.pipeline import ensure_index
from tests.conftest import FakeEncoder


def test_build_save_load_round_trip(corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    index, report = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert report.rebuilt and report.reasons == ["missing"] and report.n_chunks == len(index) > 5
    loaded = HybridIndex.load(tmp_path / "idx")
    assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in index.chunks]
    assert (loaded.vectors == index.vectors).all()
    m = read_manifest(tmp_path / "idx")
    assert m["model_id"] == fake_encoder.model_id and m["dim"] == 64 and m["faiss_factory"] == "Flat"
    assert m["n_chunks"] == len(index) and "zero-carbon-parks.txt" in m["corpus"]
    assert {"chunks.jsonl", "vectors.npy", "dense.faiss"} <= set(m["files"])


def test_fresh_index_is_loaded_not_rebuilt(corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    calls = fake_encoder.calls
    _, report = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert not report.rebuilt and fake_encoder.calls == calls


def test_changed_corpus_is_stale_and_only_new_text_is_embedded(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    index, _ = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    (corpus_copy / "extra.txt").write_text("新加的一篇短文，講零碳工廠的認證。", encoding="utf-8")
    before = fake_encoder.texts_encoded
    index2, report = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert report.rebuilt and report.reasons == ["corpus"]
    assert fake_encoder.texts_encoded - before == 1 and report.reused == len(index)
    assert len(index2) == len(index) + 1


def test_incremental_build_tokenises_only_new_text(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BM25 tokens are kept per chunk (tokens.jsonl) and reused by text, like the vectors."""
    import qa.tokenize

    idx = tmp_path / "idx"
    ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    assert "tokens.jsonl" in read_manifest(idx)["files"]
    seen: list[str] = []
    real = qa.tokenize.tokenize
    monkeypatch.setattr(qa.tokenize, "tokenize", lambda text: seen.append(text) or real(text))
    (corpus_copy / "extra.txt").write_text("新加的一篇短文，講零碳工廠的認證。", encoding="utf-8")
    index, _ = ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    assert [c.text for c in index.chunks if c.doc_id == "extra.txt"] == seen  # only the new chunk
    assert index.tokens == [real(c.text) for c in index.chunks]  # the same as tokenising everything

    # An index without the file (an older build) is tokenised again, not trusted blindly.
    (idx / read_manifest(idx)["build"] / "tokens.jsonl").unlink()
    previous = HybridIndex.load(idx, verify=False)
    seen.clear()
    rebuilt = HybridIndex.build(index.chunks, fake_encoder, ChunkingConfig(), previous=previous, progress=False)
    assert len(seen) == len(index.chunks) and rebuilt.tokens == index.tokens


def test_other_model_makes_the_index_stale(corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    other = FakeEncoder()
    other.model_id, other.fingerprint = "fake/other", "other-v1"
    _, report = ensure_index(corpus_copy, tmp_path / "idx", other, progress=False)
    assert set(report.reasons) == {"model_id", "model_fingerprint"} and report.reused == 0


def test_corrupted_file_is_detected_and_rebuilt(corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    idx = tmp_path / "idx"
    ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    build = idx / read_manifest(idx)["build"]
    with (build / "vectors.npy").open("r+b") as f:
        f.seek(200)
        f.write(b"\xff\xff\xff\xff")
    with pytest.raises(QAError, match="checksum"):
        HybridIndex.load(idx)
    _, report = ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    assert report.rebuilt and report.reasons[0].startswith("unreadable")
    HybridIndex.load(idx)


def test_truncated_or_missing_files_are_detected(corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    idx = tmp_path / "idx"
    ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    build = idx / read_manifest(idx)["build"]
    (build / "dense.faiss").write_bytes((build / "dense.faiss").read_bytes()[:50])
    with pytest.raises(QAError):
        HybridIndex.load(idx)
    shutil.rmtree(build)
    with pytest.raises(QAError):
        HybridIndex.load(idx)


def test_crash_before_manifest_switch_keeps_previous_index(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = tmp_path / "idx"
    index, _ = ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    old_manifest = (idx / "manifest.json").read_text(encoding="utf-8")
    (corpus_copy / "extra.txt").write_text("另一篇文章。", encoding="utf-8")

    def boom(*_a, **_k):
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr("qa.index.atomic_write_text", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    monkeypatch.undo()
    assert (idx / "manifest.json").read_text(encoding="utf-8") == old_manifest
    assert len(HybridIndex.load(idx)) == len(index)
    ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    leftovers = [p.name for p in idx.iterdir() if p.name.startswith(".tmp-") or p.name.endswith(".tmp")]
    assert leftovers == [] and len([p for p in idx.iterdir() if p.name.startswith("build-")]) == 1


def test_manifest_from_another_format_is_stale(corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    idx = tmp_path / "idx"
    ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    m = json.loads((idx / "manifest.json").read_text(encoding="utf-8"))
    m["format_version"] = 0
    (idx / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    _, report = ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    assert report.reasons == ["format_version"]


# ---------------------------------------------------------------- sentence vectors
def test_every_sentence_has_its_own_vector_and_span(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    import numpy as np

    from qa.chunking import split_sentences

    index, _ = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert read_manifest(tmp_path / "idx")["sentence_vectors"] is True
    query = fake_encoder.encode_queries(["首批国家级零碳园区有多少个"])[0]
    for i, chunk in enumerate(index.chunks):
        scores = index.sentence_scores(i, query)
        spans = split_sentences(chunk.text)
        assert list(scores) == spans  # keyed by span, in order
        expected = fake_encoder.encode_passages([chunk.text[s:e] for s, e in spans]) @ query
        np.testing.assert_allclose(list(scores.values()), expected, atol=2e-3)  # float16 storage
    loaded = HybridIndex.load(tmp_path / "idx")
    assert all(loaded.sentence_scores(i, query) == index.sentence_scores(i, query) for i in range(len(index)))
    assert {"sentences.npy", "sentence_spans.npy", "sentence_offsets.npy"} <= set(
        read_manifest(tmp_path / "idx")["files"]
    )


def test_sentences_are_embedded_once_and_reused_by_text(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    from qa.chunking import split_sentences

    index, _ = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    texts = {c.text for c in index.chunks} | {c.text[s:e] for c in index.chunks for s, e in split_sentences(c.text)}
    assert fake_encoder.texts_encoded == len(texts)  # a one-sentence chunk is embedded once
    before = fake_encoder.texts_encoded
    (corpus_copy / "extra.txt").write_text("新加的短文。講零碳工廠的認證。", encoding="utf-8")
    ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert fake_encoder.texts_encoded - before == 3  # the new chunk and its two sentences


def test_sentence_vectors_can_be_turned_off(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, _ = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    monkeypatch.setenv("QA_SENTENCE_VECTORS", "0")
    before = fake_encoder.texts_encoded
    off, report = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert report.reasons == ["sentence_vectors"] and fake_encoder.texts_encoded == before  # all reused
    assert report.n_sentences == 0 and "QA_SENTENCE_VECTORS" in describe_reasons(report.reasons)
    assert off.sentences is None and off.sentence_scores(0, index.vectors[0]) == {}
    assert not set(read_manifest(tmp_path / "idx")["files"]) & {"sentences.npy", "sentence_spans.npy"}
    monkeypatch.setenv("QA_SENTENCE_VECTORS", "maybe")
    with pytest.raises(QAError, match="QA_SENTENCE_VECTORS"):
        ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)


def test_inconsistent_sentence_offsets_are_detected(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    import numpy as np

    idx = tmp_path / "idx"
    ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    build = idx / read_manifest(idx)["build"]
    offsets = np.load(build / "sentence_offsets.npy")
    np.save(build / "sentence_offsets.npy", offsets[:-1])
    with pytest.raises(QAError, match="sentence"):
        HybridIndex.load(idx, verify=False)
    _, report = ensure_index(corpus_copy, idx, fake_encoder, progress=False)
    assert report.rebuilt


def test_a_change_to_the_text_processing_code_rebuilds_the_index(
    corpus_copy: Path, tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One freshness key for the production index and the eval's cache (it used to compare settings only,
    so a cleaning change left index/ built with the old cleaning)."""
    import qa.index

    ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert read_manifest(tmp_path / "idx")["text_processing"] == qa.index.text_processing_version()
    monkeypatch.setattr(qa.index, "text_processing_version", lambda: "cleaning changed")
    calls = fake_encoder.texts_encoded
    _, report = ensure_index(corpus_copy, tmp_path / "idx", fake_encoder, progress=False)
    assert report.rebuilt and report.reasons == ["text_processing"]
    assert fake_encoder.texts_encoded == calls  # same texts: every vector reused
    assert "cleaning or chunking code changed" in describe_reasons(report.reasons)
