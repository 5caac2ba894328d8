"""Corpus loading: encodings, bad files, corrections and the garble report."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.corpus import check_corpus, find_suspicious, load_corpus, load_corrections, read_text
from qa.errors import QAError
from tests.conftest import ARTICLE, CORPUS


def test_the_article_is_the_shared_file_byte_for_byte() -> None:
    shared = CORPUS.parents[1] / "shared" / "corpus" / ARTICLE.name
    if not shared.exists():
        pytest.skip("../shared/corpus is not present")
    assert ARTICLE.read_bytes() == shared.read_bytes()


def test_garbled_spans_are_reported_with_line_and_column() -> None:
    report, skipped = check_corpus(CORPUS)
    assert skipped == []
    where = {(s.line, s.column): s for s in report}
    assert (9, 25) in where and where[(9, 25)].text.startswith("?!鼻迦A")
    assert (15, 232) in where and "?;瘧?" in where[(15, 232)].text
    assert all(s.corrected for s in report)
    assert len(report) == 2


def test_without_corrections_they_are_reported_as_uncorrected() -> None:
    found = find_suspicious("a.txt", ARTICLE.read_text(encoding="utf-8"))
    assert len(found) == 2 and not any(s.corrected for s in found)


def test_clean_text_has_no_false_alarms() -> None:
    assert find_suspicious("ok.txt", "這是正常的句子。你好嗎?\n(ESG)報告，1,000個。") == []


def test_replacement_character_is_reported() -> None:
    (s,) = find_suspicious("x.txt", "第一行\n零碳\ufffd\ufffd園區")
    assert (s.line, s.column, s.kind) == (2, 3, "replacement-character")


@pytest.mark.parametrize("encoding", ["gbk", "big5", "utf-8-sig", "utf-16"])
def test_legacy_encodings_are_decoded(tmp_path: Path, encoding: str) -> None:
    text = "零碳園區建設是重塑產業競爭力的重要支撐，首批五十二個國家級園區已經公布。" * 3
    if encoding == "gbk":
        text = "零碳园区建设是重塑产业竞争力的重要支撑，首批五十二个国家级园区已经公布。" * 3
    p = tmp_path / "a.txt"
    p.write_bytes(text.encode(encoding))
    assert read_text(p).strip("\ufeff") == text


def test_bad_files_are_skipped_with_reasons_and_others_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("零碳園區。", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    docs, skipped = load_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["good.txt"]
    reasons = {s.path: s.en for s in skipped}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert all(s.zh for s in skipped)


def test_missing_corpus_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="Corpus folder not found"):
        load_corpus(tmp_path / "nope")


def test_corrections_file_is_parsed() -> None:
    fixes = load_corrections(CORPUS)
    assert len(fixes) == 2 and all(f.reason for f in fixes)


def test_document_line_ranges_point_at_raw_lines() -> None:
    (doc,), _ = load_corpus(CORPUS)
    raw_lines = doc.raw.split("\n")
    for needle in ("首批52個國家級零碳園區", "逐步拓展至鋼鐵", "建筑學院教授李曉鋒"):
        start = doc.text.index(needle)
        first, last = doc.line_range(start, start + len(needle))
        assert needle[:3] in raw_lines[first - 1]
        assert first <= last
    s = doc.text.index("逐步拓展至鋼鐵、有色金屬、石化化工、建材")
    assert doc.line_range(s, s + len("逐步拓展至鋼鐵、有色金屬、石化化工、建材")) == (18, 22)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(
    "text",
    [
        "零碳园区是指（2025年）\n首批52个。\n" * 20,
        "零碳园区是指通过节能降碳实现净零排放的园区" * 5,
        "他說：這是第一次。" * 9,
    ],
)
def test_utf16_without_a_bom_is_text_not_binary(encoding: str, text: str) -> None:
    """With ASCII (NULs in every other byte) or without (no NULs at all), both byte orders."""
    from qa.corpus import decode_bytes
    from qa.loaders import sniff

    data = text.encode(encoding)
    assert sniff(data) in ("text", "binary")  # a text format's bytes go to the decoder either way
    assert decode_bytes(data, "x.txt") == text


def test_16_bit_numbers_are_not_mistaken_for_utf16() -> None:
    import struct

    from qa.loaders import sniff, utf16_unmarked

    data = struct.pack("<2000H", *[i % 200 for i in range(2000)])
    assert utf16_unmarked(data) is None and sniff(data) == "binary"
