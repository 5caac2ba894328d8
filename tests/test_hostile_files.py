"""Files built to exhaust the loader: each ends in a clear bilingual refusal within its
stated bound, from the upload check and from the corpus build alike (``qa.loaders``,
``qa.sandbox``). The files come from ``tests.hostile``: small on disk, huge or slow once
parsed. Bounds are lowered through the environment where the default would only make
the test slower (the child process reads the same variables)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from qa.corpus import load_corpus
from qa.documents import add_files
from qa.errors import QAError
from qa.loaders import load_bytes, parse_bytes
from qa.sandbox import Exceeded, run_bounded
from tests import hostile

SLACK_S = 10.0  # a fresh interpreter, its imports and the kill, on a loaded 2-core machine


def _refusal(data: bytes, name: str) -> tuple[QAError, float]:
    t0 = time.perf_counter()
    with pytest.raises(QAError) as info:
        load_bytes(data, name)
    return info.value, time.perf_counter() - t0


def test_a_docx_bomb_is_refused_before_anything_unpacks_it() -> None:
    data = hostile.docx_unpacking_to(150)  # ~0.5 MB on disk
    assert len(data) < 1024 * 1024
    error, seconds = _refusal(data, "bomb.docx")
    assert "bomb.docx" in error.zh and "解压后" in error.zh and "100 MB" in error.zh
    assert "decompression bomb" in error.en
    assert seconds < SLACK_S


def test_a_pdf_that_stalls_the_parser_is_killed_at_the_time_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_LOAD_TIMEOUT_S", "2")
    data = hostile.pdf_sharing_one_stream(pages=400, operators=200_000)  # ~100 KB; minutes of pypdf
    assert len(data) < 128 * 1024
    error, seconds = _refusal(data, "slow.pdf")
    assert "超过 2 秒" in error.zh and "longer than 2 s" in error.en
    assert 2 <= seconds < 2 + SLACK_S


def test_asks_keep_running_while_a_hostile_file_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parse runs in another process: this one stays free (no GIL held by pypdf)."""
    monkeypatch.setenv("QA_LOAD_TIMEOUT_S", "3")
    data = hostile.pdf_sharing_one_stream(pages=400, operators=200_000)
    errors: list[QAError] = []
    worker = threading.Thread(target=lambda: errors.extend(_catch(data, "stall.pdf")))
    worker.start()
    done, t0 = 0, time.perf_counter()
    while worker.is_alive() and time.perf_counter() - t0 < 30:
        sum(i * i for i in range(10_000))  # pure-Python work, as an ask's tokenising is
        done += 1
    worker.join()
    assert errors and "stall.pdf" in errors[0].en
    assert done > 50  # the loop ran all along (in-process pypdf would hold it to a trickle)


def _catch(data: bytes, name: str) -> list[QAError]:
    try:
        load_bytes(data, name)
    except QAError as e:
        return [e]
    return []


def test_a_pdf_over_the_page_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_PAGES", "5")
    error, _ = _refusal(hostile.pdf_sharing_one_stream(pages=10, operators=1), "pages.pdf")
    assert "10 页" in error.zh and "5 页的上限" in error.zh and "over the limit of 5" in error.en


def test_text_over_the_character_cap_is_refused_in_every_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_TEXT_CHARS", "1000")
    pdf = hostile.pdf_sharing_one_stream(pages=10, operators=100)  # 1,600 characters a page
    docx = hostile.docx_with_paragraphs(200)  # 3,400 characters
    text = ("零碳园区建设。" * 300).encode("utf-8")
    for data, name in ((pdf, "many.pdf"), (docx, "many.docx"), (text, "many.txt")):
        error, _ = _refusal(data, name)
        assert "1,000 字的上限" in error.zh and "more than 1,000 characters" in error.en, name


def test_the_memory_bound_ends_a_parse_that_outgrows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_LOAD_MEMORY_MB", "300")
    data = hostile.docx_unpacking_to(40)  # under the unzip cap; lxml needs > 400 MB for it
    error, seconds = _refusal(data, "big.docx")
    assert "超过 300 MB 内存" in error.zh and "more than 300 MB of memory" in error.en
    assert seconds < 30


def test_an_ordinary_docx_and_pdf_still_load_through_the_child() -> None:
    loaded = load_bytes(hostile.docx_with_paragraphs(3), "fine.docx")
    assert loaded.text.count("零碳园区建设的第一批名单已经公布。") == 3
    assert loaded == parse_bytes(hostile.docx_with_paragraphs(3), "fine.docx")
    pdf = load_bytes(hostile.pdf_sharing_one_stream(pages=2, operators=3), "fine.pdf")
    assert pdf.pages == 2 and "zero carbon park" in pdf.text


def test_the_upload_check_refuses_a_bomb_and_stores_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(QAError) as info:
        add_files(corpus, [("ok.txt", "零碳园区的定义。".encode()), ("bomb.docx", hostile.docx_unpacking_to(150))])
    assert "bomb.docx" in info.value.en
    assert sorted(p.name for p in corpus.iterdir()) == []  # all or nothing: the good file is not kept either


def test_the_corpus_build_skips_a_bomb_and_reads_the_rest(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("零碳园区是指通过节能降碳实现净零排放的园区。", "utf-8")
    (tmp_path / "bomb.docx").write_bytes(hostile.docx_unpacking_to(150))
    docs, skipped = load_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.txt"]
    assert [s.path for s in skipped] == ["bomb.docx"] and "decompression bomb" in skipped[0].en


def test_run_bounded_reports_time_and_memory() -> None:
    with pytest.raises(Exceeded) as slow:
        run_bounded("tests.sandbox_probe", ["sleep"], b"", timeout_s=1, memory_bytes=512 * 1024 * 1024)
    assert slow.value.what == "time"
    with pytest.raises(Exceeded) as big:
        run_bounded("tests.sandbox_probe", ["allocate"], b"", timeout_s=20, memory_bytes=256 * 1024 * 1024)
    assert big.value.what == "memory"
    assert run_bounded("tests.sandbox_probe", ["echo"], b'{"a": 1}', timeout_s=20, memory_bytes=512 * 1024 * 1024) == {
        "a": 1
    }


def test_a_page_over_pypdfs_stream_limit_is_named_so_not_called_a_scan() -> None:
    data = hostile.pdf_with_stream_of(80 * 1024 * 1024)  # pypdf stops inflating at 75 MB
    error, _ = _refusal(data, "inflated.pdf")
    assert "解析上限" in error.zh and "exceeds the parser's limit" in error.en
    assert "OCR" not in error.en


def test_html_nested_past_the_parser_is_refused_at_upload_not_added_then_skipped() -> None:
    page = "<html><body>" + "<div>" * 100_000 + "<p>零碳园区的定义。</p>" + "</div>" * 100_000 + "</body></html>"
    error, _ = _refusal(page.encode(), "deep.html")
    assert "deep.html" in error.en and "no readable text" in error.en
