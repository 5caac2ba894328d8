"""Format loaders (qa/loaders.py): content sniffing, PDF/DOCX/HTML/TXT text views, and their refusals.

PDFs are real files printed by headless Chromium (tests/docmaker.py), made once per module; encrypted,
scanned and broken PDFs are made with pypdf. Every refusal is a bilingual QAError, never another exception.
"""

from __future__ import annotations

import io
import random
import re
import unicodedata
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from qa.chunking import ChunkingConfig, chunk_document
from qa.corpus import make_document
from qa.errors import QAError
from qa.loaders import SUPPORTED_LIST, Loaded, check_content, html_text, load_bytes, load_pdf, sniff, table_lines
from qa.types import Document
from tests import docmaker
from tests.docmaker import (
    GUIDE_HEADER,
    GUIDE_PAGES,
    GUIDE_QUESTIONS,
    NEWS_PARAGRAPHS,
    NEWS_TITLE,
    REPORT_PARAGRAPHS,
    REPORT_TABLE,
    REPORT_TITLE,
    make_docx,
    make_html,
    make_pdf,
)

KANGXI = re.compile("[\u2f00-\u2fdf]")
RADICALS_SUPPLEMENT = re.compile("[\u2e80-\u2eff]")


def _flat(text: str) -> str:
    """NFKC (Kangxi radicals -> unified characters) with all whitespace removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _pdf_bytes(writer: PdfWriter) -> bytes:
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _blank_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages have no text layer at all (what a scan without OCR looks like to pypdf)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    return _pdf_bytes(writer)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _both(e: QAError, zh: str, en: str) -> None:
    """The error says the same thing in Chinese and in English."""
    assert zh in e.zh, e.zh
    assert en in e.en, e.en


@pytest.fixture(scope="module")
def guide_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The 3-page guide printed by Chromium, with a running header and "第 N 页" footers."""
    if docmaker.chromium_path() is None:
        pytest.skip("no Chromium on PATH (chromium, chromium-browser or google-chrome): cannot print PDFs")
    path = make_pdf(tmp_path_factory.mktemp("pdf") / "guide.pdf", GUIDE_PAGES, header=GUIDE_HEADER, footer_numbers=True)
    return path.read_bytes()


@pytest.fixture(scope="module")
def guide_loaded(guide_pdf: bytes) -> Loaded:
    return load_pdf(guide_pdf, "guide.pdf")


@pytest.fixture(scope="module")
def guide_doc(guide_loaded: Loaded) -> Document:
    return make_document("guide.pdf", guide_loaded.text, (), guide_loaded.kind, guide_loaded.page_starts)


@pytest.fixture(scope="module")
def report_docx(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = make_docx(
        tmp_path_factory.mktemp("docx") / "report.docx", REPORT_PARAGRAPHS, REPORT_TABLE, heading=REPORT_TITLE
    )
    return path.read_bytes()


# ---------------------------------------------------------------- sniff
@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf", b"  \r\n\t", b"\xef\xbb\xbf\n "])
def test_sniff_pdf_even_after_a_bom_or_whitespace(prefix: bytes) -> None:
    assert sniff(prefix + b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n") == "pdf"


def test_sniff_docx_zip_binary_and_text(report_docx: bytes) -> None:
    assert sniff(report_docx) == "docx"
    assert sniff(_zip({"a.txt": b"hello"})) == "zip"
    assert sniff(b"PK\x03\x04 not really a zip") == "binary"
    noise = bytes(random.Random(1).randrange(256) for _ in range(4000)) + b"\x00" * 50
    assert sniff(noise) == "binary"
    assert sniff("零碳工厂建设指导意见。第二句。\n".encode()) == "text"
    assert sniff("零碳工厂".encode("utf-16")) == "text"  # with a BOM: NUL bytes but text
    assert sniff(b"\xfe\xff" + "零碳工厂".encode("utf-16-be")) == "text"


def test_a_stray_nul_or_two_in_text_is_still_text() -> None:
    assert sniff("零碳工厂。".encode() * 50 + b"\x00") == "text"


# ---------------------------------------------------------------- check_content
def test_a_pdf_name_holding_text_is_refused() -> None:
    with pytest.raises(QAError) as info:
        check_content("这不是PDF，只是文字。".encode(), "guide.pdf")
    _both(info.value, "纯文本", "plain text")
    _both(info.value, ".pdf", ".pdf")
    _both(info.value, "guide.pdf", "guide.pdf")


def test_a_docx_name_holding_a_plain_zip_is_refused() -> None:
    with pytest.raises(QAError) as info:
        check_content(_zip({"a.txt": b"hello"}), "report.docx")
    _both(info.value, "ZIP", "ZIP")
    _both(info.value, ".docx", ".docx")


def test_a_txt_name_holding_a_pdf_is_refused() -> None:
    with pytest.raises(QAError) as info:
        check_content(b"%PDF-1.7\n...", "notes.txt")
    _both(info.value, "PDF", "PDF")
    _both(info.value, ".txt", ".txt")


def test_a_txt_name_holding_a_docx_is_refused(report_docx: bytes) -> None:
    with pytest.raises(QAError) as info:
        check_content(report_docx, "report.txt")
    _both(info.value, "DOCX", "DOCX")


@pytest.mark.parametrize("name", ["old.doc", "table.xlsx", "slides.PPTX", "Makefile"])
def test_unsupported_suffixes_are_refused_with_the_supported_list(name: str) -> None:
    with pytest.raises(QAError) as info:
        check_content(b"whatever", name)
    _both(info.value, "不支持", "unsupported")
    _both(info.value, SUPPORTED_LIST, SUPPORTED_LIST)
    for suffix in (".pdf", ".docx", ".txt", ".md", ".html"):
        assert suffix in info.value.zh and suffix in info.value.en


def test_no_extension_is_named_in_both_languages() -> None:
    with pytest.raises(QAError) as info:
        check_content(b"whatever", "Makefile")
    _both(info.value, "无扩展名", "no extension")


def test_no_extension_message_has_single_brackets() -> None:
    with pytest.raises(QAError) as info:
        check_content(b"whatever", "Makefile")
    assert "（（" not in info.value.zh and "））" not in info.value.zh


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.TXT", "a.markdown", "a.htm", "a.text"])
def test_text_formats_accept_text(name: str) -> None:
    kind = check_content("正文。".encode(), name)
    assert kind in ("txt", "md", "html")


# ---------------------------------------------------------------- PDF
def test_pdf_pages_and_their_text(guide_pdf: bytes, guide_loaded: Loaded) -> None:
    loaded = guide_loaded
    assert loaded.kind == "pdf"
    assert loaded.pages == 3 and len(loaded.page_starts) == 3
    assert loaded.page_starts[0] == 0
    assert list(loaded.page_starts) == sorted(set(loaded.page_starts))
    bounds = [*loaded.page_starts[1:], len(loaded.text)]
    page_texts = [_flat(loaded.text[s:e]) for s, e in zip(loaded.page_starts, bounds, strict=True)]
    for _question, answer, page in GUIDE_QUESTIONS:
        for k, text in enumerate(page_texts, start=1):
            assert (answer in text) == (k == page), (answer, k)
    assert load_bytes(guide_pdf, "guide.pdf") == loaded


def test_pdf_text_through_the_cleaner_has_no_radicals_headers_or_page_numbers(guide_doc: Document) -> None:
    text = guide_doc.text
    assert guide_doc.kind == "pdf" and guide_doc.pages == 3
    assert KANGXI.search(text) is None
    assert RADICALS_SUPPLEMENT.search(text) is None
    assert GUIDE_HEADER not in text and GUIDE_HEADER.replace(" ", "") not in text
    assert "星工信发" not in text and "〔2025〕37号" not in text
    assert "第 1 页" not in text and "第1页" not in text
    assert re.search(r"第\s*\d+\s*[页⻚]", text) is None
    assert text.startswith("《星河市零碳工厂建设指导意见》")
    assert text.endswith("本意见自2025年11月1日起施行。")


def test_each_gold_answer_is_on_its_page_in_the_cleaned_text(guide_doc: Document) -> None:
    assert guide_doc.page_of(0) == 1
    assert guide_doc.page_of(len(guide_doc.text) - 1) == 3
    for _question, answer, page in GUIDE_QUESTIONS:
        assert guide_doc.text.count(answer) == 1, answer
        assert guide_doc.page_of(guide_doc.text.index(answer)) == page, answer


def test_each_page_starts_where_its_first_sentence_starts(guide_doc: Document) -> None:
    starts = guide_doc.clean_page_starts
    assert len(starts) == 2
    assert guide_doc.text[starts[0] :].startswith("三、重点任务")
    assert guide_doc.text[starts[1] :].startswith("四、保障措施")
    assert guide_doc.page_of(starts[0] - 1) == 1 and guide_doc.page_of(starts[0]) == 2
    assert guide_doc.page_of(starts[1] - 1) == 2 and guide_doc.page_of(starts[1]) == 3


def test_chunks_know_the_page_of_each_gold_answer(guide_doc: Document) -> None:
    chunks = chunk_document(guide_doc)
    assert chunks and all(c.page in (1, 2, 3) for c in chunks)
    for _question, answer, page in GUIDE_QUESTIONS:
        at = guide_doc.text.index(answer)
        holding = [c for c in chunks if c.start <= at and at + len(answer) <= c.end]
        assert holding, answer
        for chunk in holding:
            assert chunk.text_original[at - chunk.start :].startswith(answer)
            assert chunk.page_at(at - chunk.start) == page, answer


def test_a_chunk_across_pages_records_where_each_page_begins(guide_doc: Document) -> None:
    (chunk,) = chunk_document(guide_doc, ChunkingConfig(size=5000, overlap=0, paragraphs=False))
    assert chunk.page == 1
    assert len(chunk.page_breaks) == 2
    assert chunk.page_at(0) == 1 and chunk.page_at(len(chunk.text) - 1) == 3
    for _question, answer, page in GUIDE_QUESTIONS:
        assert chunk.page_at(chunk.text_original.index(answer)) == page, answer


def test_a_pdf_with_a_user_password_is_refused_as_encrypted() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    with pytest.raises(QAError) as info:
        load_bytes(_pdf_bytes(writer), "secret.pdf")
    _both(info.value, "加密", "encrypted")


def test_the_guide_with_a_user_password_is_refused_as_encrypted(guide_pdf: bytes) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(guide_pdf)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with pytest.raises(QAError) as info:
        load_pdf(_pdf_bytes(writer), "secret.pdf")
    _both(info.value, "加密", "encrypted")
    _both(info.value, "密码", "password")


def test_a_pdf_with_only_an_owner_password_is_read(guide_pdf: bytes, guide_loaded: Loaded) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(guide_pdf)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    data = _pdf_bytes(writer)
    assert PdfReader(io.BytesIO(data)).is_encrypted
    loaded = load_bytes(data, "restricted.pdf")
    assert loaded.kind == "pdf" and loaded.pages == 3
    assert _flat(loaded.text) == _flat(guide_loaded.text)


def test_a_pdf_without_a_text_layer_asks_for_ocr() -> None:
    with pytest.raises(QAError) as info:
        load_bytes(_blank_pdf(3), "scan.pdf")
    _both(info.value, "文字层", "text layer")
    _both(info.value, "OCR", "OCR")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n garbage", b"%PDF-1.4\n" + bytes(range(256)) * 4, _blank_pdf(1)[:300], _blank_pdf(1)[:-40]],
    ids=["header-only", "header-then-noise", "blank-truncated-300", "blank-without-trailer"],
)
def test_a_broken_pdf_is_a_bilingual_error(data: bytes) -> None:
    with pytest.raises(QAError) as info:
        load_bytes(data, "broken.pdf")
    _both(info.value, "损坏", "damaged or cannot be parsed")


def test_a_truncated_real_pdf_is_a_bilingual_error(guide_pdf: bytes) -> None:
    for n in (300, len(guide_pdf) // 3, len(guide_pdf) - 30):
        with pytest.raises(QAError) as info:
            load_pdf(guide_pdf[:n], "cut.pdf")
        _both(info.value, "损坏", "damaged or cannot be parsed")


def test_a_corrupted_real_pdf_loads_or_is_refused_never_crashes(guide_pdf: bytes) -> None:
    rng = random.Random(20250918)
    for _ in range(4):
        data = bytearray(guide_pdf)
        for _ in range(20):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            loaded = load_pdf(bytes(data), "noisy.pdf")
        except QAError as e:
            assert e.zh and e.en
        else:
            assert loaded.kind == "pdf" and loaded.page_starts[0] == 0


# ---------------------------------------------------------------- DOCX
def test_docx_heading_paragraphs_and_table_rows_are_blocks(report_docx: bytes) -> None:
    loaded = load_bytes(report_docx, "report.docx")
    assert loaded.kind == "docx" and loaded.page_starts == () and loaded.pages is None
    blocks = loaded.text.split("\n\n")
    header = REPORT_TABLE[0]
    rows = [f"{r[0]}：{header[1]}为{r[1]}；{header[2]}为{r[2]}。" for r in REPORT_TABLE[1:]]
    n = 1 + len(REPORT_PARAGRAPHS)
    assert blocks[:n] == [REPORT_TITLE, *REPORT_PARAGRAPHS]
    assert "".join(blocks[n:]) == "".join(rows)  # each row one sentence (one block or one block each)
    assert "总用电量：2024年为4.2亿千瓦时；2025年为4.6亿千瓦时。" in loaded.text
    assert "指标" not in loaded.text  # the header row names the values; it is not a row of its own


def test_a_docx_table_row_names_its_columns(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "t.docx", ["正文。"], [("指标", "2024年", "2025年"), ("指标值", "a", "b")])
    assert load_bytes(path.read_bytes(), "t.docx").text.split("\n\n") == ["正文。", "指标值：2024年为a；2025年为b。"]


def test_a_docx_row_with_two_equal_values_keeps_both(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "t.docx", ["正文。"], [("指标", "2024年", "2025年"), ("绿电占比", "23%", "23%")])
    assert "绿电占比：2024年为23%；2025年为23%。" in load_bytes(path.read_bytes(), "t.docx").text


@pytest.mark.parametrize("paragraphs", [[], ["", "   ", "\t"]], ids=["none", "blank"])
def test_a_docx_without_text_is_refused(tmp_path: Path, paragraphs: list[str]) -> None:
    path = make_docx(tmp_path / "empty.docx", paragraphs)
    with pytest.raises(QAError) as info:
        load_bytes(path.read_bytes(), "empty.docx")
    _both(info.value, "没有文字", "no text")


def test_a_docx_with_garbage_xml_is_a_bilingual_error(report_docx: bytes) -> None:
    src = zipfile.ZipFile(io.BytesIO(report_docx))
    files = {i.filename: src.read(i.filename) for i in src.infolist()}
    files["word/document.xml"] = b"<w:document this is <not xml"
    data = _zip(files)
    assert sniff(data) == "docx"
    with pytest.raises(QAError) as info:
        load_bytes(data, "corrupt.docx")
    _both(info.value, "损坏", "damaged or cannot be parsed")


def test_a_bare_zip_with_a_word_document_is_a_bilingual_error() -> None:
    data = _zip({"word/document.xml": b"garbage"})
    with pytest.raises(QAError) as info:
        load_bytes(data, "bare.docx")
    _both(info.value, "损坏", "damaged or cannot be parsed")


# ---------------------------------------------------------------- table_lines
def test_table_lines_header_and_rows() -> None:
    rows = [["指标", "2024年", "2025年"], ["总用电量", "4.2亿千瓦时", "4.6亿千瓦时"], ["绿电占比", "23%", "38%"]]
    assert table_lines(rows) == [
        "总用电量：2024年为4.2亿千瓦时；2025年为4.6亿千瓦时。",
        "绿电占比：2024年为23%；2025年为38%。",
    ]


def test_a_merged_docx_cell_is_read_once(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["指标", "2024年", "2025年"], ["总用电量", "4.2亿", "4.6亿"], ["说明", "口径一致", ""]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.cell(2, 1).merge(table.cell(2, 2))  # one cell over two grid columns, listed twice by python-docx
    path = tmp_path / "merged.docx"
    document.save(str(path))
    text = load_bytes(path.read_bytes(), "merged.docx").text
    assert "总用电量：2024年为4.2亿；2025年为4.6亿。" in text
    assert text.count("口径一致") == 1


def test_table_lines_squeeze_whitespace_skip_empty_rows_and_cells() -> None:
    rows = [["指标", "2024 年", "2025年"], ["", "", ""], ["绿电\n占比", "23%", ""], ["备注", "", "无"]]
    assert table_lines(rows) == ["绿电 占比：2024 年为23%。", "备注：2025年为无。"]


def test_table_lines_keep_equal_neighbouring_values() -> None:
    rows = [["指标", "2024年", "2025年"], ["绿电占比", "23%", "23%"], ["备注", "", ""]]
    assert table_lines(rows) == ["绿电占比：2024年为23%；2025年为23%。", "备注"]


def test_table_lines_ragged_rows_fall_back_to_bars() -> None:
    rows = [["指标", "2024年", "2025年"], ["绿电占比", "23%", "38%"], ["注", "数据来自统计局"]]
    assert table_lines(rows) == ["绿电占比：2024年为23%；2025年为38%。", "注 | 数据来自统计局"]


def test_table_lines_single_row_and_single_column() -> None:
    assert table_lines([["名称", "数值"]]) == ["名称 | 数值"]
    assert table_lines([["甲"], ["乙"]]) == ["甲", "乙"]
    assert table_lines([]) == []


# ---------------------------------------------------------------- HTML
@pytest.fixture(scope="module")
def news_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_html(tmp_path_factory.mktemp("html") / "news.html", NEWS_TITLE, NEWS_PARAGRAPHS).read_text("utf-8")


def test_html_main_text_without_boilerplate(news_html: str) -> None:
    text = html_text(news_html)
    assert NEWS_TITLE in text
    for para in NEWS_PARAGRAPHS:
        assert para in text
    for junk in ("首页", "关于我们", "联系我们", "相关阅读", "版权所有", "备案号", "夏季用电安全提示"):
        assert junk not in text, junk
    for code in ("dataLayer", "track(", "font-family", "list-style", "{"):
        assert code not in text, code


def test_html_paragraphs_are_their_own_lines(news_html: str) -> None:
    lines = html_text(news_html).split("\n\n")
    for para in NEWS_PARAGRAPHS:
        assert para in lines


def test_a_bare_html_page_still_gives_its_text() -> None:
    assert html_text("<html><body><p>短文本。</p></body></html>") == "短文本。"


def test_the_fallback_drops_script_style_and_keeps_the_title() -> None:
    page = (
        "<html><head><title>页面标题</title><style>p { color: red }</style></head>"
        "<body><script>var secret = 1;</script><p>短文本。</p></body></html>"
    )
    text = html_text(page)
    assert "短文本。" in text and "页面标题" in text
    assert "secret" not in text and "color" not in text


def test_gbk_html_is_decoded(tmp_path: Path) -> None:
    page = (
        '<!DOCTYPE html><html><head><meta charset="gbk"><title>白鹭湖新闻</title></head><body><article>'
        f"<h1>{NEWS_TITLE}</h1>" + "".join(f"<p>{p}</p>" for p in NEWS_PARAGRAPHS) + "</article></body></html>"
    )
    loaded = load_bytes(page.encode("gbk"), "news.html")
    assert loaded.kind == "html" and loaded.pages is None
    for para in NEWS_PARAGRAPHS:
        assert para in loaded.text
    assert "\ufffd" not in loaded.text


# ---------------------------------------------------------------- TXT and Markdown
@pytest.mark.parametrize(
    ("name", "kind"), [("notes.txt", "txt"), ("notes.md", "md"), ("notes.markdown", "md"), ("notes.text", "txt")]
)
def test_text_files_are_returned_as_decoded(name: str, kind: str) -> None:
    text = "# 零碳工厂\n\n第一段，含 English words 与数字 2025。\n\n- 列表项一\n- 列表项二\n"
    loaded = load_bytes(text.encode("utf-8"), name)
    assert loaded == Loaded(text, kind)
    assert loaded.page_starts == () and loaded.pages is None


def test_utf16_and_gbk_text_files_are_decoded() -> None:
    text = "零碳工厂建设指导意见。本意见适用于星河市行政区域内的工业企业。"
    assert load_bytes(text.encode("utf-16"), "a.txt").text == text
    assert load_bytes(text.encode("gbk"), "a.txt").text == text


def test_a_text_name_holding_binary_is_refused() -> None:
    with pytest.raises(QAError) as info:
        load_bytes(b"\x00\x01\x02" * 400, "blob.txt")
    _both(info.value, "二进制", "binary")
