"""The user's documents (qa/documents.py): safe names, checked uploads, atomic adds, removals, and the list.

Everything runs on private temporary folders; the index for the list is built with the fake encoder.
"""

from __future__ import annotations

import io
import os
import shutil
import types
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PdfWriter

import qa.documents
from qa.corpus import CORRECTIONS_FILE, corpus_files
from qa.documents import (
    MAX_NAME_CHARS,
    DocumentInfo,
    add_file,
    add_files,
    check_upload,
    human_size,
    list_documents,
    read_upload,
    remove_file,
    safe_name,
)
from qa.errors import QAError
from qa.pipeline import ensure_index
from tests.conftest import ARTICLE, FakeEncoder
from tests.docmaker import REPORT_PARAGRAPHS, REPORT_TABLE, REPORT_TITLE, make_docx

TEXT = "星河市零碳工厂建设指导意见。本意见适用于年综合能耗在3000吨标准煤以上的工业企业。\n".encode()


def _both(e: QAError, zh: str, en: str) -> None:
    """The error says the same thing in Chinese and in English."""
    assert zh in e.zh, e.zh
    assert en in e.en, e.en


def _pdf(pages: int = 1, password: str | None = None) -> bytes:
    """A PDF of blank pages (no text layer), optionally with a user password."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if password is not None:
        writer.encrypt(user_password=password, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _tree(folder: Path) -> list[str]:
    """Every path under ``folder`` (hidden ones too), relative and sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# ---------------------------------------------------------------- safe_name
@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("C:\\Users\\me\\报告.docx", "报告.docx"),
        ("a/b/c.PDF", "c.pdf"),
        ("/abs/path/notes.TXT", "notes.txt"),
        ("<script>.txt", "_script_.txt"),
        ("a|b?c*.md", "a_b_c_.md"),
        ("   .hidden.txt", "hidden.txt"),
        ("零碳工厂指南.pdf", "零碳工厂指南.pdf"),
        ("《指导意见》（2025）.docx", "《指导意见》（2025）.docx"),
        ("README.md", "doc-README.md"),
        ("readme.txt", "doc-readme.txt"),
        ("corrections.tsv", "doc-corrections.tsv"),
        ("", "document"),
        ("..", "document"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


@pytest.mark.parametrize("name", ["a\x00b.txt", "a\x1b[31mb.txt", "a\nb\r.txt", "a\u202eb.txt", "a\x7fb\tc.txt"])
def test_safe_name_drops_control_characters(name: str) -> None:
    safe = safe_name(name)
    assert safe.endswith(".txt")
    assert all(ch.isprintable() for ch in safe), repr(safe)
    assert "/" not in safe and "\\" not in safe


@pytest.mark.parametrize(
    ("name", "safe"), [("-rf.txt", "rf.txt"), ("--.md", "document.md"), ("a\u202etxt.exe.txt", "atxt.exe.txt")]
)
def test_safe_name_never_starts_with_a_dash_nor_keeps_a_bidi_override(name: str, safe: str) -> None:
    assert safe_name(name) == safe


@pytest.mark.parametrize("name", ["   .hidden.txt", ".env", "...txt", " . .x.md"])
def test_safe_name_is_never_hidden(name: str) -> None:
    safe = safe_name(name)
    assert safe and not safe.startswith(".") and not safe.startswith(" ")


def test_safe_name_cuts_a_long_name_and_keeps_its_suffix() -> None:
    safe = safe_name("很长的文件名" * 40 + ".DOCX")
    assert len(safe) <= MAX_NAME_CHARS and safe.endswith(".docx") and safe.startswith("很长的文件名")
    assert len(safe_name("x" * 500)) <= MAX_NAME_CHARS


def test_safe_name_is_nfc() -> None:
    assert safe_name("cafe\u0301.txt") == "caf\u00e9.txt"


def test_a_safe_name_is_its_own_safe_name() -> None:
    for name in ["../../a.txt", "<x>.md", "README.md", "零碳.pdf", " .h.txt", "a" * 300 + ".txt"]:
        assert safe_name(safe_name(name)) == safe_name(name)


def test_a_long_chinese_name_can_be_added(tmp_path: Path) -> None:
    title = "关于印发星河市零碳工厂建设指导意见及配套实施细则和专项资金管理办法的通知" * 3
    stored, _ = add_file(tmp_path / "corpus", title + ".txt", TEXT)
    assert (tmp_path / "corpus" / stored).read_bytes() == TEXT


# ---------------------------------------------------------------- check_upload
def test_check_upload_refuses_an_empty_file() -> None:
    for data in (b"", b"  \n\t "):
        with pytest.raises(QAError) as info:
            check_upload("empty.txt", data)
        _both(info.value, "为空", "empty")


def test_check_upload_refuses_a_file_over_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_FILE_MB", "0.001")  # 1048 bytes
    assert check_upload("small.txt", TEXT) == "small.txt"
    with pytest.raises(QAError) as info:
        check_upload("big.txt", TEXT * 20)
    _both(info.value, "过大", "too large")
    _both(info.value, "big.txt", "big.txt")


def test_check_upload_refuses_an_unsupported_type() -> None:
    with pytest.raises(QAError) as info:
        check_upload("sheet.xlsx", b"PK\x03\x04 whatever")
    _both(info.value, "不支持", "unsupported")


def test_check_upload_refuses_content_that_is_not_what_the_name_says() -> None:
    with pytest.raises(QAError) as info:
        check_upload("guide.pdf", TEXT)
    _both(info.value, "不符", "not what the extension")


def test_check_upload_refuses_encrypted_and_scanned_pdfs() -> None:
    with pytest.raises(QAError) as info:
        check_upload("secret.pdf", _pdf(password="secret"))
    _both(info.value, "加密", "encrypted")
    with pytest.raises(QAError) as info:
        check_upload("scan.pdf", _pdf(pages=2))
    _both(info.value, "OCR", "OCR")


def test_check_upload_accepts_real_files_under_their_safe_name(tmp_path: Path) -> None:
    assert check_upload("../notes.TXT", TEXT) == "notes.txt"
    docx = make_docx(tmp_path / "r.docx", REPORT_PARAGRAPHS, REPORT_TABLE, heading=REPORT_TITLE).read_bytes()
    assert check_upload("月亮湾 报告.docx", docx) == "月亮湾 报告.docx"


# ---------------------------------------------------------------- add_file
def test_add_file_writes_the_bytes_and_says_whether_it_replaced(tmp_path: Path) -> None:
    corpus = tmp_path / "new" / "corpus"
    assert add_file(corpus, "notes.txt", TEXT) == ("notes.txt", False)
    assert (corpus / "notes.txt").read_bytes() == TEXT
    other = "第二版。".encode() * 10
    assert add_file(corpus, "notes.txt", other, replace=True) == ("notes.txt", True)  # qa add
    assert (corpus / "notes.txt").read_bytes() == other
    assert _tree(corpus) == ["notes.txt"]  # no temporary (hidden) files left behind


@pytest.mark.parametrize("name", ["notes.txt", "notes.TXT", "notes.txt.", "/etc/notes.txt", "NOTES.txt"])
def test_an_upload_never_silently_replaces_a_document(tmp_path: Path, name: str) -> None:
    corpus = tmp_path / "corpus"
    add_file(corpus, "notes.txt", TEXT)
    with pytest.raises(QAError) as info:
        add_file(corpus, name, "第二版。".encode() * 10)
    _both(info.value, "同名文档", "already has a document named")
    assert (corpus / "notes.txt").read_bytes() == TEXT and _tree(corpus) == ["notes.txt"]


def test_a_batch_with_one_name_twice_adds_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    with pytest.raises(QAError) as info:
        add_files(corpus, [("a.txt", TEXT), ("b.txt", TEXT), ("A.TXT", TEXT)])
    _both(info.value, "重名", "share a name")
    assert not corpus.exists()


def test_add_file_stores_under_the_safe_name(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    assert add_file(corpus, "C:\\tmp\\README.md", TEXT) == ("doc-README.md", False)
    assert [p.name for p in corpus_files(corpus)] == ["doc-README.md"]  # listed, not ignored as a README


@pytest.mark.parametrize(
    "name", ["../../evil.txt", "../evil.txt", "/tmp/evil.txt", "..\\..\\evil.txt", "sub/../../e.txt"]
)
def test_add_file_never_writes_outside_the_corpus(tmp_path: Path, name: str) -> None:
    corpus = tmp_path / "a" / "corpus"
    corpus.mkdir(parents=True)
    before = _tree(tmp_path)
    stored, replaced = add_file(corpus, name, TEXT)
    assert not replaced and "/" not in stored and ".." not in stored
    assert _tree(tmp_path) == sorted([*before, f"a/corpus/{stored}"])
    assert (corpus / stored).read_bytes() == TEXT


def test_add_file_refused_writes_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    with pytest.raises(QAError):
        add_file(corpus, "guide.pdf", TEXT)
    with pytest.raises(QAError):
        add_file(corpus, "old.doc", TEXT)
    assert not corpus.exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_add_file_into_a_read_only_folder_is_a_bilingual_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    corpus.chmod(0o500)
    try:
        with pytest.raises(QAError) as info:
            add_file(corpus, "notes.txt", TEXT)
        _both(info.value, "无法写入", "Cannot write")
        assert list(corpus.iterdir()) == []
    finally:
        corpus.chmod(0o700)


def test_add_file_where_a_folder_has_the_name_is_a_bilingual_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "notes.txt").mkdir(parents=True)
    with pytest.raises(QAError) as info:
        add_file(corpus, "notes.txt", TEXT)
    _both(info.value, "无法写入", "Cannot write")
    assert _tree(corpus) == ["notes.txt"]


# ---------------------------------------------------------------- remove_file
def test_remove_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    add_file(corpus, "notes.txt", TEXT)
    add_file(corpus, "other.txt", TEXT)
    assert remove_file(corpus, "notes.txt") == "notes.txt"
    assert _tree(corpus) == ["other.txt"]


def test_remove_file_in_a_subfolder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "a.txt").write_bytes(TEXT)
    (corpus / "b.txt").write_bytes(TEXT)
    assert remove_file(corpus, "sub/a.txt") == "sub/a.txt"
    assert not (corpus / "sub" / "a.txt").exists()


def test_the_last_document_is_refused_before_anything_is_deleted(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    add_file(corpus, "notes.txt", TEXT)
    (corpus / "unsupported.xlsx").write_bytes(b"PK")  # not a document: notes.txt is still the last
    with pytest.raises(QAError) as info:
        remove_file(corpus, "notes.txt")
    _both(info.value, "最后一个文档", "last document")
    assert (corpus / "notes.txt").read_bytes() == TEXT


def test_qa_remove_of_the_last_document_refuses_and_keeps_it(tmp_path: Path) -> None:
    """``qa remove`` and ``Pipeline.remove_document`` share the refusal (it once deleted
    the file, then failed to index an empty corpus)."""
    from click.testing import CliRunner

    from qa.cli import main as cli

    corpus = tmp_path / "corpus"
    add_file(corpus, "notes.txt", TEXT)
    result = CliRunner().invoke(cli, ["remove", "notes.txt", "--corpus", str(corpus), "--index", str(tmp_path / "ix")])
    assert result.exit_code != 0 and "last document" in result.output and "Traceback" not in result.output
    assert (corpus / "notes.txt").read_bytes() == TEXT


def test_remove_an_unknown_file_is_a_bilingual_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("missing.txt", "", "."):
        with pytest.raises(QAError) as info:
            remove_file(corpus, name)
        assert info.value.zh and info.value.en
    with pytest.raises(QAError) as info:
        remove_file(corpus, "missing.txt")
    _both(info.value, "missing.txt", "missing.txt")
    _both(info.value, "没有这个文件", "No such document")


@pytest.mark.parametrize("name", ["../outside.txt", "sub/../../outside.txt", "{outside}"])
def test_remove_file_never_deletes_outside_the_corpus(tmp_path: Path, name: str) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(TEXT)
    with pytest.raises(QAError) as info:
        remove_file(corpus, name.format(outside=outside))
    assert info.value.zh and info.value.en
    assert outside.read_bytes() == TEXT


def test_remove_file_follows_no_link_out_of_the_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_bytes(TEXT)
    (corpus / "link.txt").symlink_to(outside)
    with pytest.raises(QAError):
        remove_file(corpus, "link.txt")
    assert outside.read_bytes() == TEXT


def test_the_corrections_list_and_hidden_files_cannot_be_removed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / CORRECTIONS_FILE).write_text("错\t对\t原因\n", encoding="utf-8")
    (corpus / ".hidden.txt").write_bytes(TEXT)
    for name in (CORRECTIONS_FILE, ".hidden.txt"):
        with pytest.raises(QAError) as info:
            remove_file(corpus, name)
        assert info.value.zh and info.value.en
    assert (corpus / CORRECTIONS_FILE).is_file() and (corpus / ".hidden.txt").is_file()


# ---------------------------------------------------------------- read_upload
def test_read_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(TEXT)
    assert read_upload(path) == TEXT
    with pytest.raises(QAError) as info:
        read_upload(tmp_path / "missing.txt")
    _both(info.value, "找不到文件", "File not found")
    with pytest.raises(QAError):
        read_upload(tmp_path)  # a folder is not a file
    monkeypatch.setenv("QA_MAX_FILE_MB", "0.00001")  # 10 bytes
    with pytest.raises(QAError) as info:
        read_upload(path)
    _both(info.value, "过大", "too large")


# ---------------------------------------------------------------- list_documents and catalog
def _rows(corpus: Path, index: Path) -> dict[str, DocumentInfo]:
    return {r.name: r for r in list_documents(corpus, index)}


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path]:
    """A corpus with the article, a DOCX, a legacy .doc and a binary .txt; and its index folder."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    make_docx(corpus / "report.docx", REPORT_PARAGRAPHS, REPORT_TABLE, heading=REPORT_TITLE)
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00junk" * 50)
    (corpus / "blob.txt").write_bytes(b"\x00\x01\x02\x03" * 300)
    (corpus / "README.md").write_text("# 说明\n", encoding="utf-8")
    return corpus, tmp_path / "index"


def test_list_documents_before_any_index_says_pending(library: tuple[Path, Path]) -> None:
    corpus, index = library
    rows = _rows(corpus, index)
    assert rows[ARTICLE.name].status == "pending" and rows["report.docx"].status == "pending"
    assert rows[ARTICLE.name].chunks is None and rows[ARTICLE.name].indexed == ""
    assert rows["old.doc"].status == "skipped"


def test_list_documents_after_a_build(library: tuple[Path, Path]) -> None:
    corpus, index = library
    ensure_index(corpus, index, FakeEncoder(), progress=False)
    rows = _rows(corpus, index)
    assert sorted(rows) == ["blob.txt", "old.doc", "report.docx", ARTICLE.name]  # no README
    assert [r.name for r in list_documents(corpus, index)] == sorted(rows)
    for name, kind in ((ARTICLE.name, "txt"), ("report.docx", "docx")):
        row = rows[name]
        assert row.status == "indexed" and row.kind == kind and row.reason == ""
        assert row.bytes == (corpus / name).stat().st_size
        assert row.pages is None
        assert row.chunks is not None and row.chunks >= 1
        assert datetime.strptime(row.indexed, "%Y-%m-%dT%H:%M:%S%z")
        assert row.to_json()["name"] == name
    doc = rows["old.doc"]
    assert doc.status == "skipped" and doc.kind == "-" and doc.bytes == (corpus / "old.doc").stat().st_size
    assert "unsupported" in doc.reason and "不支持" in doc.reason and doc.chunks is None
    blob = rows["blob.txt"]
    assert blob.status == "skipped" and blob.kind == "txt" and blob.chunks is None
    assert "二进制" in blob.reason and "binary" in blob.reason
    assert not blob.reason.startswith("blob.txt")


def test_a_skipped_unsupported_file_reason_does_not_repeat_its_name(library: tuple[Path, Path]) -> None:
    corpus, index = library
    ensure_index(corpus, index, FakeEncoder(), progress=False)
    reason = _rows(corpus, index)["old.doc"].reason
    assert not reason.startswith("old.doc") and "old.doc:" not in reason and "old.doc：" not in reason


def test_a_changed_file_is_pending_until_rebuilt_and_an_unchanged_one_keeps_its_time(
    library: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index = library
    ensure_index(corpus, index, FakeEncoder(), progress=False)
    first = _rows(corpus, index)
    make_docx(corpus / "report.docx", [*REPORT_PARAGRAPHS, "新增的一段。"], REPORT_TABLE, heading=REPORT_TITLE)
    (corpus / "new.md").write_text("# 新文件\n\n新文件的正文。\n", encoding="utf-8")
    rows = _rows(corpus, index)
    assert rows["report.docx"].status == "pending" and rows["report.docx"].chunks is None
    assert rows["report.docx"].bytes == (corpus / "report.docx").stat().st_size
    assert rows["new.md"].status == "pending" and rows["new.md"].kind == "md"
    assert rows[ARTICLE.name] == first[ARTICLE.name]

    later = "2099-01-01T00:00:00+0000"
    monkeypatch.setattr(qa.documents, "time", types.SimpleNamespace(strftime=lambda _fmt: later))
    ensure_index(corpus, index, FakeEncoder(), progress=False)
    rows = _rows(corpus, index)
    assert {r.status for n, r in rows.items() if n not in ("old.doc", "blob.txt")} == {"indexed"}
    assert rows["report.docx"].indexed == later and rows["new.md"].indexed == later
    assert rows[ARTICLE.name].indexed == first[ARTICLE.name].indexed != later


def test_a_removed_file_leaves_the_list(library: tuple[Path, Path]) -> None:
    corpus, index = library
    ensure_index(corpus, index, FakeEncoder(), progress=False)
    remove_file(corpus, "report.docx")
    assert "report.docx" not in _rows(corpus, index)


# ---------------------------------------------------------------- human_size
@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (16 * 1024 * 1024, "16.0 MB")]
)
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text
