"""Chunking: sentence boundaries, size limits, stable ids and raw line ranges."""

from __future__ import annotations

from qa.chunking import ChunkingConfig, chunk_document
from qa.corpus import load_corpus, make_document
from tests.conftest import CORPUS


def article():
    (doc,), _ = load_corpus(CORPUS)
    return doc


def test_chunks_are_exact_spans_of_the_document() -> None:
    doc = article()
    for c in chunk_document(doc):
        assert doc.text[c.start : c.end] == c.text_original
        assert doc.simplified[c.start : c.end] == c.text


def test_chunks_cover_the_whole_text() -> None:
    doc = article()
    chunks = chunk_document(doc)
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert {i for i, ch in enumerate(doc.text) if not ch.isspace()} <= covered


def test_chunks_end_at_sentence_boundaries_and_respect_size() -> None:
    cfg = ChunkingConfig(size=120, overlap=20)
    for c in chunk_document(article(), cfg):
        assert len(c.text) <= cfg.size
        assert c.text_original[-1] in "。！？；，、：”"


def test_closing_quote_stays_with_its_sentence() -> None:
    doc = make_document("q.txt", "他說：“很重要。”然後離開了。" * 20)
    for c in chunk_document(doc, ChunkingConfig(size=30, overlap=0)):
        assert not c.text_original.startswith("”")


def test_very_long_run_without_punctuation_is_still_split() -> None:
    doc = make_document("long.txt", "零" * 1000)
    chunks = chunk_document(doc, ChunkingConfig(size=100, overlap=10))
    assert len(chunks) >= 10 and all(len(c.text) <= 100 for c in chunks)


def test_chunk_line_ranges_match_the_raw_file() -> None:
    doc = article()
    raw_lines = doc.raw.split("\n")
    for c in chunk_document(doc):
        first, last = c.lines
        assert 1 <= first <= last <= len(raw_lines)
        head = c.text_original[:4]
        assert head in raw_lines[first - 1].replace(",", "，") or head[:2] in raw_lines[first - 1]
    (c52,) = [c for c in chunk_document(doc) if "首批52個國家級零碳園區" in c.text_original]
    assert c52.lines == (14, 14)


def test_chunk_ids_are_stable_and_unique() -> None:
    a, b = chunk_document(article()), chunk_document(article())
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)
    doc = make_document("dup.txt", "同一句話。\n同一句話。")
    ids = [c.chunk_id for c in chunk_document(doc, ChunkingConfig(size=5, overlap=0))]
    assert len(set(ids)) == len(ids)


def test_paragraph_mode_never_crosses_a_paragraph_break() -> None:
    doc = article()
    chunks = chunk_document(doc, ChunkingConfig(size=700, overlap=140, paragraphs=True))
    assert all("\n" not in c.text_original for c in chunks)
    assert len(chunks) == doc.text.count("\n") + 1  # every paragraph of the article fits in one chunk


def test_long_paragraph_is_split_inside_itself() -> None:
    doc = make_document("p.txt", "短段落。\n" + "這是一個很長的句子，" * 60 + "完。")
    chunks = chunk_document(doc, ChunkingConfig(size=100, overlap=20, paragraphs=True))
    assert chunks[0].text_original == "短段落。" and len(chunks) > 5


def test_one_sentence_end_for_chunks_and_answers() -> None:
    """…… ends a sentence for the answer's sentences as it does for chunk boundaries."""
    from qa.chunking import SENTENCE_END, split_sentences

    text = "他停了一下……然后说：“好。”最后走了；再见！"
    assert [text[s:e] for s, e in split_sentences(text)] == ["他停了一下……", "然后说：“好。”", "最后走了；", "再见！"]
    assert "…" in SENTENCE_END
