"""Follow-up candidates: the few questions a follow-up may mean, each to be read; the
reader's evidence picks one.

A rule-based rewrite (``qa.conversation.resolve``) guesses one referent; on documents it
was not written against, a wrong guess turns an answerable turn into "not found". So a
follow-up that leans on the conversation is asked several ways at once:

- ``rewrite``: the resolver's standalone question (the rule that made it is kept);
- ``as-asked``: the follow-up itself, searched in the document the conversation is
  about (an extractive reader finds "他后来在哪里读书" in 苏镜宇's passage without
  knowing who 他 is);
- ``entity``: the reference filled with what the dialogue is about (its first
  question's topic, or an earlier one's);
- ``answer``: the reference filled with the last short answer ("他" after
  "哪位将领投降了？");
- ``swap``: for "X呢？", X put in place of another part of the previous question (its
  topic or what it asked about) than the one the rewrite chose.

The rewrite is read first; when the reader answers it, that answer stands (on the
other-document dialogues, reading every candidate and picking by evidence gained
nothing over this, at 2-4x the reading time: docs/conversation.md). When it declines,
the alternatives are retrieved and read in one batched run and ``pick`` takes the one
with the most evidence, if it clears the reader's threshold by ``MARGIN`` and its span
is of the kind the question asks for (``qa.pipeline.of_asked_kind``); else the decline
stands. Earlier questions are never joined into one long question. Pure
functions of (question, history).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.conversation import (
    CLASSIFIED,
    Resolution,
    asked_attribute,
    has_pronoun,
    previous_question,
    resolve,
    strip_question,
    topic,
)
from qa.normalize import CJK, is_traditional, to_simplified, to_traditional
from qa.types import Turn

_CJK = re.compile(f"[{CJK}]")

MARGIN = 2.0  # evidence over the reader's threshold an alternative needs (measured: docs/conversation.md)
MAX_ALTERNATIVES = 4  # read in one batch, only when the rewrite declines


@dataclass(frozen=True)
class Candidate:
    """One way to read a follow-up: the question, and how it was made."""

    resolution: Resolution
    kind: str = "rewrite"


def candidates(question: str, history: Sequence[Turn]) -> list[Candidate]:
    """The rewrite first, then the other readings of a follow-up (only the rewrite for a
    question that stands alone, or with no earlier Chinese question to lean on)."""
    primary = resolve(question, history)
    previous = previous_question(history)
    if primary.rule == "none" or previous is None or not _CJK.search(question) or not _CJK.search(previous):
        return [Candidate(primary)]
    traditional = is_traditional(question)
    simple = to_simplified(strip_question(question))
    end = question.strip()[len(strip_question(question)) :] or "？"
    out = [Candidate(primary)]

    def add(text: str, kind: str) -> None:
        text = to_traditional(text) if traditional else text
        if text and len(out) <= MAX_ALTERNATIVES and all(c.resolution.question != text for c in out):
            made = replace(primary, question=text, rule=f"{primary.rule}:{kind}", focus="", context="")
            out.append(Candidate(made, kind))

    if primary.rule == "ne":  # "X呢？" is no question of its own: only other slots swapped
        term = re.sub(r"^(?:那么?|而|还有|另外)?(.+?)(?:的情况|方面|怎么样|如何)?呢$", r"\1", simple)
        prev = to_simplified(previous)
        for old in (topic(prev), asked_attribute(prev)):
            if old and old != term and old in prev:
                add(prev.replace(old, term, 1), "swap")
        return out
    add(question.strip(), "as-asked")  # as typed, read in the discussed document
    pronoun = has_pronoun(simple)
    body = simple if CLASSIFIED.match(simple) else re.sub(r"^(?:那么|那)", "", simple)
    referents = [(r, "entity") for r in dialogue_topics(history)]
    referents.append((last_answer(history), "answer"))  # "他" after "哪位将领…？"
    for referent, kind in referents:
        if not referent or referent in simple:
            continue
        if pronoun and not CLASSIFIED.match(simple[simple.find(pronoun) :]):
            at = simple.find(pronoun)  # "他后来去了哪里" -> "苏镜宇后来去了哪里"
            add(simple[:at] + referent + simple[at + len(pronoun) :] + end, kind)
        else:  # "那场比赛的对手是谁" -> "苏镜宇那场比赛的对手是谁"; "有多长" -> "17号线有多长"
            add(referent + body + end, kind)
    return out


def dialogue_topics(history: Sequence[Turn], turns: int = 5) -> list[str]:
    """What the conversation is about: the topics of its earlier questions as understood,
    the first question's first, then the most recent (unique, simplified)."""
    asked = [to_simplified(t.resolved_question) for t in history[-turns:] if t.question.strip()]
    found = [t for q in (asked[:1] + asked[1:][::-1]) if (t := topic(q))]
    return list(dict.fromkeys(found))[:2]


def last_answer(history: Sequence[Turn]) -> str:
    """The last turn's short answer (simplified), "" when it declined or had none."""
    last = history[-1].answer if history else None
    return to_simplified(last.short_answer) if last is not None and not last.abstained and last.short_answer else ""


def focus_document(history: Sequence[Turn]) -> str:
    """The document the conversation is about: where the last answer came from ("" when
    the last turn declined or cited nothing)."""
    for turn in reversed(history[-1:]):
        answer = turn.answer
        if answer is None or answer.abstained or not answer.citations:
            return ""
        cited = next((c for c in answer.citations if c.answer_span is not None), answer.citations[0])
        return cited.doc
    return ""


def pick(evidence: Sequence[float | None], threshold: float, margin: float = MARGIN) -> int | None:
    """Which alternative answers when the rewrite declined: the most evidence among those
    at least ``margin`` over the reader's ``threshold`` (``None``: declined); ties to the
    earlier (simpler) one; ``None`` when none is that sure."""
    best, at = None, None
    for i, e in enumerate(evidence):
        if e is not None and e >= threshold + margin and (best is None or e > best):
            best, at = e, i
    return at
