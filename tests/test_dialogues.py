"""The multi-turn gold set: well-formed, grounded in the article, and mixed as the issue asks."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache

import pytest

from qa.corpus import load_corpus
from qa.normalize import is_traditional, match_key, to_simplified
from tests.conftest import CORPUS, ROOT

DIALOGUES = ROOT / "eval" / "dialogues.jsonl"
SCRIPT_TAGS = {"simplified", "traditional", "english", "mixed"}
TURN_TAGS = {"first", "follow-up", "pronoun", "ne", "ellipsis", "short", "standalone-followup", "unanswerable"}
KINDS = {"pronoun", "ne", "ellipsis", "standalone-followup"}  # how a follow-up relates to the conversation
# The article's paragraphs (cleaned text split on "\n") as raw line ranges of corpus/zero-carbon-parks.txt.
PARAGRAPH_LINES = [(1, 1), (2, 4), (5, 7), (8, 9), (10, 11), (12, 12), (13, 13), (14, 14), (15, 15), (16, 16), (17, 22)]
ZH_PRONOUNS = ("他", "她", "它", "这", "那", "其", "该", "此")  # 它们/他们/这些/其中 start with one of these
EN_PRONOUNS = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her|this|that|these|those)\b", re.IGNORECASE)
EN_NE = re.compile(r"^((what|how) about\b.*|and \w+\?)$", re.IGNORECASE)  # English 呢-questions: "And emissions?"
CJK = re.compile("[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def dialogues() -> list[dict]:
    lines = DIALOGUES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def turns() -> list[tuple[str, int, dict]]:
    return [(d["id"], n, t) for d in dialogues() for n, t in enumerate(d["turns"])]


def follow_ups() -> list[dict]:
    return [t for _, n, t in turns() if n > 0]


@lru_cache(maxsize=1)
def paragraphs() -> list[tuple[tuple[int, int], str]]:
    """(raw line range, match_key of the text) for each paragraph of the article."""
    docs, _ = load_corpus(CORPUS)
    assert len(docs) == 1
    doc = docs[0]
    out, pos = [], 0
    for text in doc.simplified.split("\n"):
        out.append((doc.line_range(pos, pos + len(text)), match_key(text)))
        pos += len(text) + 1
    return out


@lru_cache(maxsize=1)
def article_key() -> str:
    return "".join(key for _, key in paragraphs())


def paragraphs_of(evidence: str) -> set[tuple[int, int]]:
    key = match_key(evidence)
    return {lines for lines, text in paragraphs() if key in text}


def test_rows_have_the_expected_fields() -> None:
    for d in dialogues():
        assert set(d) == {"id", "tags", "turns"}, d.get("id")
        assert isinstance(d["turns"], list) and 2 <= len(d["turns"]) <= 5, d["id"]
        for n, t in enumerate(d["turns"]):
            expected = {"q", "answers", "evidence", "tags"} | ({"standalone"} if n else set())
            assert set(t) == expected, (d["id"], n)
            assert isinstance(t["q"], str) and t["q"].strip(), (d["id"], n)
            for key in ("answers", "evidence", "tags"):
                assert isinstance(t[key], list) and all(isinstance(x, str) and x.strip() for x in t[key]), (d["id"], n)
            if n:
                assert isinstance(t["standalone"], str) and t["standalone"].strip(), (d["id"], n)


def test_ids_are_unique() -> None:
    counts = Counter(d["id"] for d in dialogues())
    assert [i for i, n in counts.items() if n > 1] == []


def test_every_tag_is_known() -> None:
    for d in dialogues():
        assert len(d["tags"]) == 1 and d["tags"][0] in SCRIPT_TAGS, d["id"]
    unknown = {(i, n, tag) for i, n, t in turns() for tag in t["tags"] if tag not in TURN_TAGS}
    assert unknown == set()


def test_first_and_follow_up_turns() -> None:
    for i, n, t in turns():
        tags = set(t["tags"])
        if n == 0:
            assert "first" in tags and not tags & ({"follow-up"} | KINDS), (i, n)
        else:
            assert "follow-up" in tags and "first" not in tags, (i, n)
            assert tags & KINDS, f"{i} turn {n}: say how it follows up"
            if "standalone-followup" in tags:
                assert not tags & {"pronoun", "ne", "ellipsis"}, (i, n)
                assert t["standalone"] == t["q"], f"{i} turn {n}: a self-contained turn is its own rewrite"
            else:
                assert t["standalone"] != t["q"], f"{i} turn {n}: a dependent turn needs a rewrite"


def test_surface_tags_match_the_question() -> None:
    for i, n, t in turns():
        q, tags = t["q"].strip(), set(t["tags"])
        assert ("short" in tags) == (len(q) <= 6), (i, n, q)
        assert ("ne" in tags) == ("呢" in q or bool(EN_NE.match(q))), (i, n, q)
        if "pronoun" in tags:
            assert any(p in to_simplified(q) for p in ZH_PRONOUNS) or EN_PRONOUNS.search(q), (i, n, q)


def test_dialogue_script_matches_its_questions() -> None:
    for d in dialogues():
        qs = [t["q"] for t in d["turns"]]
        script = d["tags"][0]
        if script == "simplified":
            assert all(CJK.search(q) and not is_traditional(q) for q in qs), d["id"]
        elif script == "traditional":
            assert all(CJK.search(q) for q in qs) and is_traditional(qs[0]), d["id"]
        elif script == "english":
            assert not any(CJK.search(q) for q in qs), d["id"]
        else:
            assert any(CJK.search(q) for q in qs) and not all(CJK.search(q) for q in qs), d["id"]


def test_paragraphs_are_the_expected_raw_lines() -> None:
    assert [lines for lines, _ in paragraphs()] == PARAGRAPH_LINES


@pytest.mark.parametrize("dialogue", dialogues(), ids=lambda d: d["id"])
def test_evidence_is_in_one_paragraph_of_the_article(dialogue: dict) -> None:
    for t in dialogue["turns"]:
        for evidence in t["evidence"]:
            assert paragraphs_of(evidence), evidence


def test_answers_are_grounded_and_unanswerable_turns_are_empty() -> None:
    for i, n, t in turns():
        if "unanswerable" in t["tags"]:
            assert t["answers"] == [] and t["evidence"] == [], (i, n)
            assert n > 0, f"{i}: only follow-ups are unanswerable"
            continue
        assert t["answers"] and t["evidence"], (i, n)
        evidence_keys = [match_key(e) for e in t["evidence"]]
        for answer in t["answers"]:
            key = match_key(answer)
            assert key and (any(key in e for e in evidence_keys) or key in article_key()), (i, n, answer)


def test_size_and_mix() -> None:
    rows = dialogues()
    assert len(rows) >= 45
    assert sum(len(d["turns"]) >= 3 for d in rows) >= 10
    scripts = Counter(d["tags"][0] for d in rows)
    assert scripts["simplified"] >= 0.5 * len(rows)
    assert scripts["traditional"] >= 0.15 * len(rows) and scripts["english"] >= 0.1 * len(rows)
    fus = follow_ups()
    unanswerable = sum("unanswerable" in t["tags"] for t in fus)
    assert 0.05 <= unanswerable / len(fus) <= 0.20
    tags = Counter(tag for t in fus for tag in t["tags"])
    assert tags["standalone-followup"] >= 3
    for kind in ("pronoun", "ne", "ellipsis", "short"):
        assert tags[kind] >= 5, kind


def test_every_paragraph_is_asked_about() -> None:
    touched: Counter[tuple[int, int]] = Counter()
    for _, _, t in turns():
        if t["answers"]:
            touched.update(set().union(*(paragraphs_of(e) for e in t["evidence"])))
    assert {lines: touched[lines] for lines in PARAGRAPH_LINES if touched[lines] < 2} == {}
