"""The chat UI: formatting an Answer safely, and the real app end to end through gradio_client.

Formatting tests use hand-made Answers so they pin the markup, not the pipeline's
choices; the end-to-end tests launch ``create_app`` on a free loopback port.
"""

from __future__ import annotations

import html
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

import ui
from qa.errors import QAError
from qa.types import Answer, Citation, Reading, Result, Timings
from tests.conftest import CORPUS, ROOT, FakeEncoder

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"
MD_LINK = "[点我](javascript:alert(1))"
MD_IMAGE = "![x](http://example.com/x.png)"
Q52 = "首批国家级零碳园区有多少个？"
Q52_TRADITIONAL = "首批國家級零碳園區有多少個？"
SENTENCE_52 = "2025年12月，国家发改委披露国内首批52个国家级零碳园区建设名单，计划在2027年至2030年期间陆续建成。"


def visible_text(markup: str) -> str:
    """What a browser shows for our markup: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<br>", "\n", re.sub(r"<(?!br>)[^>]*>", "", markup)))


def make_citation(n: int = 1, text: str = "前文。" + SENTENCE_52 + "后文。", **kw: Any) -> Citation:
    start = text.find(SENTENCE_52)
    values: dict[str, Any] = {
        "n": n,
        "doc": "zero-carbon-parks.txt",
        "lines": (14, 14),
        "chunk_id": f"zero-carbon-parks.txt#{n}",
        "score": 0.8771,
        "text": text,
        "text_original": text,
        "highlight": (start, start + len(SENTENCE_52)) if start >= 0 else None,
    }
    values.update(kw)
    return Citation(**values)


def make_answer(citations: tuple[Citation, ...], abstained: bool = False, **kw: Any) -> Answer:
    values: dict[str, Any] = {
        "question": Q52,
        "answer": "文章中没有找到相关内容。" if abstained else SENTENCE_52 + "[1]",
        "abstained": abstained,
        "mode": "hybrid",
        "citations": citations,
    }
    values.update(kw)
    return Answer(**values)


# ---------------------------------------------------------------- escaping
@pytest.mark.parametrize("text", [XSS_IMG, XSS_SCRIPT, MD_LINK, MD_IMAGE, "**粗** `code` $x$ {{v}} ${v} https://a.b"])
def test_esc_makes_markup_inert_and_keeps_the_text(text: str) -> None:
    out = ui.esc(text)
    assert not re.search(r"[<>\[\]()`*$_{}]", out)  # nothing HTML, Markdown or a template could act on
    assert "http:" not in out and "https:" not in out  # no GFM autolink either
    assert html.unescape(out) == text


@pytest.mark.parametrize("evil", [XSS_IMG, XSS_SCRIPT, MD_LINK, MD_IMAGE])
def test_question_bubble_shows_evil_input_as_literal_text(evil: str) -> None:
    out = ui.question_html(evil)
    assert "<img" not in out and "<script" not in out and "](" not in out
    assert visible_text(out) == evil


def test_corpus_and_answer_text_are_escaped_too() -> None:
    c = make_citation(text=XSS_IMG + SENTENCE_52, doc="<b>doc</b>.txt")
    a = make_answer((c,), answer=XSS_SCRIPT + "[1]", notice=MD_LINK)
    out = ui.answer_html(a)
    assert "<img" not in out and "<script" not in out and "<b>" not in out and "](" not in out
    shown = visible_text(out)
    assert XSS_IMG in shown and XSS_SCRIPT in shown and MD_LINK in shown and "<b>doc</b>.txt" in shown


def test_error_bubble_is_escaped() -> None:
    out = ui.error_html("问题为空 <img src=x>\nempty")
    assert "<img" not in out
    assert visible_text(out) == "⚠️ 问题为空 <img src=x>\nempty"


# ---------------------------------------------------------------- answer formatting
def test_highlight_markup_is_exactly_the_sentence() -> None:
    c = make_citation()
    out = ui.passage_html(c.text, c.highlight)
    marked = re.findall(r"<mark>(.*?)</mark>", out)
    assert [html.unescape(m) for m in marked] == [SENTENCE_52]
    assert visible_text(out) == c.text


def test_passage_without_or_with_bad_highlight_has_no_mark() -> None:
    assert "<mark>" not in ui.passage_html("文本。", None)
    assert "<mark>" not in ui.passage_html("文本。", (3, 3))


def test_answer_lists_numbered_citations_with_lines_and_markers() -> None:
    cites = (make_citation(1), make_citation(2, text="另一段。", lines=(12, 13), highlight=(0, 4)))
    out = ui.answer_html(make_answer(cites))
    assert out.count('<li class="qa-source"') == 2
    assert "第 14 行 · line 14" in out and "第 12–13 行 · lines 12–13" in out
    assert re.search(r'<sup class="qa-ref">&#91;1&#93;</sup>', out)
    assert "来源 / Sources" in out and "可能相关" not in out
    assert visible_text(out).startswith(SENTENCE_52 + "[1]")
    assert out.count("<mark>") == 2


def test_marker_without_a_citation_is_left_as_text() -> None:
    out = ui.answer_html(make_answer((make_citation(1),), answer="见[1]和[7]。"))
    assert out.count("qa-ref") == 1
    assert "见[1]和[7]。" in visible_text(out)


def test_scores_only_when_asked() -> None:
    a = make_answer((make_citation(),))
    assert "0.877" not in ui.answer_html(a, show_score=False)
    assert "score 0.877" in visible_text(ui.answer_html(a, show_score=True))


def test_abstained_answer_lists_possibly_related_without_highlight() -> None:
    out = ui.answer_html(make_answer((make_citation(),), abstained=True))
    assert visible_text(out).startswith("文章中没有找到相关内容。")
    assert "可能相关 / possibly related" in out and "来源 / Sources" not in out
    assert "<mark>" not in out and "qa-abstained" in out


def test_notice_is_shown() -> None:
    out = ui.answer_html(make_answer((make_citation(),), notice="问题过长 / too long"))
    assert "问题过长 / too long" in visible_text(out)


def test_markup_is_one_line_so_markdown_never_resumes() -> None:
    a = make_answer((make_citation(text="第一段\n\n第二段 " + SENTENCE_52),))
    assert "\n" not in ui.answer_html(a)


def test_huge_question_is_clipped_in_the_echo() -> None:
    out = visible_text(ui.question_html("问" * 10_000))
    assert len(out) == ui.MAX_SHOWN_QUESTION + 1 and out.endswith("…")


# ---------------------------------------------------------------- article view
@pytest.fixture(scope="module")
def article() -> ui.ArticleView:
    from qa.corpus import load_corpus

    docs, _ = load_corpus(CORPUS)
    return ui.ArticleView.from_document(docs[0])


def test_article_keeps_raw_line_numbers(article: ui.ArticleView) -> None:
    raw_lines = (CORPUS / "zero-carbon-parks.txt").read_text(encoding="utf-8").split("\n")
    assert len(article.cleaned) == len(raw_lines) == 22
    assert "52個國家級零碳園區" in article.cleaned[13]  # line 14
    assert article.raw[13] == raw_lines[13]


def test_article_marks_cited_lines_in_the_question_script(article: ui.ArticleView) -> None:
    out = ui.article_html(article, {14: [1], 12: [2]}, traditional=False)
    assert out.count("qa-line qa-cited") == 2
    line14 = re.search(r'<div class="qa-line qa-cited qa-c1" id="qa-L14">.*?</div>', out)
    assert line14 and "52个国家级零碳园区" in visible_text(line14.group(0)) and "[1]" in visible_text(line14.group(0))
    assert "52個國家級零碳園區" in visible_text(ui.article_html(article, {}, traditional=True))


def test_article_raw_mode_shows_the_file_lines(article: ui.ArticleView) -> None:
    out = visible_text(ui.article_html(article, {}, raw=True))
    assert "國務(wù)院" in out  # the raw pinyin annotation, as in the file


def test_cited_lines_spans_ranges_and_ignores_other_docs() -> None:
    a = make_answer((make_citation(1, lines=(12, 13)), make_citation(2, doc="other.txt")))
    assert ui.cited_lines(a, "zero-carbon-parks.txt") == {12: [1], 13: [1]}


# ---------------------------------------------------------------- handlers, with a stub pipeline
class StubPipeline:
    """Stands in for ``Pipeline.run``: gives a fixed answer (or raises) whatever is asked."""

    def __init__(self, result: Answer | Exception) -> None:
        self.result = result

    def run(
        self, question: str, top_k: int = 3, mode: str = "hybrid", depth: int = 0, reader: bool = True, history=()
    ) -> Result:  # type: ignore[no-untyped-def]
        self.histories = [*getattr(self, "histories", []), [t.question for t in history]]
        if isinstance(self.result, Exception):
            raise self.result
        return Result(self.result, (), Reading("heuristic", self.result.abstained), Timings(0.0, 0.0, 1.0))


def test_user_error_is_a_friendly_bubble_not_a_traceback() -> None:
    svc = ui.ChatService(StubPipeline(QAError("问题为空。", "The question is empty.")), [])
    _, messages, turns, _, _ = svc.respond("？？", [], 3, "hybrid", False, False, None)
    assert len(turns) == 1 and messages[-1]["role"] == "assistant"
    shown = visible_text(messages[-1]["content"])
    assert "问题为空。" in shown and "The question is empty." in shown and "Traceback" not in shown


def test_bug_is_logged_and_shown_as_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    svc = ui.ChatService(StubPipeline(RuntimeError("boom")), [])
    _, messages, _, _, _ = svc.respond("问题", [], 3, "hybrid", False, False, None)
    shown = visible_text(messages[-1]["content"])
    assert "Internal error" in shown and "boom" not in shown
    assert "boom" in caplog.text


def test_history_grows_and_rerenders_with_scores() -> None:
    svc = ui.ChatService(StubPipeline(make_answer((make_citation(),))), [])
    turns: list[ui.Turn] = []
    for q in ("一", "二"):
        _, messages, turns, _, _ = svc.respond(q, turns, 3, "hybrid", False, False, None)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert all("score" not in m["content"] for m in messages)
    assert "score 0.877" in visible_text(svc.rerender(turns, True)[1]["content"])
    assert svc.clear(False, None)[:3] == ([], [], "")


def test_each_question_is_asked_with_the_earlier_answered_turns() -> None:
    stub = StubPipeline(make_answer((make_citation(),)))
    svc = ui.ChatService(stub, [])
    turns: list[ui.Turn] = []
    for q in ("一", "二", "三"):
        _, _, turns, _, _ = svc.respond(q, turns, 3, "hybrid", False, False, None)
    assert stub.histories == [[], ["一"], ["一", "二"]]
    assert svc.clear(False, None)[1] == []  # "new chat" forgets them


def test_the_resolved_question_is_shown_under_the_reply() -> None:
    answer = replace(
        make_answer((make_citation(),)), question="一共有多少个？", resolved_question="首批国家级零碳园区一共有多少个？"
    )
    shown = visible_text(ui.answer_html(answer))
    assert "按上下文理解为：首批国家级零碳园区一共有多少个？" in shown
    traditional = replace(answer, question="一共有多少個？", resolved_question="首批國家級零碳園區一共有多少個？")
    assert "按上下文理解為：首批國家級零碳園區一共有多少個？" in visible_text(ui.answer_html(traditional))
    assert "按上下文" not in visible_text(ui.answer_html(make_answer((make_citation(),))))


def test_blank_input_does_nothing() -> None:
    svc = ui.ChatService(StubPipeline(RuntimeError("must not be called")), [])
    _, _, turns, _, _ = svc.respond("   ", [], 3, "hybrid", False, False, None)
    assert turns == []


# ---------------------------------------------------------------- launching
@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert ui.is_loopback(host) is loopback


def test_auth_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_UI_PASSWORD", raising=False)
    assert ui.auth_from_env() is None
    monkeypatch.setenv("QA_UI_PASSWORD", "s3cret")
    monkeypatch.delenv("QA_UI_USER", raising=False)
    assert ui.auth_from_env() == ("qa", "s3cret")
    monkeypatch.setenv("QA_UI_USER", "alice")
    assert ui.auth_from_env() == ("alice", "s3cret")


def test_defaults_are_loopback_7860_without_share(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from qa.cli import main as cli

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(ui, "serve", lambda **kw: seen.append(kw) or 0)
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
    assert (seen[0]["host"], seen[0]["port"], seen[0]["share"]) == ("127.0.0.1", 7860, False)


@pytest.mark.parametrize(("host", "password", "warned"), [("0.0.0.0", "", True), ("0.0.0.0", "pw", False)])
def test_public_bind_without_password_warns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str, password: str, warned: bool
) -> None:
    import qa.pipeline

    def refuse(*_: Any, **__: Any) -> None:
        raise QAError("停在这里。", "Stop here.")  # keep the test from loading the model

    monkeypatch.setattr(qa.pipeline.Pipeline, "open", refuse)
    monkeypatch.setenv("QA_UI_PASSWORD", password)
    assert ui.serve(host=host, port=1) == 1
    err = capsys.readouterr().err
    assert ("WARNING" in err) is warned
    assert "Stop here." in err and "Traceback" not in err


# ---------------------------------------------------------------- the real app, end to end
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ui_pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real pipeline once qa/model.py exists, else the FakeEncoder one (while it is written)."""
    if (ROOT / "qa" / "model.py").is_file():
        return request.getfixturevalue("real_pipeline")
    from qa.pipeline import Pipeline, ensure_index

    encoder = FakeEncoder()
    index, _ = ensure_index(CORPUS, tmp_path_factory.mktemp("ui-index"), encoder, progress=False)
    return Pipeline(index, encoder)


def start_app(pipeline: Any, **options: Any) -> tuple[Any, str]:
    """Launch create_app(pipeline, **options) on a free loopback port; returns (app, url)."""
    app = ui.create_app(pipeline, **options)
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return app, f"http://127.0.0.1:{port}/"


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
def client(served: str) -> Any:
    from gradio_client import Client

    return Client(served, verbose=False)


def without_latency(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in ("latency_ms", "timings")}


def test_ask_endpoint_is_the_only_public_api(client: Any) -> None:
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/ask"]


def test_ask_endpoint_answers_52_with_line_14(client: Any, pipeline: Any) -> None:
    result = client.predict(Q52, 3, "hybrid", api_name="/ask")
    assert without_latency(result) == without_latency(pipeline.run(Q52, top_k=3, mode="hybrid").to_json())
    assert result["abstained"] is False and "52" in result["answer"]
    hits = [
        c
        for c in result["citations"]
        if c["highlight"] and "52" in c["text"][c["highlight"][0] : c["highlight"][1]] and c["lines"] == [14, 14]
    ]
    assert hits, result["citations"]


def test_ask_endpoint_follows_traditional_script(client: Any) -> None:
    result = client.predict(Q52_TRADITIONAL, 3, "hybrid", api_name="/ask")
    cite = next(c for c in result["citations"] if c["lines"] == [14, 14])
    s, e = cite["highlight"]
    assert "52個國家級零碳園區" in cite["text"][s:e]
    assert "國家級" in result["answer"] and "国家级" not in result["answer"]


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_ask_endpoint_modes_and_top_k(client: Any, mode: str) -> None:
    result = client.predict(Q52, 1, mode, api_name="/ask")
    assert result["mode"] == mode and len(result["citations"]) <= 1


def test_ask_endpoint_takes_the_conversation_so_far(client: Any) -> None:
    first = client.predict("首批国家级零碳园区是谁公布的？", 3, "hybrid", True, [], api_name="/ask")
    follow = client.predict("一共有多少个？", 3, "hybrid", True, [first], api_name="/ask")
    assert follow["resolved_question"] == "首批国家级零碳园区一共有多少个？" and "52" in follow["answer"]
    plain = client.predict("一共有多少个？", 3, "hybrid", True, ["首批国家级零碳园区是谁公布的？"], api_name="/ask")
    assert plain["resolved_question"] == follow["resolved_question"]


def test_ask_endpoint_user_error_is_a_message(client: Any) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        client.predict("   ", 3, "hybrid", api_name="/ask")
    assert "问题为空" in str(info.value) and "Traceback" not in str(info.value)


def test_twenty_concurrent_clients_get_the_same_answer(served: str, client: Any) -> None:
    from gradio_client import Client

    expected = without_latency(client.predict(Q52, 3, "hybrid", api_name="/ask"))
    barrier = threading.Barrier(20)

    def one(_: int) -> dict[str, Any]:
        c = Client(served, verbose=False)
        barrier.wait(timeout=60)
        return without_latency(c.predict(Q52, 3, "hybrid", api_name="/ask"))

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert all(r == expected for r in results)


@pytest.mark.parametrize(
    "path",
    [
        "gradio_api/file=" + str(CORPUS / "zero-carbon-parks.txt"),
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=../../../../etc/passwd",
        "gradio_api/file=https://example.com/x.png",
        "gradio_api/proxy=https://example.com/",
        "file=/etc/passwd",
    ],
)
def test_no_files_are_served(served: str, path: str) -> None:
    r = httpx.get(served + path, timeout=10)
    assert r.status_code in (403, 404)
    assert "root:" not in r.text and "零碳" not in r.text


def test_uploads_are_refused_when_turned_off(pipeline: Any, tmp_path: Path) -> None:
    app, url = start_app(pipeline, uploads=False)
    try:
        f = tmp_path / "x.txt"
        f.write_text("hello")
        with f.open("rb") as fh:
            r = httpx.post(url + "gradio_api/upload", files={"files": fh}, timeout=10)
        assert r.status_code == 403
        page = httpx.get(url + "config", timeout=10).text
        assert "qa-upload" in page and '"visible": false' in page.replace('"visible":false', '"visible": false')
    finally:
        app.close()


def test_uploads_over_the_size_limit_are_refused(served: str) -> None:
    from qa.corpus import max_file_bytes

    big = b"x" * (max_file_bytes() + 1)
    r = httpx.post(served + "gradio_api/upload", files={"files": ("big.txt", big)}, timeout=60)
    assert r.status_code == 413


def test_foreign_hosts_and_origins_are_refused_on_every_route(served: str) -> None:
    """DNS rebinding (a foreign Host) and cross-site requests reach neither the UI nor /api."""
    with httpx.Client(base_url=served, timeout=30) as http:
        assert http.get("/api/health").status_code == 200
        for path in ("/", "/api/health", "/gradio_api/info"):
            r = http.get(path, headers={"host": "evil.example"})
            assert r.status_code == 403 and "QA_ALLOWED_HOSTS" in r.json()["en"], path
        r = http.post("/api/ask", json={"question": "你好"}, headers={"origin": "https://evil.example"})
        assert r.status_code == 403 and "其他网站" in r.json()["zh"]
        r = http.post("/api/ask", json={"question": "你好"}, headers={"origin": served.rstrip("/")})
        assert r.status_code == 200


OPENSSL_SELF_SIGNED = (
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
)


def test_the_app_serves_https_with_a_certificate(pipeline: Any, tmp_path: Path) -> None:
    """``qa serve --ssl-certfile --ssl-keyfile``: the same app over TLS (a self-signed pair)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [*OPENSSL_SELF_SIGNED, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    app = ui.create_app(pipeline)
    port = free_port()
    app.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        ssl_verify=False,
    )
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=False, timeout=30) as http:
            assert http.get("/api/health").json()["status"] == "ok"
            assert http.get("/").status_code == 200
    finally:
        app.close()


def test_qa_serve_passes_the_certificate_pair_and_refuses_half_of_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from qa.cli import main as cli

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(ui, "serve", lambda **kw: seen.append(kw) or 0)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("c"), key.write_text("k")
    ok = CliRunner().invoke(cli, ["serve", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)])
    assert ok.exit_code == 0 and seen[-1]["ssl_certfile"] == cert and seen[-1]["ssl_keyfile"] == key
    half = CliRunner().invoke(cli, ["serve", "--ssl-certfile", str(cert)])
    assert half.exit_code != 0 and "go together" in half.output and len(seen) == 1


def test_page_loads(served: str) -> None:
    r = httpx.get(served, timeout=10)
    assert r.status_code == 200 and "<html" in r.text.lower()


def test_serve_warms_up_and_launches_the_real_app(monkeypatch: pytest.MonkeyPatch, real_pipeline: Any) -> None:
    """``make run``'s own path up to the launch: open, build the app, warm up with the
    corpus's first example question (a name error here once broke every start)."""
    import qa.pipeline

    monkeypatch.setattr(qa.pipeline.Pipeline, "open", lambda *_, **__: real_pipeline)
    monkeypatch.setattr(real_pipeline, "warm", lambda: None)
    asked: list[str] = []
    ask = real_pipeline.ask
    monkeypatch.setattr(real_pipeline, "ask", lambda q, *a, **k: asked.append(q) or ask(q, *a, **k))
    launched: list[dict[str, Any]] = []
    create = ui.create_app

    def create_unlaunched(pipe: Any, **kw: Any) -> Any:
        app = create(pipe, **kw)
        monkeypatch.setattr(app, "launch", lambda **options: launched.append(options))
        return app

    monkeypatch.setattr(ui, "create_app", create_unlaunched)
    assert ui.serve(port=1) == 0
    assert asked == [ui.corpus_examples(real_pipeline)[0]]
    assert launched and launched[0]["server_name"] == "127.0.0.1" and launched[0]["server_port"] == 1


class _IdlePipeline:
    """What ``serve`` calls on a pipeline before the launch, doing nothing."""

    def ask(self, question: str) -> None:
        return None

    def warm(self) -> None:
        return None


@pytest.mark.parametrize(
    ("host", "share", "password", "read_only"),
    [
        ("0.0.0.0", False, "", True),
        ("127.0.0.1", True, "", True),
        ("0.0.0.0", False, "pw", False),
        ("127.0.0.1", False, "", False),
    ],
)
def test_public_without_a_password_starts_read_only(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    host: str,
    share: bool,
    password: str,
    read_only: bool,
) -> None:
    """Off loopback or shared, with no password: asks yes, uploads and deletes off (said so)."""
    import qa.pipeline

    monkeypatch.setenv("QA_UI_PASSWORD", password)
    monkeypatch.setenv("QA_UI_UPLOADS", "1")
    monkeypatch.setattr(qa.pipeline.Pipeline, "open", lambda *_, **__: _IdlePipeline())
    built: list[Any] = []

    def create(pipe: Any, **kw: Any) -> Any:
        built.append(kw)
        return type("App", (), {"launch": lambda self, **_: None})()

    monkeypatch.setattr(ui, "create_app", create)
    assert ui.serve(host=host, port=1, share=share) == 0
    err = capsys.readouterr().err
    assert built[0]["uploads"] is (False if read_only else None)
    assert ("read-only" in err and "只读" in err) is read_only


def test_qa_serve_and_ui_py_are_one_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from qa.cli import main as cli

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(ui, "serve", lambda **kw: seen.append(kw) or 0)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "8000", "--share", "--index", "ix"])
    assert result.exit_code == 0, result.output
    assert seen == [{"host": "0.0.0.0", "port": 8000, "share": True, "corpus": None, "index": Path("ix")}]
    with pytest.raises(SystemExit) as exit_info:  # python ui.py OPTIONS: the same command, the same options
        ui.main(["--port", "8001"])
    assert exit_info.value.code == 0 and seen[-1]["port"] == 8001 and seen[-1]["host"] == "127.0.0.1"


def test_article_marks_possibly_related_lines_faintly(article: ui.ArticleView) -> None:
    assert 'class="qa-article qa-weak"' in ui.article_html(article, {1: [1]}, weak=True)
    assert "qa-weak" not in ui.article_html(article, {1: [1]})


def test_the_heading_names_the_corpus_not_the_first_article() -> None:
    one = ui.corpus_heading(["zero-carbon-parks.txt"])
    assert "1" in one and "zero" in one and "零碳园区问答" not in one
    many = ui.corpus_heading([f"doc{i}.txt" for i in range(5)])
    assert "5" in many and "doc0" in many and "doc4" not in many and "等" in many


def test_examples_come_from_the_indexed_passages() -> None:
    from types import SimpleNamespace

    from qa.types import Chunk

    text = "马祖列岛由连江县政府管辖，辖区之内共有36个大小岛屿。"  # a chunk's text is simplified
    chunk = Chunk("c0", "馬祖.txt", 0, len(text), (1, 1), text, "馬祖列島由連江縣政府管轄，轄區之內共有36個大小島嶼。")
    examples = ui.corpus_examples(SimpleNamespace(index=SimpleNamespace(chunks=[chunk])))
    assert examples[-len(ui.CHAT_EXAMPLES) :] == ui.CHAT_EXAMPLES
    assert len(examples) > len(ui.CHAT_EXAMPLES)  # one made from the passage
    assert not any("零碳" in q for q in examples)
    assert ui.corpus_examples(object()) == ui.CHAT_EXAMPLES  # no index: the chat's own examples
