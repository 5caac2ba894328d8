"""list[Hit] -> Answer: pick the answering sentences, number the citations, highlight.

Sentences are scored, not only chunks: lexical overlap on jieba tokens, the
question's numbers, and the passage's retrieval score.  The answer follows the
question's script (traditional question -> traditional answer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.normalize import is_traditional, to_simplified, to_traditional
from qa.tokenize import tokenize
from qa.types import Answer, Citation, Hit, Mode

NOT_FOUND_SIMPLIFIED = "文章中没有找到相关内容。"
NOT_FOUND_TRADITIONAL = "文章中沒有找到相關內容。"
_SENTENCE = re.compile(r"[^。！？!?；;\n]+(?:[。！？!?；;]+[”’」』）)]?)?")
_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*%?")


@dataclass(frozen=True)
class Sentence:
    start: int  # span inside the chunk text
    end: int
    score: float


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a passage; the end punctuation stays with its sentence."""
    spans = []
    for m in _SENTENCE.finditer(text):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        if e > s:
            spans.append((s, e))
    return spans


def sentence_score(question_tokens: set[str], question_numbers: set[str], sentence: str) -> float:
    """Share of the question's tokens (longer ones weigh more) found in the sentence."""
    if not question_tokens:
        return 0.0
    tokens = set(tokenize(sentence))
    weight = sum(len(t) for t in question_tokens)
    overlap = sum(len(t) for t in question_tokens if t in tokens)
    score = overlap / weight
    numbers = set(_NUMBER.findall(sentence))
    if question_numbers:
        score += 0.5 * len(question_numbers & numbers) / len(question_numbers)
    return score


def best_sentence(question: str, chunk_text: str) -> Sentence | None:
    """The sentence of a passage that best matches the question."""
    q_tokens = set(tokenize(question))
    q_numbers = set(_NUMBER.findall(to_simplified(question)))
    best: Sentence | None = None
    for s, e in split_sentences(chunk_text):
        score = sentence_score(q_tokens, q_numbers, chunk_text[s:e])
        if best is None or score > best.score:
            best = Sentence(s, e, score)
    return best


def in_script(text: str, traditional: bool) -> str:
    return to_traditional(text) if traditional else to_simplified(text)


def compose(
    question: str,
    hits: Sequence[Hit],
    mode: Mode,
    latency_ms: float = 0.0,
    max_citations: int = 3,
    notice: str = "",
) -> Answer:
    """Build the Answer shown to the user from ranked hits."""
    traditional = is_traditional(question)
    citations: list[Citation] = []
    answer_text = ""
    for n, hit in enumerate(hits[:max_citations], 1):
        sent = best_sentence(question, hit.chunk.text)
        highlight = (sent.start, sent.end) if sent else None
        shown = in_script(hit.chunk.text_original, traditional)
        citations.append(
            Citation(
                n=n,
                doc=hit.chunk.doc_id,
                lines=hit.chunk.lines,
                chunk_id=hit.chunk.chunk_id,
                score=hit.score,
                text=shown,
                text_original=hit.chunk.text_original,
                highlight=highlight,
            )
        )
        if n == 1 and highlight:
            answer_text = f"{shown[highlight[0] : highlight[1]]}[1]"
    abstained = not citations
    if abstained:
        answer_text = NOT_FOUND_TRADITIONAL if traditional else NOT_FOUND_SIMPLIFIED
    return Answer(
        question=question,
        answer=answer_text,
        abstained=abstained,
        mode=mode,
        latency_ms=latency_ms,
        citations=tuple(citations),
        notice=notice,
    )
