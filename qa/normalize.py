"""The one text normaliser: raw text -> clean text, with a map back to raw offsets.

Every cleaning step is general code (page headers, footers and numbers, Kangxi radicals
and compatibility ideographs, pinyin annotations, hard line breaks, punctuation width,
script) and keeps, for each output character, the index of the raw character it came
from, so any cleaned span can be cited by its raw line numbers.  Known garbled spans
are fixed only from a reviewed corrections list, never guessed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK}]")
TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_SYLLABLE = f"[a-zü]*[{TONE_VOWELS}][a-zü]*"
# A tone-marked pinyin annotation right after a Chinese character: 務(wù), 強（qiáng）.
PINYIN_ANNOTATION = re.compile(f"(?<=[{CJK}])[(（]{_SYLLABLE}(?:[ '’]{_SYLLABLE})*[)）]")
SENTENCE_END = "。！？!?…"  # the one definition: line joins, chunk boundaries, answer sentences
CLAUSE_END = "；;"  # a clause end: answers stop there too; a hard line break after it is kept
CLOSERS = "”’」』）)】》\"'"
PUNCT_WIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_HALF_PUNCT_RE = re.compile(r"[,;:?!]")
# Invisible format characters: zero-width spaces and joiners, soft hyphens, bidi embeddings
# and overrides (U+202E shows "txt.exe" as "exe.txt"): they split words for BM25 and the
# reader, and would reach citations unseen.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069]")
_SPACE_RE = re.compile(r"[ \t\u3000\u00a0]+")
_PUNCT_OR_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Correction:
    """A reviewed fix for a garbled span: replace ``wrong`` with ``right``."""

    wrong: str
    right: str
    reason: str = ""


@dataclass(frozen=True)
class Cleaned:
    """Clean text in its own script and in simplified, plus raw offsets per character."""

    text: str
    simplified: str
    raw_offsets: tuple[int, ...]  # len(text) + 1 entries; the last marks the end


# ---------------------------------------------------------------- offset-keeping edits
def _rewrite(
    text: str,
    offsets: list[int],
    pattern: re.Pattern[str],
    repl: Callable[[re.Match[str]], str],
) -> tuple[str, list[int]]:
    """``re.sub`` that also rewrites the per-character raw offsets.

    A replacement of equal length keeps offsets one to one; otherwise every new
    character points into the matched raw span (its start, stepping while it can).
    """
    out: list[str] = []
    new_offsets: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        s, e = m.span()
        out.append(text[pos:s])
        new_offsets.extend(offsets[pos:s])
        rep = repl(m)
        out.append(rep)
        new_offsets.extend(_replacement_offsets(m.group(), rep, offsets[s:e] or [offsets[s - 1] if s else 0]))
        pos = e
    out.append(text[pos:])
    new_offsets.extend(offsets[pos:])
    return "".join(out), new_offsets


def _replacement_offsets(old: str, new: str, old_offsets: list[int]) -> list[int]:
    """Raw offsets for replacement text: shared prefix and suffix map one to one,
    the changed middle maps into the changed middle of the old span."""
    if len(new) == len(old):
        return list(old_offsets)
    p = 0
    while p < min(len(old), len(new)) and old[p] == new[p]:
        p += 1
    q = 0
    while q < min(len(old), len(new)) - p and old[-1 - q] == new[-1 - q]:
        q += 1
    middle_old = old_offsets[p : len(old) - q] or [old_offsets[min(p, len(old_offsets) - 1)]]
    middle = [middle_old[min(i, len(middle_old) - 1)] for i in range(len(new) - p - q)]
    return old_offsets[:p] + middle + old_offsets[len(old) - q :]


def _is_cjk(ch: str) -> bool:
    return bool(ch) and _CJK_RE.match(ch) is not None


def has_chinese(text: str) -> bool:
    """Whether the text has a Chinese character (a question without one is read as English)."""
    return _CJK_RE.search(text) is not None


# ---------------------------------------------------------------- the cleaning steps
def apply_corrections(text: str, offsets: list[int], corrections: Iterable[Correction]) -> tuple[str, list[int]]:
    """Apply reviewed literal fixes (from ``corpus/corrections.tsv``)."""
    for c in corrections:
        if c.wrong and c.wrong in text:
            text, offsets = _rewrite(text, offsets, re.compile(re.escape(c.wrong)), lambda _m, r=c.right: r)
    return text, offsets


def strip_pinyin(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """Drop tone-marked pinyin annotations; genuine parentheticals such as (ESG) stay."""

    def repl(m: re.Match[str]) -> str:
        # a pinyin syllable has at most 6 letters (zhuang): (Faxaflói) is a name, not pinyin
        syllables = re.split("[ '’]", m.group()[1:-1])
        return "" if all(len(x) <= 6 for x in syllables) else m.group()

    return _rewrite(text, offsets, PINYIN_ANNOTATION, repl)


_HYPHENATED = re.compile(r"[A-Za-z]{2}-$")


def display_width(line: str) -> int:
    """Columns a line takes: a Chinese (wide) character counts two, anything else one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def full_line_width(text: str) -> int | None:
    """The width of a full line of a laid-out page (PDF): the 90th percentile of line widths."""
    widths = sorted(display_width(x.strip()) for x in text.split("\n") if x.strip())
    return widths[int(0.9 * (len(widths) - 1))] if len(widths) >= 5 else None


def _join_lines(text: str, offsets: list[int], full_width: int | None = None) -> tuple[str, list[int]]:
    """Rejoin hard-wrapped lines; keep a newline only where a sentence or paragraph ends.

    Lines are trimmed first.  A break after a sentence end (or a closing quote after
    one) or around an empty line is a paragraph break; any other break is removed,
    or becomes a space between two Latin words; a Latin word hyphenated at the line
    end is rejoined ("inter-" + "national"). With ``full_width`` (a PDF page's line
    width), a line much shorter than that also ends its paragraph: it is a heading or
    a paragraph's last line, since the text layer has no blank lines between paragraphs.
    """
    lines: list[tuple[str, list[int]]] = []
    start = 0
    for i in range(len(text) + 1):
        if i == len(text) or text[i] == "\n":
            line, offs = text[start:i], offsets[start:i]
            lead = len(line) - len(line.lstrip(" \t\u3000\u00a0"))
            trail = len(line.rstrip(" \t\u3000\u00a0"))
            lines.append((line[lead:trail], offs[lead:trail]))
            if i < len(text):
                lines.append(("\n", [offsets[i]]))
            start = i + 1
    out: list[str] = []
    out_offsets: list[int] = []
    prev_line = ""
    pending_break: int | None = None  # raw offset of a newline not yet decided
    blank_seen = False
    for line, offs in lines:
        if line == "\n":
            if pending_break is None:
                pending_break = offs[0]
            else:
                blank_seen = True
            continue
        if not line:
            continue
        if out:
            tail = prev_line.rstrip(CLOSERS) or prev_line
            ends_sentence = tail[-1] in SENTENCE_END + CLAUSE_END or blank_seen
            if full_width and tail[-1] not in "，、：:,(（《“‘" and display_width(prev_line) < 0.7 * full_width:
                ends_sentence = True  # a short line on a laid-out page: a heading or a paragraph's end
            if ends_sentence:
                out.append("\n")
                out_offsets.append(pending_break if pending_break is not None else offs[0])
            elif _HYPHENATED.search(prev_line) and line[0].islower():
                out[-1] = out[-1][:-1]  # "inter-" + "national": the word was hyphenated at the line end
                out_offsets.pop()
            elif prev_line[-1].isascii() and prev_line[-1].isalnum() and line[0].isascii() and line[0].isalnum():
                out.append(" ")
                out_offsets.append(pending_break if pending_break is not None else offs[0])
        out.append(line)
        out_offsets.extend(offs)
        prev_line = line
        pending_break = None
        blank_seen = False
    return "".join(out), out_offsets


# Kangxi radicals and CJK compatibility ideographs: what PDF text layers (Chromium's among
# them) give for ordinary characters (⽅ U+2F45 for 方). NFKC maps each to one unified
# character; only these blocks are touched, so full-width punctuation keeps its width.
_HAN_VARIANTS = re.compile("[\u2e80-\u2eff\u2f00-\u2fdf\uf900-\ufaff\U0002f800-\U0002fa1f]")
# CJK Radicals Supplement (U+2E80-U+2EFF) has no NFKC mapping, yet PDF text layers use it
# for whole characters (⻚ for 页, ⻓ for 长). Based on Unicode's EquivalentUnifiedIdeograph.txt,
# but each maps to the everyday character it stands for in running text (⺼ to 月, not 肉;
# ⻏ to 阝, not 邑), since that is what a PDF meant by it.
_RADICALS_SUPPLEMENT = dict(
    zip(
        "⺁⺇⺊⺌⺍⺎⺏⺐⺒⺓⺔⺕⺖⺗⺘⺙⺛⺜⺝⺞⺟⺠⺡⺢⺣⺤⺦⺧⺨⺩⺪⺫⺬⺭⺮⺯⺰⺲⺳⺶⺷⺹⺺⺻⺼⺽⺾⺿⻀⻁⻂⻃⻄⻅⻆⻈⻉⻊⻋⻌⻍⻎⻏⻐⻑⻒⻓⻔⻖⻗⻘⻙⻚⻛⻜⻝⻟⻠⻢⻣⻤⻥⻦⻧⻨⻩⻪⻫⻬⻭⻮⻯⻰⻱⻲⻳",
        "厂几卜小小兀尢尢巳幺彑彐忄心扌攵旡日月歹母民氵氺灬爫丬牛犭王疋目示礻竹糸纟罒网羊羊耂肀聿月臼艹艹艹虎衤覀西见角讠贝足车辶辶辶阝钅長镸长门阝雨青韦页风飞食飠饣马骨鬼鱼鸟卤麦黄黾斉齐歯齿竜龙龜亀龟",
        strict=True,
    )
)


def _unify_han(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """Kangxi radicals, radical supplements and compatibility ideographs -> the unified
    characters; length kept."""

    def unified(m: re.Match[str]) -> str:
        if m.group() in _RADICALS_SUPPLEMENT:
            return _RADICALS_SUPPLEMENT[m.group()]
        n = unicodedata.normalize("NFKC", m.group())
        return n if len(n) == 1 else m.group()

    return _HAN_VARIANTS.sub(unified, text), offsets


def _normalise_width(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """Full-width letters/digits to ASCII; half-width , ; : ? ! to full width beside Chinese.

    Punctuation next to any non-ASCII character is Chinese punctuation; between two
    ASCII characters (English, 1,000) it stays half-width.  Length never changes.
    """
    chars = list(text)
    for i, ch in enumerate(chars):
        if "\uff01" <= ch <= "\uff5e" and unicodedata.normalize("NFKC", ch).isalnum():
            chars[i] = unicodedata.normalize("NFKC", ch)
    for m in _HALF_PUNCT_RE.finditer(text):
        i = m.start()
        before = text[i - 1] if i > 0 else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if before.isdigit() and after.isdigit():
            continue
        if (before and not before.isascii()) or (after and not after.isascii()):
            chars[i] = PUNCT_WIDTH[m.group()]
    return "".join(chars), offsets


def _squeeze_spaces(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """Collapse runs of spaces; drop spaces that sit next to Chinese characters."""

    def repl(m: re.Match[str]) -> str:
        s, e = m.span()
        before = m.string[s - 1] if s > 0 else ""
        after = m.string[e] if e < len(m.string) else ""
        if not before or not after or _is_cjk(before) or _is_cjk(after) or not before.isascii():
            return ""
        return " "

    return _rewrite(text, offsets, _SPACE_RE, repl)


# Page furniture: a line at the top or bottom of a page that only numbers the page
# ("12", "- 3 -", "第 3 页", "第3页 共20页", "3 / 20", "Page 3 of 20").
PAGE_NUMBER_LINE = re.compile(
    r"\s*(?:[-–—]?\s*\d{1,3}\s*[-–—]?|第\s*\d{1,4}\s*页(?:\s*[/，,]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}|(?i:page)\s*\d{1,4}(?:\s*(?i:of)\s*\d{1,4})?)\s*"
)
EDGE_LINES = 2  # how many lines at each end of a page may be a header or a footer
MAX_FURNITURE_CHARS = 32  # a running header is short; a repeated full line of body text is not one


def _page_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of the non-blank lines of text[start:end], end excluding the newline."""
    spans, pos = [], start
    for line in text[start:end].split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def page_furniture(text: str, page_starts: tuple[int, ...]) -> list[tuple[int, int]]:
    """Spans of headers, footers and page numbers repeated at the edges of pages.

    A line among the first or last ``EDGE_LINES`` of a page is furniture when it is a page
    number, or when the same line (digits aside: "第3页" = "第4页") sits at the edge of at
    least half of the pages (two at least). Text in the body of a page is never touched.
    """
    if len(page_starts) < 2:
        return []
    bounds = [*page_starts[1:], len(text) + 1]
    edges: list[list[tuple[int, int]]] = []
    for start, end in zip(page_starts, bounds, strict=True):
        lines = _page_lines(text, start, min(end, len(text)))
        edges.append(sorted(set(lines[:EDGE_LINES] + lines[-EDGE_LINES:])))

    def key(span: tuple[int, int]) -> str:
        return re.sub(r"\d+", "#", "".join(text[span[0] : span[1]].split()))

    seen: dict[str, int] = {}
    for spans in edges:
        for k in {key(s) for s in spans}:
            seen[k] = seen.get(k, 0) + 1
    enough = max(2, (len(page_starts) + 1) // 2)
    out = []
    for spans in edges:
        ends = {spans[0], spans[-1]} if spans else set()  # a page number is a page's first or last line
        for s, e in spans:
            k = key((s, e))
            numbered = (s, e) in ends and PAGE_NUMBER_LINE.fullmatch(text[s:e]) is not None
            if numbered or (seen[k] >= enough and len(k) <= MAX_FURNITURE_CHARS):
                out.append((s, e + 1 if text[e : e + 1] == "\n" else e))  # with its line break
    return out


def _drop_spans(text: str, offsets: list[int], spans: list[tuple[int, int]]) -> tuple[str, list[int]]:
    """Remove the given (sorted, disjoint) spans; kept characters keep their offsets."""
    keep = [True] * len(text)
    for s, e in spans:
        keep[s:e] = [False] * (e - s)
    return "".join(ch for ch, k in zip(text, keep, strict=True) if k), [
        o for o, k in zip(offsets, keep, strict=True) if k
    ]


# ---------------------------------------------------------------- script conversion
@lru_cache(maxsize=2)
def _opencc(config: str):  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC(config)


def _convert_same_length(text: str, config: str) -> str:
    """OpenCC conversion that never changes length, so offsets stay valid.

    Phrase-level conversion is tried per clause; a clause whose length would change
    falls back to character-by-character conversion.
    """
    cc = _opencc(config)
    whole = cc.convert(text)
    if len(whole) == len(text):
        return whole
    parts = re.split(r"([，。！？；、\n])", text)
    out = []
    for p in parts:
        c = cc.convert(p)
        out.append(c if len(c) == len(p) else "".join(cc.convert(ch) if len(cc.convert(ch)) == 1 else ch for ch in p))
    return "".join(out)


def to_simplified(text: str) -> str:
    """Traditional -> simplified, same length (OpenCC t2s)."""
    return _convert_same_length(text, "t2s")


def to_traditional(text: str) -> str:
    """Simplified -> traditional, same length (OpenCC s2t)."""
    return _convert_same_length(text, "s2t")


def is_traditional(text: str) -> bool:
    """True when the text has characters that simplified conversion changes."""
    return to_simplified(text) != text


# ---------------------------------------------------------------- entry points
def clean(raw: str, corrections: Iterable[Correction] = (), page_starts: tuple[int, ...] = ()) -> Cleaned:
    """Clean raw document text; see the module docstring for the steps.

    ``page_starts``: where each page begins in ``raw`` (PDFs), so that headers, footers
    and page numbers repeated on the pages are removed before anything else.
    """
    offsets = list(range(len(raw)))
    text, offsets = _unify_han(raw, offsets)  # first: a PDF's "第 3 ⻚" footer must read 页
    text, offsets = _drop_spans(text, offsets, page_furniture(text, page_starts))
    text, offsets = _rewrite(text, offsets, re.compile("\ufeff|\r(?=\n)"), lambda _m: "")
    text, offsets = _rewrite(text, offsets, re.compile("\r"), lambda _m: "\n")
    text, offsets = _rewrite(text, offsets, re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"), lambda _m: "")
    text, offsets = _rewrite(text, offsets, _INVISIBLE, lambda _m: "")
    text, offsets = apply_corrections(text, offsets, corrections)
    text, offsets = strip_pinyin(text, offsets)
    text, offsets = _join_lines(text, offsets, full_line_width(text) if page_starts else None)
    text, offsets = _squeeze_spaces(text, offsets)
    text, offsets = _normalise_width(text, offsets)
    offsets.append(len(raw))
    return Cleaned(text=text, simplified=to_simplified(text), raw_offsets=tuple(offsets))


def clean_query(text: str) -> str:
    """The same cleaning for a question, in simplified script, without offsets."""
    return clean(text).simplified


def match_key(text: str) -> str:
    """Comparison form for answers and evidence: simplified, no whitespace, no punctuation."""
    width = unicodedata.normalize("NFKC", text)
    return _PUNCT_OR_SPACE.sub("", to_simplified(width)).lower()
