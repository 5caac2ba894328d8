"""Hits + the reader's Reading -> Answer: the short answer, its sentence, numbered citations.

The reply leads with the reader's exact answer, then the sentence holding it with its
``[n]`` marker; that sentence is highlighted in the cited passage and the answer is
marked inside it (``answer_span``). With the heuristic reader (no span) the answer is
the best sentence(s), as ranked by ``qa.sentence_rank``. The answer follows the
question's script. No model is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa.chunking import sentence_around
from qa.normalize import is_traditional, to_simplified, to_traditional
from qa.sentence_rank import AbstainRule, Sentence, heuristic_reading, rank_sentences
from qa.types import Answer, Citation, Hit, Mode, Reading

NOT_FOUND_SIMPLIFIED = "文章中没有找到相关内容。"
NOT_FOUND_TRADITIONAL = "文章中沒有找到相關內容。"


def in_script(text: str, traditional: bool) -> str:
    return to_traditional(text) if traditional else to_simplified(text)


def compose(
    question: str,
    hits: Sequence[Hit],
    mode: Mode,
    reading: Reading | None = None,
    max_citations: int = 3,
    notice: str = "",
    rule: AbstainRule = AbstainRule(),
    idf: Callable[[str], float] | None = None,
) -> Answer:
    """Build the Answer shown to the user from ranked hits and the reader's reading
    (None: the heuristic reader's; ``idf``: the index's word weights)."""
    if reading is None:
        reading = heuristic_reading(question, hits, rule, idf)
    traditional = is_traditional(question)
    shown = list(range(min(max_citations, len(hits))))
    span = None if reading.abstained else reading.span
    if span is not None and span.hit not in shown:
        shown.append(span.hit)  # the answer's passage is always cited
    shown_hits = [hits[i] for i in shown]
    ranked = rank_sentences(question, shown_hits, idf)
    best_in_chunk: dict[int, tuple[int, int]] = {}
    for s in ranked:
        best_in_chunk.setdefault(s.chunk_index, (s.start, s.end))
    answer_at = shown.index(span.hit) if span is not None else None
    if span is not None and answer_at is not None:
        best_in_chunk[answer_at] = sentence_around(hits[span.hit].chunk.text, span.start, span.end)

    citations = []
    for k, hit in enumerate(shown_hits):
        sent = best_in_chunk.get(k)
        citations.append(
            Citation(
                n=k + 1,
                doc=hit.chunk.doc_id,
                lines=hit.chunk.lines,
                chunk_id=hit.chunk.chunk_id,
                score=hit.score,
                text=in_script(hit.chunk.text_original, traditional),
                text_original=hit.chunk.text_original,
                highlight=sent,
                answer_span=(span.start, span.end) if span is not None and k == answer_at else None,
                page=hit.chunk.page_at(sent[0] if sent else 0),
            )
        )

    short_answer = None
    if reading.abstained or not ranked:
        answer_text = NOT_FOUND_TRADITIONAL if traditional else NOT_FOUND_SIMPLIFIED
        abstained = True
    elif span is not None and answer_at is not None:
        c = citations[answer_at]
        short_answer = "、".join(c.text[a:b] for a, b in span.items) if span.items else c.text[span.start : span.end]
        s, e = best_in_chunk[answer_at]
        answer_text = f"{short_answer}\n{c.text[s:e]}[{c.n}]"
        abstained = False
    else:
        answer_text = _answer_text(ranked, citations)
        abstained = False
    return Answer(
        question=question,
        answer=answer_text,
        abstained=abstained,
        mode=mode,
        citations=tuple(citations),
        notice=notice,
        short_answer=short_answer,
    )


def understood_note(answer: Answer) -> str:
    """ "按上下文理解为：…" (in the asker's script) when a follow-up was resolved, else ""."""
    if not answer.resolved_question or answer.resolved_question == answer.question:
        return ""
    label = "按上下文理解為" if is_traditional(answer.question) else "按上下文理解为"
    return f"{label}：{answer.resolved_question}"


def _answer_text(ranked: list[Sentence], citations: list[Citation]) -> str:
    """The best sentence with its marker, plus a second one when it is nearly as good.

    A second sentence (another passage, or not adjacent in the same one) carries the
    part of an answer that is spread over two sentences, e.g. 2027 and 2030 lists.
    """
    best = ranked[0]
    chosen = [best]
    for s in ranked[1:3]:
        overlaps = s.chunk_index == best.chunk_index and s.start < best.end and best.start < s.end
        # Judged on the words alone: the meaning term orders sentences but would make the
        # second one look worse than it is (measured: fewer answers completed).
        if not overlaps and s.words >= max(0.6, 0.9 * best.words):
            chosen.append(s)
            break
    parts = []
    for s in sorted(chosen, key=lambda x: (x.chunk_index, x.start)):
        c = citations[s.chunk_index]
        parts.append(f"{c.text[s.start : s.end]}[{c.n}]")
    return "".join(parts)
