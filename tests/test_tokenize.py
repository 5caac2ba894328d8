"""The BM25 splitter."""

from __future__ import annotations

from qa.tokenize import tokenize


def test_both_scripts_give_the_same_tokens() -> None:
    assert tokenize("首批國家級零碳園區有多少個？") == tokenize("首批国家级零碳园区有多少个？")


def test_search_mode_emits_sub_words_and_drops_stop_words_and_punctuation() -> None:
    toks = tokenize("零碳园区的建设是什么？")
    assert "零碳" in toks and "园区" in toks
    assert "的" not in toks and "什么" not in toks and "？" not in toks


def test_numbers_and_english_survive() -> None:
    toks = tokenize("What share, 50%, 1.5万个 ESG?")
    assert "50%" in toks and "1.5" in toks and "esg" in toks and "what" not in toks


def test_empty_and_symbol_only_text() -> None:
    assert tokenize("") == [] and tokenize("？！…") == []
