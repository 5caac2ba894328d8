"""The Gradio chat UI: widgets around one ``Pipeline.run()`` call.

This module builds widgets and turns an ``Answer`` into HTML; it never chunks,
searches or scores. Everything that comes from the user or the corpus goes through
``esc`` before it reaches an HTML or Markdown component, so a question such as
``<img src=x onerror=alert(1)>`` or ``[x](javascript:...)`` shows as literal text.

Run it with ``python ui.py`` (or ``qa serve``); see ``main`` for the options.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import string
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import gradio as gr

from qa.answer import understood_note
from qa.conversation import HISTORY_TURNS
from qa.corpus import max_file_bytes
from qa.errors import QAError
from qa.loaders import FORMATS
from qa.normalize import is_traditional, to_simplified, to_traditional
from qa.settings import TOP_K_DEFAULT, TOP_K_MAX
from qa.types import Answer, Asker, Citation, Document, Library, Mode, Result, Turn

log = logging.getLogger("qa.ui")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_TOP_K = TOP_K_DEFAULT
MAX_UI_TOP_K = TOP_K_MAX
MAX_TURNS = 50  # history kept per browser session: bounds memory on long sessions
STATE_TTL_SECONDS = 4 * 3600  # and idle sessions' history is dropped after this
MAX_SHOWN_QUESTION = 1000  # the pipeline truncates at 500 and says so; this only limits the echo
CONCURRENCY = 4
QUEUE_SIZE = 128

# Examples beside those made from the corpus (``corpus_examples``): what the chat does besides
# answering from the documents (a summary, a question they cannot answer, English).
CHAT_EXAMPLES = ["总结一下这些文档的主要内容", "今天北京的天气怎么样？", "What are these documents about?"]
CORPUS_EXAMPLES = 4
SHOWN_NAMES = 3  # documents named in the heading before "等"
MODE_CHOICES = [("混合 hybrid", "hybrid"), ("向量 dense", "dense"), ("关键词 BM25", "bm25")]

# Every ASCII punctuation character becomes a numeric entity: this defeats HTML
# (< > & " '), Markdown (links, images, emphasis, code, tables), GFM autolinks
# (https: www. a@b) and template syntax (${ } {{ }}) at once; browsers show the
# same characters.
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in string.punctuation}
_MARKER = re.compile(r"\[(\d+)\]")


def esc(text: str) -> str:
    """Text from the user or the corpus -> inert HTML that displays exactly that text."""
    out = str(text).translate(_ENTITIES)
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


# ---------------------------------------------------------------- formatting an Answer
def line_label(lines: Sequence[int]) -> str:
    """'第 14 行 · line 14' or '第 14–16 行 · lines 14–16' (raw line numbers of the file)."""
    first, last = int(lines[0]), int(lines[-1])
    if first == last:
        return f"第 {first} 行 · line {first}"
    return f"第 {first}–{last} 行 · lines {first}–{last}"


def page_label(page: int) -> str:
    """'第 3 页 · page 3'."""
    return f"第 {int(page)} 页 · page {int(page)}"


def passage_html(text: str, highlight: Sequence[int] | None, answer_span: Sequence[int] | None = None) -> str:
    """The passage, escaped, with the answering sentence wrapped in <mark> and the exact
    answer inside it in <mark class="qa-span"> (a span outside the sentence is not shown)."""
    if not highlight:
        return esc(text)
    s, e = max(0, int(highlight[0])), min(len(text), int(highlight[1]))
    if e <= s:
        return esc(text)
    inner = esc(text[s:e])
    if answer_span:
        a, b = int(answer_span[0]), int(answer_span[1])
        if s <= a < b <= e:
            inner = f'{esc(text[s:a])}<mark class="qa-span">{esc(text[a:b])}</mark>{esc(text[b:e])}'
    return f"{esc(text[:s])}<mark>{inner}</mark>{esc(text[e:])}"


def answer_text_html(text: str, numbers: set[int]) -> str:
    """Answer text, escaped, with its [n] markers (only those that have a citation) styled."""
    parts: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text):
        n = int(m.group(1))
        if n not in numbers:
            continue
        parts.append(esc(text[pos : m.start()]))
        parts.append(f'<sup class="qa-ref">{esc(m.group(0))}</sup>')
        pos = m.end()
    parts.append(esc(text[pos:]))
    return "".join(parts)


def citation_html(c: Citation, show_score: bool, mark: bool = True) -> str:
    """One numbered source: document, line range, score, passage with highlight."""
    score = f' <span class="qa-score">相关度 score {c.score:.3f}</span>' if show_score else ""
    passage = passage_html(c.text, c.highlight if mark else None, c.answer_span if mark else None)
    page = f'<span class="qa-page">{esc(page_label(c.page))}</span> · ' if c.page is not None else ""
    return (
        f'<li class="qa-source" value="{int(c.n)}">'
        f'<div class="qa-meta"><b class="qa-n">{esc(f"[{c.n}]")}</b> '
        f'<span class="qa-doc">{esc(c.doc)}</span> {page}'
        f'<span class="qa-lines">{esc(line_label(c.lines))}</span>{score}</div>'
        f'<div class="qa-passage">{passage}</div></li>'
    )


def answer_html(answer: Answer, show_score: bool = False) -> str:
    """A bot reply: the answer with markers, a notice if any, then the numbered sources.

    When the pipeline abstains the passages are listed as "possibly related" and no
    sentence is highlighted, so nothing looks like an answer the article does not give.
    Kept on one line: a blank line would end Markdown's raw-HTML block.
    """
    numbers = {c.n for c in answer.citations}
    parts = [f'<div class="qa-answer{" qa-abstained" if answer.abstained else ""}">']
    text = answer.answer
    if answer.short_answer and text.startswith(answer.short_answer + "\n"):
        parts.append(f'<div class="qa-short"><strong>{esc(answer.short_answer)}</strong></div>')
        text = text[len(answer.short_answer) + 1 :]
    parts.append(f'<div class="qa-text">{answer_text_html(text, numbers)}</div>')
    note = understood_note(answer)
    if note:
        parts.append(f'<div class="qa-resolved">{esc(note)}</div>')
    if answer.notice:
        parts.append(f'<div class="qa-notice">{esc(answer.notice)}</div>')
    if answer.citations:
        title = "可能相关 / possibly related" if answer.abstained else "来源 / Sources"
        parts.append(f'<div class="qa-sources-title">{title}</div><ol class="qa-sources">')
        parts.extend(citation_html(c, show_score, mark=not answer.abstained) for c in answer.citations)
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def documents_table(rows: Sequence[Any]) -> str:
    """``qa.documents.DocumentInfo`` rows as an escaped HTML table."""
    from qa.documents import STATUS_LABELS, human_size

    head = "".join(
        f"<th>{h}</th>" for h in ("文件 Name", "类型 Type", "大小 Size", "页 Pages", "块 Chunks", "索引时间 Indexed")
    )
    body = []
    for r in rows:
        status = ""
        if r.status != "indexed":
            status = (
                f'<div class="qa-{esc(r.status)}">{esc(STATUS_LABELS.get(r.status, r.status))} {esc(r.reason)}</div>'
            )
        cells = [
            f'<td class="qa-doc-name">{esc(r.name)}{status}</td>',
            f"<td>{esc(r.kind)}</td>",
            f'<td class="qa-num">{esc(human_size(r.bytes))}</td>',
            f'<td class="qa-num">{esc(str(r.pages or "–"))}</td>',
            f'<td class="qa-num">{esc(str(r.chunks if r.chunks is not None else "–"))}</td>',
            f"<td>{esc(r.indexed.replace('T', ' ')[:16] or '–')}</td>",
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        body.append('<tr><td colspan="6">（语料为空 / the corpus is empty）</td></tr>')
    return f'<table class="qa-docs"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def status_html(message: str, report: Any) -> str:
    """What an update did: the message, then every file the build skipped, with why."""
    lines = [message]
    for s in getattr(report, "skipped", []) or []:
        lines.append(f"跳过 Skipped {s.path}: {s.reason}")
    return f'<div class="qa-status">{esc(chr(10).join(lines))}</div>'


def error_html(message: str) -> str:
    """A friendly error bubble (the QAError's Chinese and English lines)."""
    return f'<div class="qa-error">⚠️ {esc(message)}</div>'


def question_html(question: str) -> str:
    """The user's bubble: their text, inert, clipped if it is huge."""
    shown = question if len(question) <= MAX_SHOWN_QUESTION else question[:MAX_SHOWN_QUESTION] + "…"
    return f'<div class="qa-question">{esc(shown)}</div>'


INTERNAL_ERROR = "内部错误，请稍后再试。\nInternal error; please try again."


def chat_messages(turns: Sequence[Turn], show_score: bool) -> list[dict[str, str]]:
    """Chatbot value (Gradio 6 messages format) rendered from the session's turns."""
    messages: list[dict[str, str]] = []
    for t in turns:
        messages.append({"role": "user", "content": question_html(t.question)})
        body = answer_html(t.answer, show_score) if t.answer is not None else error_html(t.error)
        messages.append({"role": "assistant", "content": body})
    return messages


# ---------------------------------------------------------------- the article view
@dataclass(frozen=True)
class ArticleView:
    """One document as numbered raw lines: cleaned text per raw line, and the raw text.

    Line numbers are the raw file's, the ones citations carry. The default shows each
    raw line's *cleaned* text (pinyin annotations removed, garbled spans corrected,
    the passages' script), so it reads like the cited passages; the raw lines are one
    click away for checking against the file itself.
    """

    doc_id: str
    cleaned: tuple[str, ...]
    raw: tuple[str, ...]
    page_lines: tuple[int, ...] = ()  # the first line of each page (PDFs); () = no pages

    @classmethod
    def from_document(cls, doc: Document) -> ArticleView:
        n_lines = len(doc.line_starts) or doc.raw.count("\n") + 1
        cleaned = [""] * n_lines
        for i, ch in enumerate(doc.text):
            if ch == "\n":
                continue  # paragraph breaks are the raw line ends themselves
            line = doc.raw_line_of(doc.raw_offsets[i])
            if 1 <= line <= n_lines:
                cleaned[line - 1] += ch
        pages = tuple(doc.raw_line_of(p) for p in doc.page_starts)
        return cls(doc.doc_id, tuple(cleaned), tuple(doc.raw.split("\n")), pages)


def article_html(
    view: ArticleView,
    cited: dict[int, list[int]] | None = None,
    traditional: bool = False,
    raw: bool = False,
    weak: bool = False,
) -> str:
    """The whole article with line numbers; lines cited by the latest answer are marked.

    ``weak`` (the answer abstained) marks the possibly related lines more faintly.
    """
    cited = cited or {}
    cls = "qa-article qa-weak" if weak else "qa-article"
    rows = [f'<div class="{cls}"><div class="qa-article-title">{esc(view.doc_id)}</div>']
    lines = view.raw if raw else view.cleaned
    page_at = {line: n for n, line in enumerate(view.page_lines, 1)}  # a page's first line -> its number
    for no, text in enumerate(lines, 1):
        if no in page_at:
            rows.append(f'<div class="qa-page-break" id="qa-P{page_at[no]}">{esc(page_label(page_at[no]))}</div>')
        if not raw:
            text = to_traditional(text) if traditional else to_simplified(text)
        tags = "".join(f'<span class="qa-tag">{esc(f"[{n}]")}</span>' for n in cited.get(no, []))
        cls = "qa-line qa-cited" if no in cited else "qa-line"
        if 1 in cited.get(no, []):
            cls += " qa-c1"  # the first citation's lines: the panel scrolls there
        rows.append(
            f'<div class="{cls}" id="qa-L{no}"><span class="qa-ln">{no}</span>'
            f'<span class="qa-lt">{esc(text) or "&nbsp;"}</span><span class="qa-tags">{tags}</span></div>'
        )
    rows.append("</div>")
    return "".join(rows)


def cited_lines(answer: Answer | None, doc_id: str) -> dict[int, list[int]]:
    """Raw line -> citation numbers of the answer's citations in this document."""
    out: dict[int, list[int]] = {}
    if answer is None:
        return out
    for c in answer.citations:
        if c.doc != doc_id:
            continue
        for line in range(int(c.lines[0]), int(c.lines[1]) + 1):
            out.setdefault(line, []).append(c.n)
    return out


# ---------------------------------------------------------------- the app
CSS = """
.qa-answer { line-height: 1.7; }
.qa-text { font-size: 1.05em; margin-bottom: .4em; }
.qa-ref { color: var(--color-accent); font-weight: 600; }
.qa-notice { color: #9a6700; font-size: .9em; margin: .3em 0; }
.qa-resolved { color: #57606a; font-size: .85em; margin: .3em 0; }
.qa-sources-title { font-weight: 600; margin-top: .5em; color: var(--body-text-color-subdued); font-size: .9em; }
.qa-abstained .qa-sources-title { color: #9a6700; }
ol.qa-sources { margin: .3em 0 0 0; padding-left: 0; list-style: none; }
li.qa-source { margin: .45em 0; padding: .45em .6em; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); border-radius: 4px; }
.qa-abstained li.qa-source { border-left-color: #d4a72c; }
.qa-meta { font-size: .85em; color: var(--body-text-color-subdued); margin-bottom: .2em; }
.qa-meta .qa-n { color: var(--color-accent); }
.qa-score { margin-left: .5em; font-variant-numeric: tabular-nums; }
.qa-passage { font-size: .95em; }
.qa-passage mark, .qa-answer mark { background: #fff3a3; color: inherit; padding: 0 .1em; border-radius: 2px; }
.qa-passage mark.qa-span { background: #ffc94d; font-weight: 600; outline: 1px solid #e0a000; }
.qa-short { font-size: 1.15em; margin-bottom: .25em; }
.qa-error { color: #b42318; }
.qa-article { font-size: .92em; line-height: 1.65; max-height: 72vh; overflow-y: auto; }
.qa-article-title { font-weight: 600; margin-bottom: .4em; }
.qa-line { display: flex; gap: .6em; padding: .1em .3em; border-radius: 3px; }
.qa-line.qa-cited { background: #fff3a3; }
.qa-weak .qa-line.qa-cited { background: #fbf5e0; }
.qa-ln { flex: 0 0 2.2em; text-align: right; color: var(--body-text-color-subdued);
  font-variant-numeric: tabular-nums; user-select: none; }
.qa-lt { flex: 1 1 auto; }
.qa-tags { flex: 0 0 auto; color: var(--color-accent); font-weight: 600; font-size: .85em; }
.qa-page { font-weight: 600; }
.qa-page-break { margin: .6em 0 .2em; padding-top: .2em; border-top: 1px dashed var(--border-color-primary);
  color: var(--body-text-color-subdued); font-size: .8em; text-align: center; }
table.qa-docs { width: 100%; border-collapse: collapse; font-size: .88em; }
table.qa-docs th, table.qa-docs td { padding: .25em .4em; border-bottom: 1px solid var(--border-color-primary);
  text-align: left; vertical-align: top; }
table.qa-docs td.qa-num { text-align: right; font-variant-numeric: tabular-nums; }
.qa-skipped { color: #9a6700; }
.qa-pending { color: #57606a; }
"""

# Our own script (no user data): scroll the article panel to citation [1]'s lines.
SCROLL_TO_CITED = """
watch('value', () => {
  const box = element.querySelector('.qa-article');
  const line = element.querySelector('.qa-c1') || element.querySelector('.qa-cited');
  if (box && line) box.scrollTop = Math.max(0, line.offsetTop - box.offsetTop - 48);
});
"""

THEME_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "ui-sans-serif",
    "system-ui",
    "sans-serif",
)

# Routes Gradio 6 ships that this app never uses; refused so the server reads and
# writes no files for clients and fetches no URLs for them (see ``FileGuard``).
BLOCKED_PREFIXES = (
    "/gradio_api/file=",
    "/gradio_api/file/",
    "/gradio_api/proxy=",
    "/gradio_api/process_recording",
    "/gradio_api/stream/",
    "/gradio_api/run-history",
    "/gradio_api/vibe-",
    "/gradio_api/mcp",
    "/file=",
    "/proxy=",
    "/monitoring",
)
UPLOAD_PREFIXES = ("/gradio_api/upload", "/upload")  # open only when the documents panel takes uploads


class FileGuard:
    """ASGI middleware refusing Gradio's file, upload and URL-proxy routes.

    Gradio 6 serves ``/gradio_api/file=<path or public URL>`` (cache files, and a
    server-side fetch of any public URL); refusing it keeps the server from being a file
    drop or proxy. Uploads are accepted only when the documents panel takes them
    (``QA_UI_UPLOADS``, on by default), capped at the corpus's file size limit; the
    upload handler checks each file's type by content before it reaches ``corpus/``.
    """

    def __init__(self, app: Any, uploads: bool = False) -> None:
        self.app = app
        self.blocked = BLOCKED_PREFIXES if uploads else BLOCKED_PREFIXES + UPLOAD_PREFIXES

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("path", "").startswith(self.blocked):
            body = b"Not available in this app"
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class QABlocks(gr.Blocks):
    """gr.Blocks whose launch() carries this app's look and safety defaults.

    Gradio 6 moved theme/css from the Blocks constructor to launch(); keeping them
    here means ``create_app(p).launch(...)`` in tests looks and behaves like ``main``.
    """

    def launch(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        from starlette.middleware import Middleware

        kwargs.setdefault("theme", gr.themes.Soft(primary_hue="emerald", font=THEME_FONTS))
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("share", False)
        kwargs.setdefault("inbrowser", False)
        kwargs.setdefault("show_error", False)
        kwargs.setdefault("run_history", False)  # no question log in the browser
        kwargs.setdefault("footer_links", ["api"])
        kwargs.setdefault("mcp_server", False)
        kwargs.setdefault("ssr_mode", False)
        uploads = bool(getattr(self, "uploads", False))
        kwargs.setdefault("max_file_size", max_file_bytes() if uploads else 1024)  # refused early past this
        kwargs.setdefault("allowed_paths", [])
        from qa.settings import current
        from qa.site_guard import SiteGuard, allowed_hosts

        chosen = current()
        hosts = allowed_hosts(kwargs.get("server_name") or DEFAULT_HOST, chosen.allowed_hosts, bool(kwargs["share"]))
        app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
        app_kwargs.setdefault(
            "middleware",
            [
                # Host, Origin, login throttle, body cap (uploads: Gradio's max_file_size)
                Middleware(SiteGuard, hosts=hosts, origins=chosen.allowed_origins, uncapped=UPLOAD_PREFIXES),
                Middleware(FileGuard, uploads=uploads),
            ],
        )
        kwargs["app_kwargs"] = app_kwargs
        blocking = not kwargs.get("prevent_thread_lock", False)
        kwargs["prevent_thread_lock"] = True
        result = super().launch(*args, **kwargs)
        api = getattr(self, "json_api", None)
        if api is not None:  # the JSON API in the same server, beside Gradio's own routes
            self.server_app.mount("/api", api)
        if blocking:
            self.block_thread()
        return result


class ChatService:
    """The app's calls into the pipeline. ``Pipeline.run`` is thread-safe (tested in
    ``tests/test_e2e.py``: each model engine runs one pass at a time behind its own lock),
    so the queue runs up to CONCURRENCY events at once without a lock here.
    """

    def __init__(self, pipeline: Asker, documents: Sequence[Document], uploads: bool = False) -> None:
        self.pipeline = pipeline
        self.views = {d.doc_id: ArticleView.from_document(d) for d in documents}
        # The documents panel: the pipeline's corpus and index folders, when it has them.
        self.library: Library | None = pipeline if isinstance(pipeline, Library) else None
        self.uploads = uploads and self.library is not None and self.library.corpus_dir is not None

    def ask(self, question: str, top_k: int, mode: str, reader: bool = True, history: Sequence[Turn] = ()) -> Result:
        return self.pipeline.run(
            question, top_k=int(top_k), mode=cast(Mode, mode), reader=bool(reader), history=history
        )

    # -------------------------------------------------------------- event handlers
    def respond(
        self,
        question: str,
        turns: list[Turn] | None,
        top_k: float,
        mode: str,
        show_score: bool,
        raw: bool,
        doc_id: str | None,
        reader: bool = True,
    ) -> tuple[Any, ...]:
        """Send: answer the question, append the turn, re-render chat and article."""
        turns = list(turns or [])
        question = question or ""
        if not question.strip():
            return gr.update(), gr.update(), turns, gr.update(), gr.update()
        try:
            history = [t for t in turns if t.answer is not None][-HISTORY_TURNS:]
            answer = self.ask(question, int(top_k), mode, reader, history).answer
            turn = Turn(question, answer=answer)
        except QAError as e:
            turn = Turn(question, error=str(e))
        except Exception:  # a bug: log it, never show a traceback to the user
            log.exception("answering %r failed", question[:200])
            turn = Turn(question, error=INTERNAL_ERROR)
        turns = [*turns, turn][-MAX_TURNS:]
        if turn.answer is not None and turn.answer.citations:
            doc_id = turn.answer.citations[0].doc
        return (
            "",
            chat_messages(turns, show_score),
            turns,
            self.article(turns, raw, doc_id),
            gr.update(value=doc_id) if doc_id in self.views else gr.update(),
        )

    def article(self, turns: Sequence[Turn] | None, raw: bool, doc_id: str | None) -> str:
        """The article panel for the latest answer (its lines marked, in its script)."""
        if not self.views:
            return '<div class="qa-article">（语料为空 / the corpus is empty）</div>'
        view = self.views.get(doc_id or "") or next(iter(self.views.values()))
        last = next((t for t in reversed(turns or []) if t.answer is not None), None)
        answer = last.answer if last else None
        traditional = bool(answer) and is_traditional(answer.question)  # type: ignore[union-attr]
        weak = bool(answer) and answer.abstained  # type: ignore[union-attr]
        return article_html(view, cited_lines(answer, view.doc_id), traditional, raw, weak)

    # -------------------------------------------------------------- the documents panel
    def document_list(self) -> tuple[str, list[str]]:
        """The documents list as HTML (name, type, size, pages, chunks, when indexed, or why
        skipped) and the names for the delete menu: the folder is listed (and hashed) once."""
        from qa.documents import list_documents

        lib = self.library
        if lib is None or lib.corpus_dir is None or lib.index_dir is None:
            return '<div class="qa-docs">（没有语料目录 / no corpus folder）</div>', []
        try:
            rows = list_documents(lib.corpus_dir, lib.index_dir)
        except QAError as e:
            return error_html(str(e)), []
        return documents_table(rows), [r.name for r in rows]

    def upload(self, paths: list[str] | str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Add the uploaded files to the corpus, update the index (with progress), refresh the panels.

        Answers keep coming from the previous index until the new one is swapped in.
        """
        files = [paths] if isinstance(paths, str) else list(paths or [])

        def add(library: Library) -> str:
            if not files:
                return ""
            from qa.documents import read_upload

            t0 = time.perf_counter()
            uploads = [(Path(f).name, read_upload(Path(f))) for f in files]
            progress(0.0, desc="检查文件 Checking files")
            stored, report = library.add_documents(uploads, on_progress=lambda f, what: progress(f, desc=what))
            seconds = time.perf_counter() - t0
            note = (
                f"已添加 {len(stored)} 个文件：{'、'.join(stored)}，可以提问了（{seconds:.1f} 秒）。\n"
                f"Added {len(stored)} file(s) in {seconds:.1f} s; ask away."
            )
            return status_html(note, report)

        try:
            return self._change(add, "本应用不接受上传。\nUploads are turned off in this app.")
        finally:
            for f in files:  # Gradio's copy in its cache folder: the corpus holds the file now
                Path(f).unlink(missing_ok=True)

    def delete(self, name: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Remove one document from the corpus and update the index."""

        def remove(library: Library) -> str:
            if not name:
                return error_html("请先选择一个文档。\nChoose a document first.")
            report = library.remove_document(name, on_progress=lambda f, what: progress(f, desc=what))
            return status_html(f"已删除 {name}。\nRemoved {name}.", report)

        return self._change(remove, "本应用不允许删除文档。\nDeleting documents is turned off in this app.")

    def _change(self, action: Callable[[Library], str], turned_off: str) -> tuple[Any, ...]:
        """Run one change of the corpus (an upload, a deletion) and refresh the panels; its
        status line, or the error (bilingual for a user's, a plain one for a bug)."""
        if not self.uploads or self.library is None:
            return self._after_change(error_html(turned_off))
        try:
            message = action(self.library)
        except QAError as e:
            message = error_html(str(e))
        except Exception:
            log.exception("changing the documents failed")
            message = error_html(INTERNAL_ERROR)
        return self._after_change(message)

    def _after_change(self, message: str) -> tuple[Any, ...]:
        """Status, documents list, delete choices, cleared upload box, article choices, heading."""
        if self.library is not None:
            with contextlib.suppress(QAError):  # the corpus folder went away: keep showing what was indexed
                self.views = {d.doc_id: ArticleView.from_document(d) for d in self.library.documents()}
        table, names = self.document_list()
        ids = list(self.views)
        return (
            message,
            table,
            gr.update(choices=names, value=None),
            None,
            gr.update(choices=ids, visible=len(ids) > 1),
            corpus_heading(ids),
        )

    def rerender(self, turns: list[Turn] | None, show_score: bool) -> list[dict[str, str]]:
        return chat_messages(turns or [], show_score)

    def clear(self, raw: bool, doc_id: str | None) -> tuple[Any, ...]:
        return [], [], "", self.article([], raw, doc_id)

    def api_ask(
        self,
        question: str,
        top_k: int = DEFAULT_TOP_K,
        mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
        reader: bool = True,
        history: list[Any] | None = None,
    ) -> dict[str, Any]:
        """Answer one question; returns the same JSON object as `qa ask --json`
        (``reader``: False gives sentence answers, like ``QA_READER=off``; ``history``:
        the earlier turns, most recent last, each a question string or an earlier
        ``ask`` result / {"question", "short_answer", "resolved_question"})."""
        try:
            turns = [Turn.from_json(item) for item in (history or [])][-HISTORY_TURNS:]
        except TypeError:
            raise gr.Error(
                "history 应为问题字符串或对象的列表。\nhistory must be a list of question strings or objects.",
                print_exception=False,
            ) from None
        try:
            k = int(top_k)
        except (TypeError, ValueError):
            raise gr.Error("top-k 应为整数。\ntop-k must be an integer.", print_exception=False) from None
        try:
            return self.ask(question, k, mode, reader, turns).to_json()
        except QAError as e:
            raise gr.Error(str(e), print_exception=False) from None


def create_app(
    pipeline: Asker,
    documents: Sequence[Document] | None = None,
    corpus_dir: Path | None = None,
    credentials: tuple[str, str] | None = None,
    uploads: bool | None = None,
) -> gr.Blocks:
    """Build the chat app around an already opened Pipeline (model and index load once).

    ``documents`` feed the article view; by default the corpus is read again from
    ``corpus_dir`` (or the default corpus folder) with ``qa.corpus.load_corpus``.
    """
    if documents is None and corpus_dir is None and callable(getattr(pipeline, "documents", None)):
        documents = pipeline.documents()  # type: ignore[attr-defined]  # exactly the corpus that was indexed
    if not documents:
        from qa.corpus import load_corpus
        from qa.pipeline import default_corpus_dir

        documents, _ = load_corpus(corpus_dir or default_corpus_dir())
    if uploads is None:
        from qa.settings import current

        uploads = current().ui_uploads
    svc = ChatService(pipeline, documents, uploads=uploads)
    doc_ids = list(svc.views)
    listed_html, listed_names = svc.document_list()
    private: dict[str, Any] = {"api_visibility": "private"}

    with QABlocks(title="文档问答 · Cited QA", analytics_enabled=False) as demo:
        heading = gr.Markdown(corpus_heading(doc_ids), elem_id="qa-heading")
        turns = gr.State([], time_to_live=STATE_TTL_SECONDS)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="对话 / Chat",
                    show_label=False,
                    height="64vh",
                    min_height=420,
                    buttons=[],
                    feedback_options=None,
                    latex_delimiters=[],
                    allow_tags=False,
                    sanitize_html=True,
                    layout="bubble",
                    placeholder="在下面输入问题，或点一个示例。<br>Type a question below, or pick an example.",
                    elem_id="qa-chat",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="输入问题… / Ask a question…",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=6,
                        autofocus=True,
                        elem_id="qa-input",
                    )
                    send = gr.Button("发送 Send", variant="primary", scale=1, min_width=90, elem_id="qa-send")
                    clear = gr.Button("新对话 New chat", scale=1, min_width=90, elem_id="qa-clear")
                examples = gr.Examples(
                    examples=[[q] for q in corpus_examples(pipeline)],
                    inputs=[box],
                    label="示例问题 / Examples",
                    api_visibility="private",
                )
                with gr.Accordion("设置 / Settings", open=False), gr.Row():
                    top_k = gr.Slider(1, MAX_UI_TOP_K, value=DEFAULT_TOP_K, step=1, label="引用段落数 top-k")
                    mode = gr.Radio(MODE_CHOICES, value="hybrid", label="检索方式 / retrieval mode")
                    show_score = gr.Checkbox(False, label="显示分数 / show scores")
                    use_reader = gr.Checkbox(
                        True, label="精确答案（阅读模型）/ exact answers (reader model)", elem_id="qa-reader"
                    )
            with gr.Column(scale=2, min_width=320), gr.Tabs():
                with gr.Tab("文档原文 / Document"):
                    doc = gr.Dropdown(
                        doc_ids,
                        value=doc_ids[0] if doc_ids else None,
                        label="文档 / document",
                        visible=len(doc_ids) > 1,
                        elem_id="qa-doc",
                    )
                    raw = gr.Checkbox(False, label="显示原始行 / show raw lines (as in the file)")
                    article = gr.HTML(
                        svc.article([], False, doc_ids[0] if doc_ids else None),
                        js_on_load=SCROLL_TO_CITED,
                        elem_id="qa-article",
                    )
                with gr.Tab("文档 / Documents", elem_id="qa-docs-tab"):
                    docs_table = gr.HTML(listed_html, elem_id="qa-docs")
                    status = gr.HTML("", elem_id="qa-doc-status")
                    upload = gr.File(
                        label=f"上传 Upload（{' '.join(sorted(FORMATS))}，≤ {max_file_bytes() / 2**20:g} MB）",
                        file_count="multiple",
                        file_types=sorted(FORMATS),
                        type="filepath",
                        visible=svc.uploads,
                        elem_id="qa-upload",
                    )
                    with gr.Row(visible=svc.uploads):
                        to_delete = gr.Dropdown(listed_names, value=None, label="删除文档 / delete a document", scale=3)
                        delete = gr.Button("删除 Delete", variant="stop", scale=1, min_width=90, elem_id="qa-delete")

        ask_io: dict[str, Any] = {
            "inputs": [box, turns, top_k, mode, show_score, raw, doc, use_reader],
            "outputs": [box, chatbot, turns, article, doc],
        }
        gr.on([box.submit, send.click], svc.respond, **ask_io, **private)
        examples.load_input_event.then(svc.respond, **ask_io, **private)  # a click on an example asks it
        clear.click(svc.clear, inputs=[raw, doc], outputs=[chatbot, turns, box, article], **private)
        # the Chatbot's own trash icon empties only its display: drop the turns too
        chatbot.clear(svc.clear, inputs=[raw, doc], outputs=[chatbot, turns, box, article], **private)
        show_score.change(svc.rerender, inputs=[turns, show_score], outputs=[chatbot], **private)
        gr.on([raw.change, doc.change], svc.article, inputs=[turns, raw, doc], outputs=[article], **private)
        changed = [status, docs_table, to_delete, upload, doc, heading]
        upload.upload(svc.upload, inputs=[upload], outputs=changed, **private)
        delete.click(svc.delete, inputs=[to_delete], outputs=changed, **private)
        gr.api(svc.api_ask, api_name="ask")
    from qa.http_api import create_api

    demo.json_api = create_api(  # type: ignore[attr-defined]
        pipeline,  # type: ignore[arg-type]
        credentials,
        health={"documents": len(svc.views), "reader": getattr(getattr(pipeline, "reader", None), "name", None)},
    )

    demo.uploads = svc.uploads  # type: ignore[attr-defined]  # QABlocks.launch opens the upload route then
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def corpus_heading(doc_ids: Sequence[str]) -> str:
    """The page's heading: the product, then the documents it answers from now (the corpus
    names itself; the default article is one corpus among others)."""
    names = "、".join(doc_ids[:SHOWN_NAMES]) + ("等" if len(doc_ids) > SHOWN_NAMES else "")
    return (
        f"## 文档问答 · 附出处 / Cited document QA\n当前文档 {len(doc_ids)} 篇：{esc(names) or '（无 / none）'}。"
        "每个回答都标出引用的原文段落与行号，可在右侧「文档原文」中核对。"
        f" / Answers from {len(doc_ids)} document(s), each citing its passage and lines."
    )


def corpus_examples(pipeline: object) -> list[str]:
    """Example questions made from the indexed passages (``qa.intents.example_questions``,
    as the help reply gives them), then the chat's own examples."""
    from qa.intents import example_questions

    chunks = getattr(getattr(pipeline, "index", None), "chunks", None) or []
    return [*example_questions(chunks, CORPUS_EXAMPLES), *CHAT_EXAMPLES]


# ---------------------------------------------------------------- launching
def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_from_env() -> tuple[str, str] | None:
    """(user, password) for Gradio's login when QA_UI_PASSWORD is set."""
    from qa.settings import current

    chosen = current()
    return (chosen.ui_user, chosen.ui_password) if chosen.ui_password else None


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    share: bool = False,
    corpus: Path | None = None,
    index: Path | None = None,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
) -> int:
    """Load model and index once, then serve the UI (and the JSON API) until interrupted
    (over HTTPS with ``ssl_certfile`` and ``ssl_keyfile``).

    The one launcher: ``qa serve`` and ``python ui.py`` both come here with the options
    ``qa serve`` defines."""
    try:
        auth = auth_from_env()  # reads the settings: every QA_* variable is checked here first
    except QAError as e:
        print(str(e), file=sys.stderr)
        return 1
    read_only = (share or not is_loopback(host)) and auth is None
    if read_only:  # anyone who reaches it may ask, but not change the corpus
        where, where_en = ("公开分享链接（--share）", "a public share link (--share)") if share else (host, host)
        print(
            f"警告：正在通过 {where} 提供服务，且未设置密码；网络上的任何人都能使用本应用。"
            "因此以只读方式启动：可以提问，不能上传或删除文档。"
            "设置环境变量 QA_UI_PASSWORD（用户名 QA_UI_USER，默认 qa）即可开启文档管理。\n"
            f"WARNING: serving on {where_en} without a password: anyone on the network can use this app, "
            "so it starts read-only: questions are answered, documents cannot be uploaded or deleted. "
            "Set QA_UI_PASSWORD (and optionally QA_UI_USER, default 'qa') to manage documents.",
            file=sys.stderr,
        )
    from qa.pipeline import Pipeline

    t0 = time.perf_counter()
    print("正在加载模型和索引… / Loading model and index…", file=sys.stderr)
    try:
        pipe = Pipeline.open(corpus, index, progress=sys.stderr.isatty())
        # its documents: the ones the pipeline indexed; uploads as QA_UI_UPLOADS says, unless read-only
        app = create_app(pipe, credentials=auth, uploads=False if read_only else None)
        pipe.ask(corpus_examples(pipe)[0])  # warm-up (jieba, first forward pass) so the first user does not wait
        pipe.warm()  # and the English-Chinese dictionary, in the background
    except QAError as e:
        print(str(e), file=sys.stderr)
        return 1
    print(f"已就绪 / ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    try:
        tls = {"ssl_certfile": str(ssl_certfile), "ssl_keyfile": str(ssl_keyfile), "ssl_verify": False}
        app.launch(server_name=host, server_port=port, share=share, auth=auth, **(tls if ssl_certfile else {}))
    except KeyboardInterrupt:
        print("\n已停止 / Stopped", file=sys.stderr)
    except OSError as e:  # e.g. the port is taken
        print(f"无法启动服务 / Cannot start the server: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """``python ui.py [OPTIONS]`` is ``qa serve [OPTIONS]``: one set of options, one launcher."""
    from qa.cli import main as cli

    cli(["serve", *(sys.argv[1:] if argv is None else argv)], prog_name="ui.py")


if __name__ == "__main__":
    main()
