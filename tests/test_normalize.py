"""The normaliser: each defect of the article as received, handled by general code."""

from __future__ import annotations

from qa.corpus import load_corrections
from qa.normalize import Correction, clean, is_traditional, match_key, to_simplified, to_traditional
from tests.conftest import ARTICLE, CORPUS

RAW = ARTICLE.read_text(encoding="utf-8")


def test_pinyin_annotations_are_stripped() -> None:
    out = clean("國務(wù)院總理李強(qiáng)，零碳園區(qū)。").text
    assert out == "國務院總理李強，零碳園區。"


def test_genuine_parentheticals_stay() -> None:
    text = "企業披露(ESG)報告，排放（二氧化碳）下降，見(附表1)。"
    assert clean(text).text == text.replace("(ESG)", "(ESG)")
    assert "(ESG)" in clean(text).text and "（二氧化碳）" in clean(text).text


def test_multi_syllable_and_fullwidth_bracket_annotations() -> None:
    assert clean("中國（zhōng guó）很大。").text == "中國很大。"


def test_all_190_annotations_of_the_article_are_removed() -> None:
    from qa.normalize import PINYIN_ANNOTATION

    assert len(PINYIN_ANNOTATION.findall(RAW)) == 190
    cleaned = clean(RAW, load_corrections(CORPUS)).text
    assert PINYIN_ANNOTATION.search(cleaned) is None
    assert "(" not in cleaned and ")" not in cleaned


def test_hard_line_breaks_inside_sentences_are_joined() -> None:
    cleaned = clean(RAW, load_corrections(CORPUS)).text
    assert "全國工業和信息化工作會議" in cleaned
    assert "逐步拓展至鋼鐵、有色金屬、石化化工、建材、紡織" in cleaned
    assert "作為重要市場主體" in cleaned
    assert "二氧化碳排放持續降低" in cleaned


def test_sentence_ends_keep_paragraph_breaks() -> None:
    assert clean("第一段。\n第二段\n接著。\n").text == "第一段。\n第二段接著。"
    assert clean("引語。”\n下一段。").text == "引語。”\n下一段。"


def test_latin_words_split_over_lines_get_a_space() -> None:
    assert clean("zero carbon\nparks are new.").text == "zero carbon parks are new."


def test_half_width_punctuation_in_chinese_becomes_full_width() -> None:
    assert (
        clean("3月5日,全國人大開幕;報告提出:加快轉型?是的!").text == "3月5日，全國人大開幕；報告提出：加快轉型？是的！"
    )
    assert clean("50%;“以綠制綠”").text == "50%；“以綠制綠”"


def test_ascii_punctuation_stays_in_english_and_numbers() -> None:
    assert clean("Hello, world; 1,000 items.").text == "Hello, world; 1,000 items."


def test_full_width_letters_and_digits_become_ascii() -> None:
    assert clean("２０２５年ＥＳＧ").text == "2025年ESG"


def test_garbled_spans_are_fixed_only_by_reviewed_corrections() -> None:
    unreviewed = clean(RAW).text
    assert "鼻迦A" in unreviewed  # never silently "fixed"
    reviewed = clean(RAW, load_corrections(CORPUS)).text
    assert "意義。”清華大學" in reviewed
    assert "規模化應用" in reviewed
    assert "?" not in reviewed and "鼻迦" not in reviewed


def test_correction_offsets_point_into_the_wrong_span() -> None:
    raw = "前文abXYcd後文"
    out = clean(raw, [Correction("XY", "Z")])
    assert out.text == "前文abZcd後文"
    assert raw[out.raw_offsets[out.text.index("Z")]] == "X"


def test_offsets_map_every_character_back_to_the_same_raw_character() -> None:
    out = clean(RAW, load_corrections(CORPUS))
    assert len(out.raw_offsets) == len(out.text) + 1
    corrected = {"。", "”", "清", "華", "模", "化", "應"}
    mismatches = [
        (i, ch)
        for i, ch in enumerate(out.text)
        if RAW[out.raw_offsets[i]] != ch and ch not in "，；：？！" and ch not in corrected
    ]
    assert mismatches == []
    assert list(out.raw_offsets[:-1]) == sorted(out.raw_offsets[:-1])


def test_simplified_has_the_same_length_and_converts() -> None:
    out = clean(RAW, load_corrections(CORPUS))
    assert len(out.simplified) == len(out.text)
    assert "首批52个国家级零碳园区" in out.simplified
    assert "首批52個國家級零碳園區" in out.text


def test_script_helpers() -> None:
    assert to_simplified("國家級園區") == "国家级园区"
    assert to_traditional("国家级园区") == "國家級園區"
    assert is_traditional("首批國家級零碳園區有多少個？")
    assert not is_traditional("首批国家级零碳园区有多少个？")
    assert not is_traditional("How many parks?")


def test_match_key_ignores_script_punctuation_space_and_width() -> None:
    assert match_key("52個 國家級，零碳園區！") == match_key("52个国家级零碳园区")
    assert match_key("ＥＳＧ") == "esg"


def test_crlf_bom_and_control_characters() -> None:
    out = clean("\ufeff第一句。\r\n第二\x00句。\r\n")
    assert out.text == "第一句。\n第二句。"


def test_foreign_names_with_accents_are_not_pinyin() -> None:
    assert clean("法克薩灣（Faxaflói）位於冰島。").text == "法克薩灣（Faxaflói）位於冰島。"
    assert clean("海灣（faxaflói）。").text == "海灣（faxaflói）。"


def test_kangxi_radicals_and_compatibility_ideographs_become_ordinary_characters() -> None:
    """What a Chromium-printed PDF's text layer gives (⽅ U+2F45 for 方, ⽉, ⽇, ⼀); punctuation keeps its width."""
    from qa.normalize import clean

    raw = "地⽅层⾯，3⽉5⽇开幕；第⼀批（首批）：52个。豈"
    out = clean(raw)
    assert out.text == "地方层面，3月5日开幕；第一批（首批）：52个。豈"
    assert len(out.raw_offsets) == len(out.text) + 1 and out.raw_offsets[:3] == (0, 1, 2)


def test_the_sentence_end_is_defined_once() -> None:
    import qa.chunking
    import qa.normalize

    assert qa.chunking.SENTENCE_END is qa.normalize.SENTENCE_END and "…" in qa.normalize.SENTENCE_END


def test_a_latin_word_hyphenated_at_a_line_end_is_rejoined() -> None:
    from qa.normalize import clean

    out = clean("远景科技的 inter-\nnational 合作和 carbon-\nNeutral 目标")
    assert "international合作" in out.text  # (spaces beside Chinese are squeezed)
    assert "carbon-Neutral" in out.text  # a capital after the hyphen: a compound, the hyphen stays
    assert out.raw_offsets[out.text.index("national")] == "远景科技的 inter-\nnational".index("national")
