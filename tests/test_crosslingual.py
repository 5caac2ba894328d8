"""English questions -> the corpus's Chinese words (CC-CEDICT read backwards)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import crosslingual
from qa.crosslingual import (
    about_nothing_here,
    chinese_terms,
    dictionary,
    english_key,
    english_to_chinese,
    name_terms,
    romanised,
    stem,
)


def knows(*words: str):  # type: ignore[no-untyped-def]
    vocabulary = set(words)
    return lambda w: w in vocabulary


def test_stems_meet_on_both_sides_of_the_lookup() -> None:
    assert stem("parks") == stem("park")
    assert stem("industries") == stem("industry")
    assert stem("released") == stem("release")
    assert stem("class") == "class"  # a double s is no plural
    assert stem("emissions") == stem("emit") and stem("commission") != stem("commit")
    assert english_key("National People's Congress") == english_key("national people congress")


def test_the_table_reads_cc_cedict_backwards() -> None:
    table = english_to_chinese()
    assert "园区" in table[english_key("park")]
    assert "浙江" in table[english_key("Zhejiang")]
    assert "广东" in table[english_key("Guangdong")]  # from "Guangdong province (Kwangtung) …"
    assert "上海" in table[english_key("Shanghai")]  # from "Shanghai municipality, central east China, …"
    assert "京剧" not in table[english_key("Beijing")]  # "Beijing opera" is no name for Beijing
    assert "发改委" in table[english_key("NDRC")]  # an acronym in brackets is a sense of its own
    assert "名单" in table[english_key("list")]  # "list of names": its head, after the exact senses
    assert table[english_key("list")].index("名单") > table[english_key("list")].index("列表")


def test_only_words_the_corpus_uses_are_kept() -> None:
    corpus = knows("今年", "政府", "工作", "报告", "厂")
    terms = chinese_terms("Who delivered this year's government work report?", corpus)
    assert terms == ("今年", "政府", "工作", "报告")  # not 厂 ("works"): a longer word is there
    assert chinese_terms("Which park?", knows("园区")) == ("园区",)  # not 公园, 停车: the corpus has neither
    assert chinese_terms("Which park?", knows()) == ()


def test_phrases_win_over_their_words_and_may_skip_one_word() -> None:
    assert chinese_terms("carbon emissions", knows("碳排放", "碳")) == ("碳排放",)
    assert chinese_terms("the first national batch", knows("首批", "全国")) == ("首批", "全国")
    assert chinese_terms("the 14th session in 2024", knows("2024")) == ("2024",)


def test_a_chinese_question_gets_no_gloss() -> None:
    assert chinese_terms("零碳园区 park 是什么？", knows("园区")) == ()


def test_the_parsed_table_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    dictionary.cache_clear()
    (tmp_path / "cedict-en-zh-v0-1.pickle").write_bytes(b"an older parsing's table")
    try:
        table = english_to_chinese()
        cached = list(tmp_path.glob("cedict-en-zh-*.pickle"))
        assert len(cached) == 1
        dictionary.cache_clear()
        monkeypatch.setattr(crosslingual, "_parse", lambda _source: pytest.fail("parsed again"))
        assert dictionary().table == table
    finally:
        dictionary.cache_clear()


def test_a_question_about_nothing_the_corpus_mentions() -> None:
    corpus = knows("园区", "名单", "公布")
    assert about_nothing_here("How much funding does each of them get?", corpus)  # 资金, 经费…: none here
    assert not about_nothing_here("Who released the list?", corpus)  # 名单 is here
    assert not about_nothing_here("When?", corpus)  # nothing to look up: no evidence either way
    assert not about_nothing_here("Who is Li Xiaofeng?", corpus)  # a name: "li" the unit of length is no evidence
    assert not about_nothing_here("What about Xyzzq Vrrblt?", corpus)
    assert not about_nothing_here("资金是多少？", corpus)  # Chinese questions have their own rule


def test_names_spelled_in_pinyin_are_found_in_the_text() -> None:
    text = "清华大学建筑学院教授李晓锋介绍称，产业竞争力强。国务院总理李强作政府工作报告。孙捷告诉记者。"
    assert name_terms("Who is Li Xiaofeng?", text) == ("李晓锋",)
    assert name_terms("What did Sun Jie say?", text) == ("孙捷",)
    assert set(name_terms("Who is Li Qiang?", text)) == {"李强", "力强"}  # the characters alone cannot tell
    assert name_terms("Who is Li Qiang?", text, knows("李强")) == ("李强",)  # a word of the corpus can
    assert name_terms("Who from Envision Group is quoted?", text) == ()  # not pinyin
    assert name_terms("What about Zhejiang?", text) == ()  # in the dictionary: chinese_terms has it
    assert name_terms("李晓锋是谁？", text) == ()


def test_a_pinyin_name_is_not_glossed_word_by_word() -> None:
    corpus = knows("日", "太阳", "说")
    assert chinese_terms("What did Sun Jie say about the sun?", corpus) == ("说", "太阳")  # no 日 for Sun Jie
    assert "日" in chinese_terms("What did Sun say?", knows("日"))  # one word alone may be the sun


def test_names_are_romanised_the_way_name_terms_reads_them() -> None:
    assert romanised("孙捷") == "Sun Jie"
    assert romanised("李晓锋") == "Li Xiaofeng"
    assert romanised("李强") == "Li Qiang"  # the reading words use most, not the first (jiang)
    assert romanised("强") == ""  # a name has two characters or more
    text = "国务院总理李强作政府工作报告。孙捷告诉记者。"
    assert name_terms(f"What is {romanised('孙捷')}'s post?", text) == ("孙捷",)
