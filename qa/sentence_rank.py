"""Sentence scoring and the word-based abstention rule: the heuristic reader's parts.

Sentences are scored, not only chunks: the share of the question's words found in the
sentence (rarer words weigh more), the question's numbers, the dense similarity of the
sentence itself to the question (the index embeds every sentence), and the passage's
rank.

Abstaining: dense cosine alone does not separate unanswerable questions (they score
as high as answerable ones with e5), so the rule asks whether the question's content
words are actually present in the passages found.  A question whose words are mostly
absent from every top passage is declined, unless the dense match is very strong
(which is what carries English or paraphrased questions). With the trained reader
(``qa/reader.py``) these rules only rank sentences and catch off-topic questions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.chunking import split_sentences
from qa.crosslingual import about_nothing_here, chinese_terms
from qa.normalize import has_chinese, to_simplified
from qa.tokenize import tokenize
from qa.types import Hit, Reading

_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*%?")
_ENGLISH_WORD = re.compile(r"[a-z0-9]*[a-z][a-z0-9]*")  # "congress", "14th"; not "2025", "..", "零碳"
# Weight of a sentence's own dense similarity, per unit of cosine below the best
# sentence's. Sentence cosines of one question spread over ~0.02-0.10, so this moves a
# choice between sentences with similar word overlap. Measured (README, "Answers"):
# best-sentence hits on 400-question samples rose 271 -> 287 (CMRC), 333 -> 336 (DRCD),
# and on gold 69 -> 72 of 79; 1-8 all gain, 16+ starts to lose.
SENTENCE_DENSE_WEIGHT = 4.0


# Questions that ask for a time, and what a sentence needs to answer one.
_TIME_QUESTION = re.compile(
    r"哪一?年|哪个月|几月|哪一?天|几号|什么时候|何时|什么时间|多久|when\b|what year|what date|which year", re.I
)
_TIME_EXPRESSION = re.compile(r"\d+\s*[年月日号]|[今去明前后]年|年[末初底中]|月[末初底中]|\d{4}|世纪|季度|期间")
# A quantity asked for in a unit of measure the answer must then mention.
_UNIT_QUESTION = re.compile(r"(?:多少|几)(亿元|万元|美元|元|吨|千瓦|兆瓦|千瓦时|度电|平方米|公顷|亩|公里|人)")


@dataclass(frozen=True)
class AbstainRule:
    """When to decline; thresholds calibrated on the gold set (see README, "Abstaining").

    - ``min_coverage``: below this idf-weighted share of the question's words found in
      the best passage, the passages are about something else (or the question asks
      about a detail the article never mentions);
    - ``off_topic_dense``/``off_topic_coverage``: a weak dense match with little word
      overlap is an off-topic question;
    - ``strong_dense``: for questions without Chinese content words (English), the
      dense match alone decides.
    """

    min_coverage: float = 0.1
    off_topic_dense: float = 0.86
    off_topic_coverage: float = 0.3
    strong_dense: float = 0.75
    check_answer_type: bool = True


@dataclass(frozen=True)
class Sentence:
    chunk_index: int
    start: int  # span inside the chunk text
    end: int
    score: float  # words + meaning + passage rank: the order of sentences
    words: float  # words + passage rank only: how well the sentence covers the question


def _corpus_uses(idf: Callable[[str], float]) -> Callable[[str], bool]:
    """Whether the corpus uses a word, told by its idf: below that of a word no chunk has."""
    unknown = idf("\x00")
    return lambda word: idf(word) < unknown


def question_terms(question: str, idf: Callable[[str], float] | None = None) -> dict[str, float]:
    """Content words of the question with weights: corpus idf when known, else word length.

    With idf, words every passage shares (the corpus topic, 零碳园区) say little and
    words the corpus never uses (补贴) say most about whether it can answer. An English
    question also gets the Chinese words the corpus uses for its words (``qa.crosslingual``).
    """
    tokens = dict.fromkeys(tokenize(question))
    if idf is not None and not has_chinese(question):
        tokens.update(dict.fromkeys(chinese_terms(question, _corpus_uses(idf))))
    if idf is None:
        return {t: float(min(len(t), 4)) for t in tokens}
    return {t: idf(t) for t in tokens}


def sentence_windows(text: str, width: int = 2) -> list[str]:
    """Runs of ``width`` consecutive sentences: the unit an answer must be found in."""
    spans = split_sentences(text)
    if len(spans) <= width:
        return [text]
    return [text[spans[i][0] : spans[i + width - 1][1]] for i in range(len(spans) - width + 1)]


def coverage(terms: dict[str, float], text: str) -> float:
    """Weighted share of the question's words that occur in the (simplified) text."""
    total = sum(terms.values())
    if not total:
        return 0.0
    low = text.lower()
    return sum(w for t, w in terms.items() if t in low) / total


def sentence_score(terms: dict[str, float], numbers: set[str], sentence: str) -> float:
    score = coverage(terms, sentence)
    if numbers:
        score += 0.5 * len(numbers & set(_NUMBER.findall(sentence))) / len(numbers)
    return score


def rank_sentences(question: str, hits: Sequence[Hit], idf: Callable[[str], float] | None = None) -> list[Sentence]:
    """All sentences of the hits, best first: word overlap, dense similarity, the passage's rank."""
    terms = question_terms(question, idf)
    numbers = set(_NUMBER.findall(to_simplified(question)))
    dense = [h.sentence_scores for h in hits]
    known = [x for d in dense for x in d.values()]
    best, worst = (max(known), min(known)) if known else (0.0, 0.0)
    out = []
    for i, hit in enumerate(hits):
        prior = 0.15 / (1 + i)  # ties go to the better-ranked passage
        for s, e in split_sentences(hit.chunk.text):
            meaning = SENTENCE_DENSE_WEIGHT * (dense[i].get((s, e), worst) - best)  # 0 for the closest
            words = sentence_score(terms, numbers, hit.chunk.text[s:e]) + prior
            out.append(Sentence(i, s, e, words + meaning, words))
    return sorted(out, key=lambda x: (-x.score, x.chunk_index, x.start))


def should_abstain(
    question: str,
    hits: Sequence[Hit],
    rule: AbstainRule = AbstainRule(),
    idf: Callable[[str], float] | None = None,
) -> bool:
    """True when the passages found do not support an answer (see module docstring)."""
    if not hits:
        return True
    terms = question_terms(question, idf)
    dense_top = max((h.scores.get("dense", 0.0) for h in hits[:3]), default=0.0)
    words = [t for t in tokenize(question) if not t.isdigit()]  # its own words, not their Chinese (crosslingual)
    if not terms or (words and all(_ENGLISH_WORD.fullmatch(t) for t in words)):
        # English words (and numbers: "14th", "20"): words cannot be compared across
        # languages, so the dense match tells, unless the corpus has none of their Chinese words
        if idf is not None and about_nothing_here(question, _corpus_uses(idf)):
            return True
        return dense_top < rule.strong_dense
    best_cov = max(coverage(terms, window) for h in hits[:3] for window in sentence_windows(h.chunk.text))
    if best_cov < rule.min_coverage:
        return True
    if dense_top < rule.off_topic_dense and best_cov < rule.off_topic_coverage:
        return True
    return rule.check_answer_type and not answer_type_found(question, hits[:3], idf)


def answer_type_found(question: str, hits: Sequence[Hit], idf: Callable[[str], float] | None = None) -> bool:
    """A "when" question needs a time in its best sentence; "多少亿元" needs 亿元 there."""
    q = to_simplified(question)
    wants_time = _TIME_QUESTION.search(q) is not None
    unit = _UNIT_QUESTION.search(q)
    if not wants_time and unit is None:
        return True
    ranked = rank_sentences(question, hits, idf)
    for s in ranked[:2]:
        sentence = hits[s.chunk_index].chunk.text[s.start : s.end]
        if wants_time and _TIME_EXPRESSION.search(sentence) is None:
            continue
        if unit is not None and unit.group(1) not in sentence:
            continue
        return True
    return False


def heuristic_reading(
    question: str,
    hits: Sequence[Hit],
    rule: AbstainRule = AbstainRule(),
    idf: Callable[[str], float] | None = None,
) -> Reading:
    """The heuristic reader (``QA_READER=off``): no span, the word rule decides abstention."""
    return Reading("heuristic", should_abstain(question, hits, rule, idf))
