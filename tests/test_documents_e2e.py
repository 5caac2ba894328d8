"""Your own documents, end to end with the real model: a 3-page Chinese PDF (printed by
headless Chromium, so its text layer has Kangxi radicals, a running header and page
numbers), a DOCX with a table and a news web page beside the article.

Questions in both scripts must cite the right document first (and for the PDF the right
page); questions about the article must still be answered from it; documents added and
removed through ``Pipeline`` are searchable at once while questions keep being answered.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qa.normalize import match_key
from qa.pipeline import Pipeline
from tests.conftest import CORPUS
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
    chromium_path,
    make_docx,
    make_html,
    make_pdf,
)

pytestmark = pytest.mark.slow

GUIDE, REPORT, NEWS = "guide.pdf", "report.docx", "news.html"
ARTICLE_QUESTIONS = [("首批国家级零碳园区有多少个？", "52个"), ("首批國家級零碳園區有多少個？", "52個")]
# A regression floor, one below what was measured when the loaders landed (reader on): the
# reader gives the gold answer for 9 of the 13 questions and declines the other 4 (the
# PDF's "60%以上" and three table cells), though every one cites the right document first.
MIN_ANSWERED = 8


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if chromium_path() is None:
        pytest.skip("chromium is needed to print the test PDF (make browser)")
    corpus = tmp_path_factory.mktemp("mixed") / "corpus"
    shutil.copytree(CORPUS, corpus)
    make_pdf(corpus / GUIDE, GUIDE_PAGES, header=GUIDE_HEADER, footer_numbers=True)
    make_docx(corpus / REPORT, REPORT_PARAGRAPHS, REPORT_TABLE, heading=REPORT_TITLE)
    make_html(corpus / NEWS, NEWS_TITLE, NEWS_PARAGRAPHS)
    (corpus / "old-format.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    return corpus


@pytest.fixture(scope="module")
def pipe(mixed_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return Pipeline.open(mixed_corpus, tmp_path_factory.mktemp("mixed-index"), progress=False)


def answered(answer: Any, gold: str) -> bool:
    return not answer.abstained and match_key(gold) in match_key(answer.answer)


def test_every_format_is_indexed_and_the_unsupported_one_is_reported(pipe: Pipeline) -> None:
    report = pipe.build_report
    assert report is not None and report.n_docs == 4
    (skipped,) = report.skipped
    assert skipped.path == "old-format.doc" and "unsupported" in skipped.en and "不支持" in skipped.zh
    documents = pipe.index.catalog["documents"]
    assert {d: documents[d]["kind"] for d in documents} == {
        GUIDE: "pdf",
        REPORT: "docx",
        NEWS: "html",
        "zero-carbon-parks.txt": "txt",
    }
    assert documents[GUIDE]["pages"] == 3 and documents[REPORT]["pages"] is None


def test_the_pdf_is_cleaned_of_radicals_header_and_page_numbers(pipe: Pipeline) -> None:
    text = "".join(c.text for c in pipe.index.chunks if c.doc_id == GUIDE)
    assert not any("\u2e80" <= ch <= "\u2fdf" for ch in text)  # Kangxi radicals and supplements
    assert match_key(GUIDE_HEADER) not in match_key(text) and "第1页" not in match_key(text)
    assert {c.page for c in pipe.index.chunks if c.doc_id == GUIDE} == {1, 2, 3}


@pytest.mark.parametrize(("question", "gold", "page"), GUIDE_QUESTIONS)
def test_pdf_questions_cite_the_right_page(pipe: Pipeline, question: str, gold: str, page: int) -> None:
    first = pipe.ask(question).citations[0]
    assert (first.doc, first.page) == (GUIDE, page)
    assert match_key(gold) in match_key(first.text)


@pytest.mark.parametrize(("question", "gold"), REPORT_QUESTIONS + NEWS_QUESTIONS)
def test_docx_and_html_questions_cite_their_document(pipe: Pipeline, question: str, gold: str) -> None:
    answer = pipe.ask(question)
    want = REPORT if (question, gold) in REPORT_QUESTIONS else NEWS
    assert answer.citations[0].doc == want and answer.citations[0].page is None
    assert any(match_key(gold) in match_key(c.text) for c in answer.citations if c.doc == want)


def test_most_questions_about_the_new_documents_get_the_exact_answer(pipe: Pipeline) -> None:
    cases = [(q, g) for q, g, _ in GUIDE_QUESTIONS] + list(REPORT_QUESTIONS) + list(NEWS_QUESTIONS)
    hits = [q for q, g in cases if answered(pipe.ask(q), g)]
    assert len(hits) >= MIN_ANSWERED, hits


@pytest.mark.parametrize(("question", "gold"), ARTICLE_QUESTIONS)
def test_the_article_is_still_answered(pipe: Pipeline, question: str, gold: str) -> None:
    answer = pipe.ask(question)
    assert answer.short_answer == gold and answer.citations[0].doc == "zero-carbon-parks.txt"


def test_cli_prints_and_returns_the_page(pipe: Pipeline, mixed_corpus: Path) -> None:
    from qa.cli import main, render_text

    assert pipe.index_dir is not None
    question, _, page = GUIDE_QUESTIONS[-2]
    where = ["--corpus", str(mixed_corpus), "--index", str(pipe.index_dir)]
    out = CliRunner().invoke(main, ["ask", question, "--json", *where])
    assert out.exit_code == 0, out.output
    first = json.loads(out.output)["citations"][0]
    assert (first["doc"], first["page"]) == (GUIDE, page)
    assert f"{GUIDE} 第 {page} 页 (page {page})" in render_text(pipe.ask(question))  # what `qa ask` prints
    listed = CliRunner().invoke(main, ["docs", "--json", *where])
    rows = {r["name"]: r for r in map(json.loads, listed.output.splitlines())}
    assert rows[GUIDE]["pages"] == 3 and rows[GUIDE]["status"] == "indexed"
    assert rows["old-format.doc"]["status"] == "skipped" and "unsupported" in rows["old-format.doc"]["reason"]


@pytest.fixture
def private_pipe(mixed_corpus: Path, tmp_path: Path, pipe: Pipeline) -> Iterator[Pipeline]:
    """A pipeline over its own copy of the mixed corpus and index: free to add and remove."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(mixed_corpus, corpus)
    assert pipe.index_dir is not None
    shutil.copytree(pipe.index_dir, index)
    yield Pipeline.open(corpus, index, progress=False)


def test_added_and_removed_documents_while_questions_keep_being_answered(
    private_pipe: Pipeline, tmp_path: Path
) -> None:
    question = "白鹭湖公园新来的讲解员一共有几位？"
    extra = make_docx(tmp_path / "staff.docx", ["白鹭湖湿地公园今年新招募了讲解员19位，全部持证上岗。"])
    before = private_pipe.ask(question)
    assert not any(c.doc == "讲解员名单.docx" for c in before.citations)

    errors: list[BaseException] = []
    answers: list[Any] = []
    stop = threading.Event()

    def keep_asking() -> None:  # during the update, from the previous index
        while not stop.is_set():
            try:
                answers.append(private_pipe.ask(ARTICLE_QUESTIONS[0][0]))
            except BaseException as e:  # any failure fails the test
                errors.append(e)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    steps: list[tuple[float, str]] = []
    try:
        stored, report = private_pipe.add_documents(
            [("../../讲解员名单.docx", extra.read_bytes())], on_progress=lambda f, what: steps.append((f, what))
        )
    finally:
        stop.set()
        asker.join()
    assert stored == ["讲解员名单.docx"] and report.rebuilt and report.reused > 0
    assert errors == [] and answers and all(a.short_answer == "52个" for a in answers)
    assert steps[-1][0] == 1.0 and [f for f, _ in steps] == sorted(f for f, _ in steps)
    after = private_pipe.ask(question)
    assert after.citations[0].doc == "讲解员名单.docx" and "19位" in after.answer

    private_pipe.remove_document("讲解员名单.docx")
    assert not any(c.doc_id == "讲解员名单.docx" for c in private_pipe.index.chunks)
    assert not any(c.doc == "讲解员名单.docx" for c in private_pipe.ask(question).citations)
