"""corpus/ -> Documents: file discovery, decoding, reviewed corrections, garble report.

Each file is read by its format's loader (``qa.loaders``: TXT, Markdown, PDF, DOCX,
HTML) into a text view that the one normaliser cleans.

A bad file never stops the others: it is skipped with a reason in both languages.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.errors import QAError
from qa.loaders import Loaded, format_of, load_bytes, looks_binary, unsupported, utf16_unmarked
from qa.normalize import CJK, TONE_VOWELS, Correction, clean
from qa.settings import MAX_FILE_MB_DEFAULT
from qa.types import Document

CORRECTIONS_FILE = "corrections.tsv"
# Cleaning holds ~45 bytes of memory per byte of text (the per-character offset map) and
# takes ~1.2 s/MB here; every part of the index then lives in memory. 16 MB (~700 MB peak,
# ~30k chunks) is far above any article yet keeps a stray dump from exhausting the machine.
# Larger files are refused from their size alone, before a byte is read. QA_MAX_FILE_MB overrides.
MAX_FILE_BYTES = int(MAX_FILE_MB_DEFAULT * 1024 * 1024)
LEGACY_ENCODINGS = ("gb18030", "big5hkscs")  # gb18030 is a superset of GBK and GB2312
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # keeps \t \n \r
_CJK_OR_JUNK = re.compile(f"[{CJK}\ue000-\uf8ff\ufffd]")  # Chinese, private-use and replacement marks


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not indexed, and why."""

    path: str
    zh: str
    en: str

    @property
    def reason(self) -> str:
        """ "why (Chinese) / why (English)", without the file name both messages start with."""
        name = Path(self.path).name
        zh = self.zh.removeprefix(f"{self.path}：").removeprefix(f"{name}：")
        en = self.en.removeprefix(f"{self.path}: ").removeprefix(f"{name}: ")
        return f"{zh} / {en}"


@dataclass(frozen=True)
class Suspicious:
    """A span that looks garbled, located in the raw file (1-based line and column)."""

    doc: str
    line: int
    column: int
    text: str
    kind: str
    corrected: bool = False


# ---------------------------------------------------------------- files and decoding
def _candidate_files(corpus_dir: Path) -> list[Path]:
    """Every file under the corpus folder except the corrections list, READMEs and hidden ones."""
    if not corpus_dir.is_dir():
        raise QAError(f"找不到语料目录：{corpus_dir}", f"Corpus folder not found: {corpus_dir}")
    return sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file()
        and p.name != CORRECTIONS_FILE
        and not p.name.lower().startswith("readme")
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    )


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Files of a supported format (``qa.loaders.FORMATS``) under the corpus folder, sorted."""
    return [p for p in _candidate_files(corpus_dir) if format_of(p.name) is not None]


def unsupported_files(corpus_dir: Path) -> list[Skipped]:
    """Files of other formats in the corpus folder, each with the reason it is not indexed."""
    out = []
    for p in _candidate_files(corpus_dir):
        if format_of(p.name) is None:
            e = unsupported(p.name)
            out.append(Skipped(p.relative_to(corpus_dir).as_posix(), e.zh, e.en))
    return out


def max_file_bytes() -> int:
    """The per-file size cap in bytes: ``QA_MAX_FILE_MB`` if set, else MAX_FILE_BYTES."""
    from qa.settings import current

    return current().max_file_bytes


def chinese_plausibility(text: str) -> tuple[float, float]:
    """(share of common characters, mean log frequency) over the Chinese-looking characters.

    Text decoded with the wrong legacy codec is full of rare characters, private-use
    code points or replacement marks, so it scores low on both.
    """
    from qa.normalize import to_simplified

    freq = _char_frequencies()
    chars = _CJK_OR_JUNK.findall(to_simplified(text[:20000]))
    if not chars:
        return 0.0, 0.0
    common = sum(freq.get(ch, 0) >= 400 for ch in chars)
    return common / len(chars), sum(math.log1p(freq.get(ch, 0)) for ch in chars) / len(chars)


def megabytes(n: int) -> str:
    """Bytes as the MB that ``QA_MAX_FILE_MB`` counts (MiB): 16 MiB -> "16 MB", never "16.8 MB"."""
    return f"{n / 1024 / 1024:.1f}".removesuffix(".0") + " MB"


def decode_bytes(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 (with a BOM, or recognised without), else
    GBK/GB18030 or Big5.

    A legacy file is decoded with each candidate and the one whose characters are common
    Chinese wins; a UTF-8 file with a few broken bytes keeps U+FFFD marks (``qa corpus
    check`` reports them). Binary data and text in no known encoding are refused rather
    than indexed as noise. Control characters (NUL, escape sequences) are removed, so
    corpus text can never drive a terminal.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    elif looks_binary(data[:65536]) or utf16_unmarked(data):
        unmarked = _unmarked_utf16(data)
        if unmarked is None:
            raise QAError(
                f"{name}：看起来是二进制文件（含 NUL 字节），已跳过。", f"{name}: looks binary (NUL bytes); skipped."
            )
        text = unmarked
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decode_legacy(data, name)
    return _CONTROL.sub("", text)


def _unmarked_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: the byte order whose strict decoding reads as Chinese, else
    (text with no Chinese) the one its NUL pattern shows (``qa.loaders.utf16_unmarked``)."""
    if len(data) % 2:
        return None
    best: tuple[tuple[float, float], str] | None = None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = chinese_plausibility(text)
        if score[0] >= 0.8 and (best is None or score > best[0]):
            best = (score, text)
    if best is not None:
        return best[1]
    encoding = utf16_unmarked(data)
    return data.decode(encoding) if encoding else None


def _decode_legacy(data: bytes, name: str) -> str:
    """The most plausible of GB18030, Big5 and BOM-less UTF-16 (strict), or UTF-8 with a
    few bad bytes."""
    candidates: list[tuple[tuple[float, float], str]] = []
    unmarked = ("utf-16-le", "utf-16-be") if len(data) % 2 == 0 else ()  # all-Chinese UTF-16 has no NULs
    for enc in (*LEGACY_ENCODINGS, *unmarked):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        candidates.append((chinese_plausibility(text), text))
    text = data.decode("utf-8", errors="replace")
    if len(re.findall("\ufffd+", text)) <= max(3, len(text) // 1000):  # a few broken spots
        candidates.append((chinese_plausibility(text), text))
    plausible = [c for c in candidates if c[0][0] >= 0.8]
    if not plausible:
        raise QAError(
            f"{name}：不是 UTF-8、GBK/GB18030 或 Big5 编码的中文文本，已跳过（请转成 UTF-8）。",
            f"{name}: not Chinese text in UTF-8, GBK/GB18030 or Big5; skipped (convert it to UTF-8).",
        )
    return max(plausible, key=lambda c: c[0][1])[1]


def read_text(path: Path) -> str:
    """Read and decode one text file, with clear bilingual errors (see ``read_capped``)."""
    return decode_bytes(read_capped(path), path.name)


def read_capped(path: Path) -> bytes:
    """One corpus file's bytes, with clear bilingual errors.

    The size is checked before reading and the read is bounded, so a huge (or growing)
    file costs no memory: it is refused with its size and the limit.
    """
    cap = max_file_bytes()

    def too_large(size: int) -> QAError:
        return QAError(
            f"{path.name}：文件过大（{megabytes(size)}，上限 {megabytes(cap)}），已跳过。"
            "请拆成几个较小的文件，或设置 QA_MAX_FILE_MB。",
            f"{path.name}: file too large ({megabytes(size)}, limit {megabytes(cap)}); skipped. "
            "Split it into smaller files, or set QA_MAX_FILE_MB.",
        )

    try:
        size = path.stat().st_size
        if size > cap:
            raise too_large(size)
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except FileNotFoundError as e:
        raise QAError(f"{path.name}：文件在读取时消失了。", f"{path.name}: file disappeared while reading.") from e
    except OSError as e:
        raise QAError(f"{path.name}：无法读取（{e.strerror}）。", f"{path.name}: cannot read ({e.strerror}).") from e
    if len(data) > cap:
        raise too_large(len(data))
    if not data.strip():
        raise QAError(f"{path.name}：文件为空，已跳过。", f"{path.name}: file is empty; skipped.")
    return data


def load_file(path: Path) -> Loaded:
    """One corpus file of any supported format as its text view (``qa.loaders``)."""
    return load_bytes(read_capped(path), path.name)


def load_corrections(corpus_dir: Path) -> list[Correction]:
    """Reviewed fixes from ``corrections.tsv``: wrong<TAB>right<TAB>reason, # comments."""
    path = corpus_dir / CORRECTIONS_FILE
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise QAError(
            f"{path}：无法读取修正列表（须为 UTF-8 文本）：{e}",
            f"{path}: cannot read the corrections list (it must be UTF-8 text): {e}",
        ) from e
    out: list[Correction] = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0]:
            raise QAError(
                f"{path}:{n}：格式应为 错误文本<TAB>正确文本<TAB>原因",
                f"{path}:{n}: expected wrong<TAB>right<TAB>reason",
            )
        out.append(Correction(parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return out


# ---------------------------------------------------------------- documents
def line_starts(raw: str) -> tuple[int, ...]:
    """Raw index where each line begins (line 1 starts at 0)."""
    return (0, *(m.end() for m in re.finditer("\n", raw)))


def make_document(
    doc_id: str, raw: str, corrections: Iterable[Correction] = (), kind: str = "txt", page_starts: tuple[int, ...] = ()
) -> Document:
    """Clean a text view into a Document that remembers its raw offsets, lines and pages."""
    cleaned = clean(raw, corrections, page_starts)
    return Document(
        doc_id=doc_id,
        raw=raw,
        text=cleaned.text,
        simplified=cleaned.simplified,
        raw_offsets=cleaned.raw_offsets,
        line_starts=line_starts(raw),
        kind=kind,
        page_starts=page_starts,
    )


def readable_files(corpus_dir: Path, skipped: list[Skipped]) -> Iterator[tuple[str, Loaded]]:
    """(relative path, text view) of each corpus file; a file that cannot be read (or is of
    an unsupported format) is appended to ``skipped`` with its reason instead."""
    skipped.extend(unsupported_files(corpus_dir))
    for path in corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        try:
            yield rel, load_file(path)
        except QAError as e:
            skipped.append(Skipped(rel, e.zh, e.en))


def load_corpus(corpus_dir: Path) -> tuple[list[Document], list[Skipped]]:
    """Every readable document in the folder, plus the files skipped and why."""
    corrections = load_corrections(corpus_dir)
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for rel, loaded in readable_files(corpus_dir, skipped):
        try:
            doc = make_document(rel, loaded.text, corrections, loaded.kind, loaded.page_starts)
        except Exception as e:  # one file that trips the cleaner must not stop the others
            skipped.append(
                Skipped(
                    rel,
                    f"{rel}：清洗时出错（{type(e).__name__}: {e}），已跳过。",
                    f"{rel}: cleaning failed ({type(e).__name__}: {e}); skipped.",
                )
            )
            continue
        if not doc.text.strip():
            skipped.append(Skipped(rel, f"{rel}：清洗后没有文本，已跳过。", f"{rel}: no text after cleaning; skipped."))
            continue
        docs.append(doc)
    return docs, skipped


# ---------------------------------------------------------------- garble detection
_SUSPICIOUS_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("replacement-character", re.compile("\ufffd+")),
    # A half-width ? glued to Chinese text on both sides, or followed by ; ! or letters.
    ("question-mark-in-chinese", re.compile(f"(?<=[{CJK})])\\?+(?=[{CJK};!A-Za-z])")),
    # A pinyin annotation whose opening bracket was eaten: ...?yīng)
    ("orphan-pinyin", re.compile(f"(?<![(（a-zü{TONE_VOWELS}])[a-zü]*[{TONE_VOWELS}][a-zü]*[)）]")),
    # One Latin letter squeezed between Chinese characters: 鼻迦A大
    ("stray-latin-letter", re.compile(f"(?<=[{CJK}])[A-Za-z](?=[{CJK}])")),
)


@lru_cache(maxsize=1)
def _char_frequencies() -> dict[str, int]:
    """Character frequencies summed from jieba's dictionary (simplified script)."""
    import jieba

    freq: dict[str, int] = {}
    path = Path(jieba.__file__).with_name("dict.txt")
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            for ch in parts[0]:
                freq[ch] = freq.get(ch, 0) + int(parts[1])
    return freq


def _rare_runs(raw: str, threshold: int = 400, min_len: int = 2) -> list[tuple[int, str]]:
    """Runs of Chinese characters that are each rare in everyday text (mojibake)."""
    from qa.normalize import to_simplified

    freq = _char_frequencies()
    simple = to_simplified(raw)
    runs: list[tuple[int, str]] = []
    start = None
    for i, ch in enumerate(simple + " "):
        rare = re.match(f"[{CJK}]", ch) is not None and freq.get(ch, 0) < threshold
        if rare and start is None:
            start = i
        elif not rare and start is not None:
            if i - start >= min_len:
                runs.append((start, raw[start:i]))
            start = None
    return runs


def find_suspicious(doc_id: str, raw: str, corrections: Iterable[Correction] = ()) -> list[Suspicious]:
    """Spans of the raw text that look garbled, each with its raw line and column.

    A span inside the ``wrong`` side of a reviewed correction is marked ``corrected``.
    """
    starts = line_starts(raw)
    fixed = [(m.start(), m.end()) for c in corrections for m in re.finditer(re.escape(c.wrong), raw)]
    found: list[tuple[int, str, str]] = []
    for kind, pattern in _SUSPICIOUS_PATTERNS:
        found.extend((m.start(), m.group(), kind) for m in pattern.finditer(raw))
    found.extend((pos, text, "rare-character-run") for pos, text in _rare_runs(raw))
    merged: list[tuple[int, int, set[str]]] = []  # nearby findings form one span
    for pos, text, kind in sorted(found):
        end = pos + len(text)
        if merged and pos <= merged[-1][1] + 3 and "\n" not in raw[merged[-1][1] : pos]:
            s, e, kinds = merged[-1]
            merged[-1] = (s, max(e, end), kinds | {kind})
        else:
            merged.append((pos, end, {kind}))
    out = []
    for s, e, kinds in merged:
        line = bisect.bisect_right(starts, s)
        corrected = any(fs <= s < fe for fs, fe in fixed)
        out.append(Suspicious(doc_id, line, s - starts[line - 1] + 1, raw[s:e], "+".join(sorted(kinds)), corrected))
    return out


def check_corpus(corpus_dir: Path) -> tuple[list[Suspicious], list[Skipped]]:
    """The report behind ``qa corpus check``: suspicious spans and unreadable files."""
    corrections = load_corrections(corpus_dir)
    report: list[Suspicious] = []
    skipped: list[Skipped] = []
    for rel, loaded in readable_files(corpus_dir, skipped):
        report.extend(find_suspicious(rel, loaded.text, corrections))
    return report, skipped
