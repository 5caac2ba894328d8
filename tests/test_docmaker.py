"""The document makers in tests/docmaker.py write readable files, and the sample content keeps its promises."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests import docmaker
from tests.conftest import ARTICLE
from tests.docmaker import (
    GUIDE_HEADER,
    GUIDE_PAGES,
    GUIDE_QUESTIONS,
    NEWS_PARAGRAPHS,
    NEWS_QUESTIONS,
    NEWS_TITLE,
    REPORT_PARAGRAPHS,
    REPORT_QUESTIONS,
    REPORT_TABLE,
    REPORT_TITLE,
    long_pages,
    make_docx,
    make_html,
    make_pdf,
)


def _flat(text: str) -> str:
    """NFKC (Kangxi radicals -> unified characters) with all whitespace removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture
def needs_chromium() -> None:
    if docmaker.chromium_path() is None:
        pytest.skip("no Chromium on PATH (chromium, chromium-browser or google-chrome): cannot print PDFs")


def _pdf_texts(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


def test_guide_answers_occur_once_on_their_page() -> None:
    whole = "".join(GUIDE_PAGES)
    assert len(GUIDE_QUESTIONS) >= 6
    for question, answer, page in GUIDE_QUESTIONS:
        assert answer in GUIDE_PAGES[page - 1], question
        assert whole.count(answer) == 1, answer
    assert all(sum(p == n for _, _, p in GUIDE_QUESTIONS) >= 2 for n in (1, 2, 3))
    assert all(len(p) <= docmaker.MAX_PAGE_CHARS for p in GUIDE_PAGES)


def test_report_and_news_answers_occur_once() -> None:
    report = "\n".join(REPORT_PARAGRAPHS) + "\n" + "\n".join("\t".join(row) for row in REPORT_TABLE)
    for _, answer in REPORT_QUESTIONS:
        assert report.count(answer) == 1, answer
    cells = {cell for row in REPORT_TABLE[1:] for cell in row}
    assert any(a in cells and a not in "".join(REPORT_PARAGRAPHS) for _, a in REPORT_QUESTIONS)
    news = "\n".join(NEWS_PARAGRAPHS)
    for _, answer in NEWS_QUESTIONS:
        assert news.count(answer) == 1, answer


def test_sample_answers_are_not_in_the_real_article() -> None:
    import opencc

    article = opencc.OpenCC("t2s").convert(ARTICLE.read_text(encoding="utf-8"))
    answers = [a for _, a, _ in GUIDE_QUESTIONS] + [a for _, a in REPORT_QUESTIONS] + [a for _, a in NEWS_QUESTIONS]
    assert [a for a in answers if a in article] == []


def test_long_pages_vary_and_fit() -> None:
    pages = long_pages(20)
    assert len(pages) == 20
    assert len(set(pages)) == 20
    assert all(400 <= len(p) <= docmaker.MAX_PAGE_CHARS for p in pages)


@pytest.mark.usefixtures("needs_chromium")
def test_make_pdf_pages_hold_their_facts(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "guide.pdf", GUIDE_PAGES)
    texts = _pdf_texts(path)
    assert len(texts) == 3
    for question, answer, page in GUIDE_QUESTIONS:
        assert _flat(answer) in _flat(texts[page - 1]), question


@pytest.mark.usefixtures("needs_chromium")
def test_make_pdf_header_and_page_numbers_on_every_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "guide.pdf", GUIDE_PAGES, header=GUIDE_HEADER, footer_numbers=True)
    texts = _pdf_texts(path)
    assert len(texts) == 3
    for n, text in enumerate(texts, start=1):
        flat = _flat(text)
        assert _flat(GUIDE_HEADER) in flat
        # Chromium's text layer may give 页 as ⻚ (CJK Radicals Supplement), which NFKC leaves alone.
        assert re.search(rf"第{n}[页⻚]", flat), flat[-20:]
    for _, answer, page in GUIDE_QUESTIONS:
        assert _flat(answer) in _flat(texts[page - 1])


def test_make_pdf_without_chromium_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docmaker, "chromium_path", lambda: None)
    with pytest.raises(RuntimeError, match="Chromium"):
        make_pdf(tmp_path / "x.pdf", ["一页。"])


@pytest.mark.slow
@pytest.mark.usefixtures("needs_chromium")
def test_make_pdf_long_document(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "manual.pdf", long_pages(20))
    texts = _pdf_texts(path)
    assert len(texts) == 20
    assert "第20节" in _flat(texts[19])


def test_make_docx_reads_back(tmp_path: Path) -> None:
    from docx import Document

    path = make_docx(tmp_path / "report.docx", REPORT_PARAGRAPHS, REPORT_TABLE, heading=REPORT_TITLE)
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == REPORT_TITLE
    for para in REPORT_PARAGRAPHS:
        assert para in texts
    assert len(doc.tables) == 1
    rows = [tuple(cell.text for cell in row.cells) for row in doc.tables[0].rows]
    assert rows == [tuple(r) for r in REPORT_TABLE]


def test_make_docx_without_table_or_heading(tmp_path: Path) -> None:
    from docx import Document

    doc = Document(str(make_docx(tmp_path / "plain.docx", ["第一段。", "第二段。"])))
    assert [p.text for p in doc.paragraphs] == ["第一段。", "第二段。"]
    assert doc.tables == []


def test_make_html_has_article_and_boilerplate(tmp_path: Path) -> None:
    path = make_html(tmp_path / "news.html", NEWS_TITLE, NEWS_PARAGRAPHS)
    raw = path.read_bytes()
    page = raw.decode("utf-8")
    assert '<meta charset="utf-8">' in page
    article = page[page.index("<article>") : page.index("</article>")]
    assert f"<h1>{NEWS_TITLE}</h1>" in article
    for para in NEWS_PARAGRAPHS:
        assert f"<p>{para}</p>" in article
    nav = page[page.index("<nav") : page.index("</nav>")]
    for word in ("首页", "新闻", "关于我们", "联系我们"):
        assert word in nav
    assert "<script>" in page and "<style>" in page
    assert "相关阅读" in page[page.index("<aside") : page.index("</aside>")]
    assert "版权所有 ©2025 某某网站" in page[page.index("<footer") :]


def test_make_html_escapes(tmp_path: Path) -> None:
    page = make_html(tmp_path / "x.html", "A & B <标题>", ["1 < 2 & 3"]).read_text(encoding="utf-8")
    assert "<h1>A &amp; B &lt;标题&gt;</h1>" in page
    assert "<p>1 &lt; 2 &amp; 3</p>" in page
