"""Document -> Chunks: Chinese sentence-aware splitting with stable ids and raw line ranges.

Splitting uses langchain-text-splitters' recursive splitter with Chinese boundaries in
order of strength: paragraph, sentence end (。！？, a closing quote stays with its
sentence), clause (；), phrase (，、：), and last of all any character, so even a run
with no punctuation is cut to size.  Length is counted in characters.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.normalize import CLAUSE_END, SENTENCE_END
from qa.types import Chunk, Document

CLOSE_QUOTES = "”’」』）)"
SENTENCE_BOUNDARY = (
    f"(?<=[{SENTENCE_END}])(?![{CLOSE_QUOTES}])"  # after a sentence end not followed by a closing quote
    f"|(?<=[{SENTENCE_END}][{CLOSE_QUOTES}])"  # or after the closing quote that follows it
)
SENTENCE = re.compile(f"[^{SENTENCE_END}{CLAUSE_END}\n]+(?:[{SENTENCE_END}{CLAUSE_END}]+[{CLOSE_QUOTES}]?)?")
"""A sentence (or clause after ；) with its end punctuation and a closing quote: the unit
an answer quotes, highlights and, in the index, embeds on its own."""
SEPARATORS = ["\n\n", "\n", SENTENCE_BOUNDARY, f"(?<=[{CLAUSE_END}])", "(?<=[，,、：:])", "(?<= )", ""]


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk size and overlap in characters (chosen by measurement, see README)."""

    size: int = 700
    overlap: int = 140
    paragraphs: bool = True  # never merge text across paragraph breaks
    min_paragraph: int = 10  # ...except a paragraph this short (a list marker) joins the next

    def to_json(self) -> dict[str, int | bool]:
        return {
            "size": self.size,
            "overlap": self.overlap,
            "paragraphs": self.paragraphs,
            "min_paragraph": self.min_paragraph,
        }


def make_splitter(config: ChunkingConfig) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=config.size,
        chunk_overlap=config.overlap,
        strip_whitespace=True,
    )


def text_hash(text: str) -> str:
    """Content hash used for chunk ids and the embedding cache."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a passage; end punctuation and a closing quote stay with it."""
    spans = []
    for m in SENTENCE.finditer(text):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        if e > s:
            spans.append((s, e))
    return spans


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence(s) of ``text`` holding characters [start, end): the highlight of an answer."""
    spans = [(s, e) for s, e in split_sentences(text) if s < max(end, start + 1) and e > start]
    if not spans:
        return start, end
    return min(s for s, _ in spans), max(e for _, e in spans)


def paragraph_spans(text: str, min_len: int) -> list[tuple[int, int]]:
    """Spans of paragraphs (lines of the clean text); a short one joins the next, and so
    does a heading (a line with no sentence end), so a title is read with its section."""
    spans: list[tuple[int, int]] = []
    start = 0
    pos = 0
    for line in text.split("\n"):
        end = pos + len(line)
        heading = bool(line.strip()) and line.rstrip()[-1] not in SENTENCE_END + CLAUSE_END + CLOSE_QUOTES
        if (end - start >= min_len and not heading) or end == len(text):
            if text[start:end].strip():
                spans.append((start, end))
            start = end + 1
        pos = end + 1
    return spans


def split_spans(doc: Document, config: ChunkingConfig) -> list[tuple[int, int]]:
    """Character spans of the chunks of one document, in order."""
    splitter = make_splitter(config)
    regions = paragraph_spans(doc.text, config.min_paragraph) if config.paragraphs else [(0, len(doc.text))]
    spans = []
    for r_start, r_end in regions:
        region = doc.text[r_start:r_end]
        cursor = 0
        for piece in splitter.split_text(region):
            start = region.find(piece, cursor)
            if start < 0:  # the splitter never reorders, so this only guards odd whitespace
                start = region.find(piece)
            cursor = start + 1
            spans.append((r_start + start, r_start + start + len(piece)))
    return spans


def chunk_document(doc: Document, config: ChunkingConfig = ChunkingConfig()) -> list[Chunk]:
    """Split one document; chunk ids depend only on the document id and chunk text."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for start, end in split_spans(doc, config):
        piece = doc.text[start:end]
        simplified = doc.simplified[start:end]
        base = f"{doc.doc_id}#{text_hash(simplified)[:10]}"
        seen[base] = seen.get(base, 0) + 1
        chunk_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
        page = doc.page_of(start)
        breaks = [b - start for b in doc.clean_page_starts if start < b < end]  # later pages, in the chunk
        chunks.append(
            Chunk(
                chunk_id=chunk_id,
                doc_id=doc.doc_id,
                start=start,
                end=end,
                lines=doc.line_range(start, end),
                text=simplified,
                text_original=piece,
                page=page,
                page_breaks=tuple(breaks),
            )
        )
    return chunks


def chunk_documents(docs: list[Document], config: ChunkingConfig = ChunkingConfig()) -> list[Chunk]:
    return [c for d in docs for c in chunk_document(d, config)]
