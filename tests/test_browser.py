"""The chat UI in a real headless Chromium: an answer with its highlighted citation, and
that a question carrying HTML stays text.

Uses Debian's chromium (``make browser``); ``playwright install`` cannot download a
browser here. Set QA_UPDATE_SCREENSHOT=1 to refresh docs/screenshot.png.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ui
from tests.conftest import ARTIFACTS, ROOT
from tests.test_ui import Q52, Q52_TRADITIONAL, XSS_IMG, start_app, ui_pipeline

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL_MARKDOWN = "<script>alert(2)</script> [点我](javascript:alert(3)) ![x](x.png)"
SCREENSHOT_DOCS = ROOT / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return ui_pipeline(request, tmp_path_factory)


@pytest.fixture(scope="module")
def served(pipeline: Any) -> Iterator[str]:
    app, url = start_app(pipeline)
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def ask(page: Any, question: str, n_replies: int) -> None:
    """Type a question, send it, wait for the n-th bot reply."""
    page.fill("#qa-input textarea", question)
    page.click("#qa-send")
    wait_replies(page, n_replies)


def wait_replies(page: Any, n_replies: int) -> None:
    """Replies are counted by our own bubble classes, so a Gradio markup change cannot fool it."""
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-answer, #qa-chat .qa-error').length >= n",
        arg=n_replies,
        timeout=30_000,
    )


def test_conversation_in_chromium(served: str, browser: Any, pipeline: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, device_scale_factor=1)
    dialogs: list[str] = []
    refused: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(served)
    page.wait_for_selector("#qa-input textarea", timeout=30_000)

    ask(page, Q52, 1)
    source = page.locator("#qa-chat li.qa-source", has=page.locator("mark", has_text="52")).first
    assert "第 14 行" in source.inner_text()
    assert "52" in source.locator("mark").first.inner_text()  # the highlighted sentence
    assert source.locator("mark mark.qa-span").inner_text() == "52个"  # the reader's answer, inside it
    assert page.locator("#qa-chat .qa-short", has_text="52个").count() == 1  # and leading the reply
    assert page.locator("#qa-article #qa-L14.qa-cited").count() == 1
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"))

    example = ui.corpus_examples(pipeline)[0]  # made from the corpus's own passages
    page.get_by_text(example, exact=True).first.click()  # an example is asked at once
    wait_replies(page, 2)
    assert page.locator("#qa-chat .qa-answer").nth(1).locator("li.qa-source mark").count() >= 1

    ask(page, Q52_TRADITIONAL, 3)
    assert page.locator("#qa-chat mark", has_text="52個國家級零碳園區").count() >= 1

    ask(page, XSS_IMG, 4)
    ask(page, EVIL_MARKDOWN, 5)
    page.wait_for_timeout(500)  # give any injected handler time to fire
    chat = page.locator("#qa-chat").inner_text()
    assert XSS_IMG in chat and EVIL_MARKDOWN in chat
    assert page.locator('img[src="x"], img[src="x.png"], #qa-chat script, a[href^="javascript"]').count() == 0
    assert dialogs == []
    assert refused == []  # the page needs none of the routes FileGuard refuses

    page.screenshot(path=str(ARTIFACTS / "ui-conversation.png"), full_page=True)
    if os.environ.get("QA_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT_DOCS.exists():
        SCREENSHOT_DOCS.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / "ui-answer.png", SCREENSHOT_DOCS)

    page.click("#qa-clear")
    page.wait_for_function("() => !document.querySelector('#qa-chat .qa-answer, #qa-article .qa-cited')")
    page.close()


def test_a_follow_up_in_chromium_shows_how_it_was_understood(served: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, device_scale_factor=1)
    page.goto(served)
    page.wait_for_selector("#qa-input textarea", timeout=30_000)
    ask(page, "首批国家级零碳园区是谁公布的？", 1)
    assert page.locator("#qa-chat .qa-resolved").count() == 0  # a first question stands alone
    ask(page, "一共有多少个？", 2)
    reply = page.locator("#qa-chat .qa-answer").nth(1)
    assert reply.locator(".qa-resolved").inner_text() == "按上下文理解为：首批国家级零碳园区一共有多少个？"
    assert reply.locator(".qa-short").inner_text() == "52个"
    assert reply.locator("mark mark.qa-span").inner_text() == "52个"
    page.screenshot(path=str(ARTIFACTS / "ui-follow-up.png"))
    page.click("#qa-clear")  # a new conversation: the follow-up no longer has anything to lean on
    page.wait_for_function("() => !document.querySelector('#qa-chat .qa-answer')")
    ask(page, "一共有多少个？", 1)
    assert page.locator("#qa-chat .qa-resolved").count() == 0
    page.close()


# ---------------------------------------------------------------- the documents panel
@pytest.fixture(scope="module")
def served_with_uploads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The real pipeline over a private copy of the corpus: uploads land there, never in corpus/."""
    from qa.pipeline import Pipeline
    from tests.conftest import CORPUS

    corpus = tmp_path_factory.mktemp("upload-corpus")
    shutil.copytree(CORPUS, corpus, dirs_exist_ok=True)
    pipe = Pipeline.open(corpus, tmp_path_factory.mktemp("upload-index"), progress=False)
    app, url = start_app(pipe, uploads=True)
    try:
        yield url, corpus
    finally:
        app.close()


def upload_through_panel(page: Any, path: Path, timeout_ms: int = 120_000) -> str:
    """Open the documents tab, upload one file, wait for the panel to say it was added."""
    page.get_by_role("tab", name="文档 / Documents").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(path))
    page.wait_for_function(  # the status names the file it is about: added, or refused and why
        """name => {
             const box = document.querySelector('#qa-doc-status .qa-status, #qa-doc-status .qa-error');
             return box && box.innerText.includes(name);
           }""",
        arg=path.name,
        timeout=timeout_ms,
    )
    return page.locator("#qa-doc-status .qa-status, #qa-doc-status .qa-error").inner_text()


def test_upload_a_pdf_and_ask_about_it_in_chromium(
    served_with_uploads: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    from tests.docmaker import GUIDE_HEADER, GUIDE_PAGES, chromium_path, make_pdf

    if chromium_path() is None:
        pytest.skip("chromium is needed to print the test PDF")
    url, corpus = served_with_uploads
    pdf = make_pdf(tmp_path / "星河市指导意见.pdf", GUIDE_PAGES, header=GUIDE_HEADER, footer_numbers=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, device_scale_factor=1)
    page.goto(url)
    page.wait_for_selector("#qa-input textarea", timeout=30_000)
    status = upload_through_panel(page, pdf)
    assert "已添加" in status and "⚠️" not in status, status
    assert (corpus / "星河市指导意见.pdf").read_bytes() == pdf.read_bytes()
    row = page.locator("#qa-docs tr", has_text="星河市指导意见.pdf")
    assert "pdf" in row.inner_text() and "3" in row.inner_text()  # type and pages
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "ui-documents.png"))
    if os.environ.get("QA_UPDATE_SCREENSHOT") == "1" or not SCREENSHOTS_DOCS_PANEL.exists():
        SCREENSHOTS_DOCS_PANEL.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / "ui-documents.png", SCREENSHOTS_DOCS_PANEL)

    ask(page, "星河市财政每年拿出多少钱专门支持零碳工厂建设？", 1)
    source = page.locator("#qa-chat li.qa-source").first
    assert "星河市指导意见.pdf" in source.inner_text() and "第 3 页" in source.inner_text()
    assert "8000万元" in page.locator("#qa-chat .qa-answer").first.inner_text()
    page.get_by_role("tab", name="文档原文 / Document").click()
    assert page.locator("#qa-article .qa-page-break", has_text="第 3 页").count() == 1  # the PDF, with pages
    assert page.locator("#qa-article .qa-cited").count() >= 1

    bad = tmp_path / "不是PDF.pdf"
    bad.write_text("这只是一段文字。", encoding="utf-8")
    status = upload_through_panel(page, bad)
    assert "不符" in status and "not what the extension" in status
    assert not (corpus / "不是PDF.pdf").exists()
    page.close()


SCREENSHOTS_DOCS_PANEL = ROOT / "docs" / "documents-panel.png"
