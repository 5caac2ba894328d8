"""The gold set itself: well-formed, grounded in the article, and mixed as the issue asks."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache

import pytest

from qa.corpus import load_corpus
from qa.normalize import match_key
from tests.conftest import CORPUS, ROOT

GOLD = ROOT / "eval" / "gold.jsonl"
KNOWN_TAGS = {
    "number", "date", "who", "org", "list", "definition", "why", "how", "where", "multi-sentence",
    "paraphrase", "traditional", "english", "unanswerable", "off-topic", "simplified",
}  # fmt: skip
NO_ANSWER_TAGS = {"unanswerable", "off-topic"}


@lru_cache(maxsize=1)
def gold() -> list[dict]:
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@lru_cache(maxsize=1)
def article_keys() -> list[str]:
    docs, _ = load_corpus(CORPUS)
    return [match_key(d.simplified) for d in docs]


def test_rows_have_the_expected_fields() -> None:
    for row in gold():
        assert set(row) == {"id", "question", "answers", "evidence", "tags"}, row.get("id")
        assert isinstance(row["question"], str) and row["question"].strip(), row["id"]
        for key in ("answers", "evidence", "tags"):
            assert isinstance(row[key], list) and all(isinstance(x, str) and x.strip() for x in row[key]), row["id"]


def test_ids_are_unique() -> None:
    counts = Counter(row["id"] for row in gold())
    assert [i for i, n in counts.items() if n > 1] == []


def test_every_tag_is_known() -> None:
    unknown = {(row["id"], t) for row in gold() for t in row["tags"] if t not in KNOWN_TAGS}
    assert unknown == set()


@pytest.mark.parametrize("row", gold(), ids=lambda r: r["id"])
def test_evidence_is_in_the_article(row: dict) -> None:
    for evidence in row["evidence"]:
        assert any(match_key(evidence) in text for text in article_keys()), evidence


def test_answerable_questions_have_evidence_and_answers_are_grounded() -> None:
    for row in gold():
        if row["answers"]:
            assert row["evidence"], f"{row['id']}: answers without evidence"


def test_no_answer_tags_match_empty_answers() -> None:
    """'unanswerable' (on-topic) and 'off-topic' questions, and only they, have no answers."""
    for row in gold():
        assert bool(NO_ANSWER_TAGS & set(row["tags"])) == (row["answers"] == []), row["id"]
        if not row["answers"]:
            assert row["evidence"] == [], row["id"]


def test_size_and_mix() -> None:
    rows = gold()
    assert len(rows) >= 80
    unanswerable = sum(not row["answers"] for row in rows)
    assert unanswerable >= 0.1 * len(rows)
    tags = Counter(t for row in rows for t in row["tags"])
    for needed in ("traditional", "english", "paraphrase", "multi-sentence", "list", "number", "date"):
        assert tags[needed] >= 2, needed
    assert tags["unanswerable"] >= 1 and tags["off-topic"] >= 1
