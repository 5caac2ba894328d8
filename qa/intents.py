"""What people say to a chatbot besides questions: greetings, thanks, help, "summarise".

Recognised before retrieval, in both scripts and in English. Greetings, thanks and
"who are you / what can you do" get a short reply saying what the bot answers, with
example questions made from the corpus itself; "总结一下这篇文章" gets an extractive
summary: the key sentence of each part of each document, each with its ``[n]``
citation. These replies are answers, not abstentions.

The example questions are cloze questions: a clause of a key sentence holding a number
or a date, with the number asked for ("计划今年启动建设多少个省级零碳园区？"), so they
are answerable by construction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from qa.chunking import split_sentences
from qa.normalize import is_traditional, to_simplified, to_traditional
from qa.tokenize import tokenize
from qa.types import Answer, Chunk, Citation, Mode

_POLITE = r"(?:请|请你|麻烦|帮我|能不能|能否|可以|可不可以|你能|你可以)?"
_TAIL = r"[呀啊呢吧哦嘛～~！!。.？?\s]*"
_GREETING = (
    r"你好|您好|嗨|哈喽|哈啰|喂|在吗|早上好|上午好|下午好|晚上好|早安|晚安"
    r"|hi|hello|hey|good (?:morning|afternoon|evening)"
)
_THANKS = r"谢谢你?|多谢|感谢|谢了|thanks?(?: you)?(?: very much| a lot)?|thx|ok,? thanks"
_HELP = (
    rf"{_POLITE}(?:你是谁|你是什么|你叫什么|你能做什么|你会做什么|你会什么|你能干什么|你可以做什么|能做什么"
    r"|有什么功能|怎么用|如何使用|使用说明|帮助)"
    r"|help|who are you|what can you do|what do you do|how do i use (?:this|you)"
)
_DOC = r"(?:这篇|本篇)?(?:文章|报道|文档|全文|本文)"
_SUMMARY = (
    rf"{_POLITE}(?:总结|概括|归纳|摘要|概述)(?:一下)?(?:这篇|本篇|这份|全文|本文|文章|文档)?(?:文章|报道|文档)?"
    r"(?:的)?(?:主要)?(?:内容|要点|重点)?"
    rf"|{_DOC}(?:主要)?(?:讲|说|写|介绍)了?(?:些)?(?:什么|啥)(?:内容)?"
    rf"|{_DOC}的?(?:主要内容|要点|重点|大意)(?:是什么)?"
    r"|summari[sz]e(?: (?:the|this) (?:article|document))?(?: for me)?|give me a summary"
    r"|what is (?:the|this) (?:article|document) about|tl;?dr"
)
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rf"^(?:{body})(?:呀|啊|啦|了)?{_TAIL}$"))
    for name, body in (("greeting", _GREETING), ("thanks", _THANKS), ("help", _HELP), ("summary", _SUMMARY))
)
SUMMARY_PARTS = 8
EXAMPLE_QUESTIONS = 3
_NUMBER = re.compile(r"(约|近|超过)?\d+(?:\.\d+)?(?:万|亿)?(个|家|项|批|名|位|座|条|种|亿元|万元|元|吨|%)")
_DATE = re.compile(r"\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日|\d{4}年(?!代)")


def detect_intent(question: str) -> str:
    """ "greeting", "thanks", "help", "summary", or "" for a question about the documents."""
    text = to_simplified(question).strip().lower()
    for name, pattern in _PATTERNS:
        if pattern.match(text):
            return name
    return ""


def key_sentence(text: str) -> tuple[int, int] | None:
    """The sentence of a passage that shares most words with the rest of it (its centre)."""
    spans = [(s, e) for s, e in split_sentences(text) if e - s >= 8]
    if not spans:
        return None
    counts = Counter(tokenize(text))

    def centrality(span: tuple[int, int]) -> float:
        words = set(tokenize(text[span[0] : span[1]]))
        return sum(counts[w] for w in words) / (1 + len(words)) ** 0.5

    return max(spans, key=centrality)


def cloze_question(sentence: str) -> str | None:
    """A question asking for the number or date of one clause of ``sentence``."""
    for clause in re.split(r"[，,；;。：:]", sentence):
        clause = clause.strip()
        if not 8 <= len(clause) <= 40:
            continue
        m = _NUMBER.search(clause)
        if m:
            asked = ("有多少" if m.group(1) else "多少") + m.group(2)  # "约1.5万个" -> "有多少个"
            return clause[: m.start()] + asked + clause[m.end() :] + "？"
        m = _DATE.search(clause)
        if m and m.start() > 0:
            return clause[: m.start()] + "什么时候" + clause[m.end() :] + "？"
    return None


def example_questions(chunks: Sequence[Chunk], n: int = EXAMPLE_QUESTIONS) -> list[str]:
    """Answerable example questions made from the passages' key sentences."""
    out: list[str] = []
    for chunk in chunks:
        for s, e in split_sentences(chunk.text):
            q = cloze_question(chunk.text[s:e])
            if q and q not in out:
                out.append(q)
                break
        if len(out) == n:
            break
    return out


def _reply(question: str, kind: str, chunks: Sequence[Chunk]) -> str:
    traditional = is_traditional(question)
    english = not re.search(r"[\u4e00-\u9fff]", question)
    docs = sorted({c.doc_id for c in chunks})
    examples = example_questions(chunks)
    if english:
        lead = {
            "greeting": "Hello! ",
            "thanks": "You're welcome! ",
            "help": "I am an offline question-answering assistant. ",
        }[kind]
        body = (
            f"I answer questions about the {len(docs)} document(s) indexed here ({', '.join(docs)}), "
            "in Chinese or English, with the exact answer and numbered citations (file and line numbers). "
            "When the documents do not say, I tell you so. Ask for a summary, or try:"
        )
    else:
        lead = {"greeting": "你好！", "thanks": "不客气！", "help": "我是离线文档问答助手。"}[kind]
        body = (
            f"我可以回答关于已收录的 {len(docs)} 篇文档（{'、'.join(docs)}）的问题，简体、繁体或英文都可以："
            "给出确切答案，并标注出处（文件和行号）；文档里没有说的，我会直说。也可以让我“总结一下这篇文章”。例如："
        )
    text = lead + body + "".join(f"\n- {q}" for q in examples)
    return to_traditional(text) if traditional else text


def intent_answer(question: str, kind: str, chunks: Sequence[Chunk], mode: Mode) -> Answer:
    """The reply to a recognised intent (``detect_intent``), built from the indexed chunks."""
    if kind == "summary":
        return summary_answer(question, chunks, mode)
    return Answer(question, _reply(question, kind, chunks), False, mode, (), intent=kind)


def summary_answer(question: str, chunks: Sequence[Chunk], mode: Mode, parts: int = SUMMARY_PARTS) -> Answer:
    """Extractive summary: the key sentence of each part (passage) of each document, in
    document order, each cited; long documents are sampled evenly down to ``parts``."""
    traditional = is_traditional(question)
    ordered = sorted(chunks, key=lambda c: (c.doc_id, c.start))
    if len(ordered) > parts:  # evenly spread, first and last part included
        ordered = [ordered[round(i * (len(ordered) - 1) / (parts - 1))] for i in range(parts)]
    citations: list[Citation] = []
    lines: list[str] = []
    for chunk in ordered:
        span = key_sentence(chunk.text)
        if span is None:
            continue
        n = len(citations) + 1
        text = to_traditional(chunk.text_original) if traditional else to_simplified(chunk.text_original)
        citations.append(
            Citation(n, chunk.doc_id, chunk.lines, chunk.chunk_id, 1.0, text, chunk.text_original, span, None)
        )
        lines.append(f"{n}. {text[span[0] : span[1]]}[{n}]")
    if not citations:
        lead = "文档是空的，没有可总结的内容。" if not traditional else "文檔是空的，沒有可總結的內容。"
        return Answer(question, lead, False, mode, (), intent="summary")
    lead = "這篇文章主要講了：" if traditional else "这篇文章主要讲了："
    if len({c.doc for c in citations}) > 1:
        lead = "這些文檔主要講了：" if traditional else "这些文档主要讲了："
    return Answer(question, lead + "\n" + "\n".join(lines), False, mode, tuple(citations), intent="summary")
