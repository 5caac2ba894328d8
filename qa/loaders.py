"""File bytes -> a document's text view: TXT, Markdown, PDF, DOCX and HTML.

Every format becomes one *text view*: the text that line numbers in citations count
(for ``.txt``/``.md`` the file itself, as before) and, for PDFs, where each page begins
in it. The one normaliser (``qa.normalize``) then cleans every format alike: Kangxi
radicals from PDF text layers, hard line breaks, repeated headers and page numbers.

The type is checked by content, not by name: a ``.pdf`` must start like a PDF, a
``.docx`` must be a Word zip, and a text format must not be binary. A file that cannot
be read (unsupported, encrypted, scanned without a text layer, broken) raises a
``QAError`` that says why in both languages, so the corpus loader can skip it and go on.

Libraries (permissive licences, see README): pypdf (BSD-3-Clause) for the PDF text
layer, python-docx (MIT) for Word paragraphs and tables, trafilatura (Apache-2.0) for a
web page's main text without its menus and footers.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from qa.errors import QAError
from qa.settings import current as limits

FORMATS: dict[str, str] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
}
"""File suffix -> format; anything else is reported as unsupported."""
TEXT_FORMATS = ("txt", "md", "html")
KIND_NAMES = {"txt": "TXT", "md": "Markdown", "pdf": "PDF", "docx": "Word (DOCX)", "html": "HTML", "zip": "ZIP"}
CONTENT_NAMES = {"text": ("纯文本", "plain text"), "binary": ("二进制数据", "binary data")}
MIN_TEXT_CHARS = 20  # a PDF with less text than this on all its pages has no usable text layer
SUPPORTED_LIST = " ".join(sorted(FORMATS))


@dataclass(frozen=True)
class Loaded:
    """One file's text view and, for paged formats, where each page begins in it."""

    text: str
    kind: str
    page_starts: tuple[int, ...] = ()  # offset in ``text`` of each page's first character

    @property
    def pages(self) -> int | None:
        return len(self.page_starts) or None


def format_of(name: str) -> str | None:
    """The format a file name claims (by suffix), or None when unsupported."""
    return FORMATS.get(PurePath(name).suffix.lower())


def sniff(data: bytes) -> str:
    """What the bytes are: "pdf", "docx", "zip" (another zip), "binary" or "text"."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "docx" if "word/document.xml" in z.namelist() else "zip"
        except zipfile.BadZipFile:
            return "binary"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or utf16_unmarked(data) is not None:
        return "text"  # UTF-16, with a BOM or without
    return "binary" if looks_binary(data[:65536]) else "text"


def utf16_unmarked(data: bytes) -> str | None:
    """ "utf-16-le"/"utf-16-be" for UTF-16 text without a BOM, else None. Its ASCII (line
    breaks, digits, punctuation) has a NUL in every high byte, so the NULs sit almost all
    at odd offsets (little-endian) or even ones (big-endian); binary data scatters them.
    The sample must then decode strictly, to printable text."""
    sample = data[:65536]
    if len(sample) < 4:
        return None
    sample = sample[: len(sample) // 2 * 2]
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if odd >= 2 and even <= odd / 20:
        encoding = "utf-16-le"
    elif even >= 2 and odd <= even / 20:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = sample.decode(encoding)
    except UnicodeDecodeError:
        return None
    shown = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return encoding if shown >= 0.95 * len(text) else None  # 16-bit numbers decode too, as control codes


def looks_binary(sample: bytes) -> bool:
    """Many NUL bytes mean binary; one or two stray NULs in text are dropped instead."""
    nul = sample.count(0)
    return nul > 2 and nul > len(sample) / 1000


def unsupported(name: str) -> QAError:
    suffix = PurePath(name).suffix or "无扩展名"
    return QAError(
        f"{name}：不支持的文件类型（{suffix}），已跳过。支持：{SUPPORTED_LIST}",
        f"{name}: unsupported file type ({suffix if PurePath(name).suffix else 'no extension'}); skipped. "
        f"Supported: {SUPPORTED_LIST}",
    )


def check_content(data: bytes, name: str) -> str:
    """The file's format, after checking that its content is what its name says."""
    claimed = format_of(name)
    if claimed is None:
        raise unsupported(name)
    actual = sniff(data)
    # A text format holding binary data is left to the decoder, which names the NUL bytes.
    fits = actual == claimed if claimed in ("pdf", "docx") else actual in ("text", "binary")
    if not fits:
        what, what_en = CONTENT_NAMES.get(actual, (KIND_NAMES.get(actual, actual),) * 2)
        raise QAError(
            f"{name}：文件内容是{what}，与扩展名 {PurePath(name).suffix} 不符，已跳过。",
            f"{name}: the content is {what_en}, not what the extension {PurePath(name).suffix} says; skipped.",
        )
    return claimed


@functools.lru_cache(maxsize=4)
def load_bytes(data: bytes, name: str) -> Loaded:
    """Check and read one file's bytes into its text view (``name`` gives the format).

    PDF, DOCX and HTML are parsed in a child process under the time and memory bounds of
    ``qa.settings`` (``qa.sandbox``): a small file built to expand or to stall the parser is
    refused there, and the server's own process never holds it. Plain text is decoded
    here (its size is the file's, already capped). The last few results are kept: an
    upload is checked, then indexed. ``Loaded`` is frozen, so sharing is safe.
    """
    kind = check_content(data, name)
    return parse_bytes(data, name, kind) if kind in ("txt", "md") else load_isolated(data, name)


def parse_bytes(data: bytes, name: str, kind: str | None = None) -> Loaded:
    """``load_bytes`` in this process: the parse itself, with its caps on text, pages and
    unzipped size (the child process runs this); ``kind``: the format, when already checked."""
    from qa.corpus import decode_bytes

    kind = kind or check_content(data, name)
    if kind == "pdf":
        loaded = load_pdf(data, name)
    elif kind == "docx":
        loaded = load_docx(data, name)
    else:
        text = decode_bytes(data, name)
        loaded = Loaded(html_text(text) if kind == "html" else text, kind)
    if len(loaded.text) > limits().max_text_chars:
        raise too_much_text(name)
    if not loaded.text.strip():  # e.g. a page nested deeper than the HTML parser goes: refused now, not after
        raise QAError(f"{name}：文件里没有可读的文字，已跳过。", f"{name}: the file has no readable text; skipped.")
    return loaded


def load_isolated(data: bytes, name: str) -> Loaded:
    """``parse_bytes`` in a child process killed at ``LOAD_TIMEOUT_S`` or ``LOAD_MEMORY_MB``."""
    from qa.sandbox import Exceeded, run_bounded

    try:
        out = run_bounded(
            "qa.loaders", [name], data, limits().load_timeout_s, int(limits().load_memory_mb * 1024 * 1024)
        )
    except Exceeded as e:
        raise beyond_bounds(name, e.what) from e
    except (RuntimeError, ValueError, OSError) as e:  # the child itself failed: say why, skip the file
        raise broken(name, e) from e
    if "exceeded" in out:
        raise beyond_bounds(name, out["exceeded"])
    if "error" in out:
        raise QAError(out["error"]["zh"], out["error"]["en"])
    return Loaded(out["text"], out["kind"], tuple(out["page_starts"]))


def beyond_bounds(name: str, what: str) -> QAError:
    if what == "time":
        t = f"{limits().load_timeout_s:g}"
        return QAError(
            f"{name}：解析超过 {t} 秒仍未完成（文件可能是为拖垮解析而构造的），已跳过。",
            f"{name}: parsing took longer than {t} s (the file may be built to stall the parser); skipped.",
        )
    mb = f"{limits().load_memory_mb:g}"
    return QAError(
        f"{name}：解析需要超过 {mb} MB 内存（文件可能是压缩炸弹），已跳过。",
        f"{name}: parsing needs more than {mb} MB of memory (the file may be a decompression bomb); skipped.",
    )


def too_much_text(name: str) -> QAError:
    n = f"{limits().max_text_chars:,}"
    return QAError(
        f"{name}：文字超过 {n} 字的上限，已跳过。请拆分成较小的文件。",
        f"{name}: more than {n} characters of text, the limit; skipped. Split it into smaller files.",
    )


def broken(name: str, e: Exception) -> QAError:
    detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
    return QAError(
        f"{name}：文件已损坏或无法解析（{detail}），已跳过。",
        f"{name}: the file is damaged or cannot be parsed ({detail}); skipped.",
    )


# ---------------------------------------------------------------- PDF
def load_pdf(data: bytes, name: str) -> Loaded:
    """The text layer of every page; pages are joined by a line break (the normaliser
    rejoins a sentence that runs across pages) and each page's start is recorded."""
    import pypdf
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise QAError(
                f"{name}：PDF 已加密（需要密码才能读取文字），已跳过。请先去掉密码。",
                f"{name}: the PDF is encrypted (a password is needed to read its text); skipped. Remove the password.",
            )
        if len(reader.pages) > limits().max_pages:
            raise QAError(
                f"{name}：PDF 有 {len(reader.pages)} 页，超过 {limits().max_pages} 页的上限，已跳过。请拆分后再添加。",
                f"{name}: the PDF has {len(reader.pages)} pages, over the limit of {limits().max_pages}; skipped. "
                "Split it first.",
            )
        pages, chars = [], 0
        for page in reader.pages:
            try:
                pages.append((page.extract_text() or "").strip("\n"))
            except LimitReachedError as e:  # pypdf's own bound on a stream: not a missing text layer
                raise QAError(
                    f"{name}：PDF 的某一页超出解析上限（{e}），已跳过。",
                    f"{name}: a page of the PDF exceeds the parser's limit ({e}); skipped.",
                ) from e
            except Exception:  # one unreadable page: keep the others (it counts as empty)
                pages.append("")
            chars += len(pages[-1])
            if chars > limits().max_text_chars:
                raise too_much_text(name)
    except QAError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as e:
        raise broken(name, e) from e
    except Exception as e:  # pypdf raises many types on malformed input; never stop the others
        if "crypt" in str(e).lower() or "AES" in str(e):
            raise QAError(
                f"{name}：PDF 已加密，无法解密，已跳过。",
                f"{name}: the PDF is encrypted and cannot be decrypted; skipped.",
            ) from e
        raise broken(name, e) from e
    if not pages:
        raise broken(name, ValueError("no pages"))
    if sum(len(re.sub(r"\s", "", p)) for p in pages) < MIN_TEXT_CHARS:
        raise QAError(
            f"{name}：PDF 没有文字层（可能是扫描件或图片），需要先做文字识别（OCR），已跳过。",
            f"{name}: the PDF has no text layer (a scan or images?); run OCR on it first; skipped.",
        )
    starts, pos = [], 0
    for p in pages:
        starts.append(pos)
        pos += len(p) + 1
    return Loaded("\n".join(pages), "pdf", tuple(starts))


# ---------------------------------------------------------------- DOCX
def load_docx(data: bytes, name: str) -> Loaded:
    """Paragraphs and tables in document order, one block per line with a blank line
    between blocks, so a heading never runs into the paragraph after it. A table is one
    block of row sentences (``table_lines``), so a row is never read without the others."""
    import docx
    from docx.table import Table

    check_unzipped_size(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):  # one block: its rows are read (and chunked) together
                rows = table_lines([distinct_cells(row) for row in item.rows])
                blocks.append("".join(r if r.endswith("。") else r + "。" for r in rows))
            elif item.text.strip():
                blocks.append(" ".join(item.text.split("\n")).strip())
    except Exception as e:  # a damaged zip or XML
        raise broken(name, e) from e
    if not blocks:
        raise QAError(f"{name}：文档里没有文字，已跳过。", f"{name}: the document has no text; skipped.")
    return Loaded("\n\n".join(blocks), "docx")


def check_unzipped_size(data: bytes, name: str) -> None:
    """Refuse a zip whose members add up to more than ``MAX_UNZIPPED_MB`` before anything
    unpacks it (a 580 KB DOCX can hold 200 MB of XML). zipfile never reads a member past
    its declared size, so the declared sizes are the bound."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise broken(name, e) from e
    if total > limits().max_unzipped_mb * 1024 * 1024:
        mb = f"{limits().max_unzipped_mb:g}"
        unzipped_mb = f"{total / 1024 / 1024:.0f}"
        raise QAError(
            f"{name}：解压后有 {unzipped_mb} MB，超过 {mb} MB 的上限（可能是压缩炸弹），已跳过。",
            f"{name}: unzips to {unzipped_mb} MB, over the limit of {mb} MB (a decompression bomb?); skipped.",
        )


def distinct_cells(row: Any) -> list[str]:
    """A python-docx row's cell texts; a merged cell (listed once per grid column) once."""
    out, previous = [], None
    for cell in row.cells:
        if previous is not None and cell._tc is previous:
            continue
        previous = cell._tc
        out.append(cell.text)
    return out


def table_lines(rows: list[list[str]]) -> list[str]:
    """A table as sentences, one per row: "指标：2024年为0.52吨；2025年为0.45吨。".

    With a header row each value is named by its column, so a row line holds the words a
    question uses ("2025年…是多少").
    """
    cleaned = []
    for row in rows:
        cells = [" ".join(text.split()) for text in row]
        if any(cells):
            cleaned.append(cells)
    if len(cleaned) < 2 or len(cleaned[0]) < 2:
        return [" | ".join(c) for c in cleaned]
    header, out = cleaned[0], []
    for cells in cleaned[1:]:
        if len(cells) != len(header):
            out.append(" | ".join(cells))
            continue
        pairs = [f"{h}为{v}" if h else v for h, v in zip(header[1:], cells[1:], strict=True) if v]
        out.append(f"{cells[0]}：{'；'.join(pairs)}。" if pairs else cells[0])
    return out


# ---------------------------------------------------------------- HTML
def html_text(html: str) -> str:
    """A web page's title and main text, one paragraph per line with blank lines between.

    A page that marks its main text (``<article>`` or ``<main>``) is read from there, block
    by block; otherwise trafilatura finds the main text and drops menus, sidebars and
    footers. A bare page where neither finds anything gives the visible text of its body.
    Script, style, navigation, header, footer, aside and form elements never count.
    """
    import trafilatura
    from lxml import html as lxml_html

    title, tree = "", None
    try:
        tree = lxml_html.fromstring(html)
        heading = tree.find(".//h1")  # the article's own title; <title> often carries the site's name
        title = " ".join((heading.text_content() if heading is not None else tree.findtext(".//title") or "").split())
        for bad in tree.xpath("//script|//style|//nav|//header|//footer|//aside|//noscript|//form|//template"):
            bad.drop_tree()
    except Exception:  # not parseable as HTML: trafilatura may still cope
        tree = None
    lines: list[str] = []
    main = tree.xpath("(//article|//main)[1]") if tree is not None else []
    if main:
        lines = _block_texts(main[0])
    if not lines:
        extracted = trafilatura.extract(
            html, output_format="txt", include_tables=True, include_comments=False, favor_recall=True
        )
        lines = [x for x in (" ".join(line.split()) for line in (extracted or "").splitlines()) if x]
    if not lines and tree is not None:
        body = tree.find(".//body")
        lines = _block_texts(body if body is not None else tree)
    if title and not any(title in x or x in title for x in lines[:2]):
        lines.insert(0, title)
    return "\n\n".join(lines)


_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "pre", "blockquote", "dt", "dd", "figcaption"}


def _block_texts(root: Any) -> list[str]:
    """The text of each block element under ``root`` (a block inside a block counts once),
    and any loose text between them, in document order."""
    out: list[str] = []
    loose: list[str] = []

    def flush() -> None:
        text = " ".join(" ".join(loose).split())
        if text:
            out.append(text)
        loose.clear()

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _BLOCKS:
            flush()
            cells = el.xpath("./td|./th") if tag == "tr" else []
            text = " | ".join(" ".join(c.text_content().split()) for c in cells) if cells else el.text_content()
            if " ".join(text.split()):
                out.append(" ".join(text.split()))
            return
        if el.text:
            loose.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                loose.append(child.tail)
        if tag in ("div", "section", "table", "ul", "ol", "body", "article", "main"):
            flush()

    walk(root)
    flush()
    return out


def _child() -> None:
    """``python -m qa.loaders NAME`` (``load_isolated``): the file's bytes on stdin, its
    text view or its refusal as JSON on stdout."""
    import json
    import sys

    from qa.sandbox import limit_own_memory, near_memory_limit

    limit_own_memory()
    name, data = sys.argv[1], sys.stdin.buffer.read()
    try:
        loaded = parse_bytes(data, name)
        out: dict[str, Any] = {"text": loaded.text, "kind": loaded.kind, "page_starts": list(loaded.page_starts)}
    except QAError as e:
        out = {"exceeded": "memory"} if near_memory_limit() else {"error": {"zh": e.zh, "en": e.en}}
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    _child()
