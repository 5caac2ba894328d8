"""Training examples for the reader from CMRC 2018 dev and DRCD dev (SQuAD format).

Everything is read in simplified script (DRCD is traditional; conversion keeps
lengths, so answer offsets stay valid), as the runtime reader reads it.

Each training question gives one answerable example (a window holding the answer)
and one unanswerable example, made by a general rule, never for a particular article:

- ``deleted``: its own passage with every sentence holding the answer removed
  (what a user asking about a detail the document does not give looks like);
- ``retrieved``: the best other paragraph BM25 finds once the gold one is withheld
  (another paragraph of the same article often wins on DRCD);
- ``swapped``: the question with a number, year or named entity swapped for another
  of its kind that the passage does not contain, read against its own window.

A paragraph or swap that still contains a gold answer is not used as a negative.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.chunking import split_sentences
from qa.normalize import to_simplified
from qa.reader_inputs import (
    Special,
    assemble,
    context_budget,
    context_offset,
    encode_context,
    encode_question,
    windows,
)
from qa.splits import dataset_name, is_validation

NEGATIVE_KINDS = ("deleted", "retrieved", "swapped")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class Question:
    qid: str
    question: str
    answers: tuple[str, ...]
    answer_start: int  # first gold answer's offset in the paragraph
    paragraph: int  # index into Corpus.paragraphs
    negatives: dict[str, tuple[str, str]] = field(default_factory=dict)  # kind -> (question, context)


@dataclass
class Corpus:
    """Simplified paragraphs and questions of one side (train or val) of the split."""

    paragraphs: list[str]
    article_of: list[str]  # article id per paragraph
    questions: list[Question]


def load_side(paths: Sequence[Path], validation: bool) -> Corpus:
    """Paragraphs and answerable questions of the chosen split side, all files together."""
    corpus = Corpus([], [], [])
    for path in paths:
        name = dataset_name(path.stem)
        for a, article in enumerate(json.loads(path.read_text(encoding="utf-8-sig"))["data"]):
            article_id = str(article.get("id") or article.get("title") or a)
            if is_validation(name, article_id) != validation:
                continue
            for paragraph in article["paragraphs"]:
                context = to_simplified(paragraph["context"])
                p = len(corpus.paragraphs)
                corpus.paragraphs.append(context)
                corpus.article_of.append(f"{name}:{article_id}")
                for qa in paragraph["qas"]:
                    q = _question(qa, context, p)
                    if q is not None:
                        corpus.questions.append(q)
    return corpus


def _question(qa: dict, context: str, p: int) -> Question | None:
    answers = tuple(dict.fromkeys(to_simplified(x["text"]).strip() for x in qa.get("answers", []) if x["text"].strip()))
    if not answers:
        return None
    first = qa["answers"][0]
    text = to_simplified(first["text"]).strip()
    start = int(first["answer_start"])
    if context[start : start + len(text)] != text:  # off by a few: take the nearest occurrence
        hits = [m.start() for m in re.finditer(re.escape(text), context)]
        if not hits:
            return None
        start = min(hits, key=lambda h: abs(h - start))
    return Question(str(qa["id"]), to_simplified(qa["question"]).strip(), answers, start, p)


# ---------------------------------------------------------------- negatives
def delete_answer_sentences(context: str, answers: Sequence[str]) -> str | None:
    """The passage without the sentences holding any gold answer (None when too little is left)."""
    spans = split_sentences(context)
    kept = [context[s:e] for s, e in spans if not any(a in context[s:e] for a in answers)]
    rest = "".join(kept)
    if len(rest) < 40 or any(a in rest for a in answers):
        return None
    return rest


def retrieved_paragraphs(corpus: Corpus, top: int = 4) -> list[list[int]]:
    """Per question, the best BM25 paragraphs of the same side, gold paragraph excluded."""
    import bm25s

    from qa.tokenize import tokenize

    tokens = [tokenize(p) for p in corpus.paragraphs]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in tokens]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    out = []
    for q in corpus.questions:
        q_ids = [[vocab[t] for t in tokenize(q.question) if t in vocab]]
        if not q_ids[0]:
            out.append([])
            continue
        docs, _ = retriever.retrieve(q_ids, k=min(top + 1, len(corpus.paragraphs)), show_progress=False)
        out.append([int(d) for d in docs[0] if int(d) != q.paragraph][:top])
    return out


def entity_pools(questions: Sequence[Question]) -> dict[str, list[str]]:
    """Named entities of the questions by jieba part of speech (person, place, organisation, other)."""
    import jieba.posseg as pseg

    pools: dict[str, set[str]] = {}
    for q in questions:
        for w in pseg.lcut(q.question):
            if w.flag in ("nr", "ns", "nt", "nz") and len(w.word) >= 2:
                pools.setdefault(w.flag, set()).add(w.word)
    return {k: sorted(v) for k, v in pools.items()}


def swap_question(q: Question, context: str, pools: dict[str, list[str]], rng: random.Random) -> str | None:
    """The question with one number/year or named entity (found in the passage) replaced
    by another of its kind that the passage does not contain."""
    import jieba.posseg as pseg

    candidates: list[tuple[str, list[str]]] = []
    for m in _NUMBER.finditer(q.question):
        if m.group() in context:
            n = m.group()
            options = [str(int(float(n)) + d) for d in (-3, -2, -1, 1, 2, 3, 10)] if "." not in n else []
            candidates.append((n, [o for o in options if int(o) >= 0 and o not in context]))
    for w in pseg.lcut(q.question):
        if w.flag in pools and len(w.word) >= 2 and w.word in context:
            options = [o for o in rng.sample(pools[w.flag], min(20, len(pools[w.flag]))) if o not in context]
            candidates.append((w.word, options))
    candidates = [(old, opts) for old, opts in candidates if opts]
    if not candidates:
        return None
    old, options = rng.choice(candidates)
    new = rng.choice(options)
    swapped = q.question.replace(old, new, 1)
    return swapped if swapped != q.question else None


def attach_negatives(corpus: Corpus, seed: int) -> None:
    """Fill every question's ``negatives`` (kinds that could be made for it)."""
    rng = random.Random(seed)
    retrieved = retrieved_paragraphs(corpus)
    pools = entity_pools(corpus.questions)
    for q, found in zip(corpus.questions, retrieved, strict=True):
        context = corpus.paragraphs[q.paragraph]
        deleted = delete_answer_sentences(context, q.answers)
        if deleted:
            q.negatives["deleted"] = (q.question, deleted)
        for p in found:
            other = corpus.paragraphs[p]
            if not any(a in other for a in q.answers):
                q.negatives["retrieved"] = (q.question, other)
                break
        swapped = swap_question(q, context, pools, rng)
        if swapped:
            q.negatives["swapped"] = (swapped, context)


# ---------------------------------------------------------------- features
@dataclass(frozen=True)
class Feature:
    """One training input: ids, the answer's token positions in it (0, 0 = no answer)."""

    ids: tuple[int, ...]
    start: int
    end: int

    @property
    def has_answer(self) -> bool:
        return self.start > 0


class Featurizer:
    """Tokenises once per text, then cuts windows (answer windows chosen per epoch)."""

    def __init__(self, tokenizer, special: Special) -> None:  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        self.special = special
        self._contexts: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}
        self._questions: dict[str, list[int]] = {}

    def context(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        if text not in self._contexts:
            self._contexts[text] = encode_context(self.tokenizer, text, self.special)
        return self._contexts[text]

    def question(self, text: str) -> list[int]:
        if text not in self._questions:
            self._questions[text] = encode_question(self.tokenizer, text, self.special)
        return self._questions[text]

    def positive(self, q: Question, context: str, rng: random.Random) -> Feature | None:
        q_ids = self.question(q.question)
        ids, offsets = self.context(context)
        a_start, a_end = q.answer_start, q.answer_start + len(q.answers[0])
        tok = [k for k, (s, e) in enumerate(offsets) if s < a_end and e > a_start]
        if not tok:
            return None
        first_tok, last_tok = tok[0], tok[-1]
        wins = [w for w in windows(len(ids), context_budget(len(q_ids))) if w[0] <= first_tok and last_tok < w[1]]
        if not wins:
            return None
        win = rng.choice(wins)
        base = context_offset(len(q_ids)) - win[0]
        return Feature(tuple(assemble(q_ids, ids, win, self.special)), first_tok + base, last_tok + base)

    def negative(self, question: str, context: str, near: int | None) -> Feature:
        """The window of ``context`` nearest character ``near`` (or the one sharing most
        question characters); the target is "no answer"."""
        q_ids = self.question(question)
        ids, offsets = self.context(context)
        wins = windows(len(ids), context_budget(len(q_ids)))
        if len(wins) > 1:
            if near is not None:
                pos = next((k for k, (s, _) in enumerate(offsets) if s >= near), len(ids) - 1)
                win = min(wins, key=lambda w: abs((w[0] + w[1]) / 2 - pos))
            else:
                chars = set(question)
                win = max(wins, key=lambda w: sum(c in chars for s, e in offsets[w[0] : w[1]] for c in context[s:e]))
        else:
            win = wins[0]
        return Feature(tuple(assemble(q_ids, ids, win, self.special)), 0, 0)


def epoch_features(
    corpus: Corpus, featurizer: Featurizer, seed: int, epoch: int, negative_ratio: float = 1.0
) -> list[Feature]:
    """One epoch's examples: an answer window per question and, with probability
    ``negative_ratio``, one negative of a kind drawn at random among those made for it."""
    rng = random.Random(seed * 1000 + epoch)
    out: list[Feature] = []
    for q in corpus.questions:
        context = corpus.paragraphs[q.paragraph]
        pos = featurizer.positive(q, context, rng)
        if pos is not None:
            out.append(pos)
        if q.negatives and rng.random() < negative_ratio:
            kind = rng.choice(sorted(q.negatives))
            question, neg_context = q.negatives[kind]
            near = q.answer_start if kind in ("deleted", "swapped") else None
            out.append(featurizer.negative(question, neg_context, near))
    rng.shuffle(out)
    return out
