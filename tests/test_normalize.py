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


# ---------------------------------------------------------------- page furniture (PDF headers, footers, numbers)
def _paged(pages: list[list[str]]) -> tuple[str, tuple[int, ...]]:
    """Pages of lines -> the text view (lines and pages joined by "\\n") and where each page starts."""
    texts = ["\n".join(lines) for lines in pages]
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    return "\n".join(texts), tuple(starts)


def _line_span(text: str, line: str, page_start: int) -> tuple[int, int]:
    """The span of ``line`` (from ``page_start`` on) with its line break, as page_furniture gives it."""
    s = text.index(line, page_start)
    e = s + len(line)
    return s, e + 1 if text[e : e + 1] == "\n" else e


BODY = [
    [
        "一、总体要求。本意见适用于全市工业企业。",
        "各区县应当制定具体实施方案。",
        "星河市零碳工厂建设指导意见（1）",
        "报市工业和信息化局备案。",
    ],
    [
        "二、主要目标。累计建成一批零碳工厂。",
        "覆盖四个重点行业。",
        "市工业和信息化局每年公布完成情况。",
        "规模以上企业能耗明显下降。",
    ],
    ["三、重点任务。扩大绿色电力使用。", "推进用能设备更新。", "建立碳排放核算制度。", "开展试点示范。"],
    ["四、保障措施。加大资金支持。", "强化动态管理。", "加强组织协调。", "本意见自印发之日起施行。"],
]
FOOTERS = ["第 1 页", "- 2 -", "第3页 共4页", "Page 4 of 4"]


def test_page_furniture_covers_headers_and_page_numbers_only() -> None:
    from qa.normalize import _drop_spans, page_furniture

    pages = [[f"星河市零碳工厂建设指导意见（{n}）", *BODY[n - 1], FOOTERS[n - 1]] for n in range(1, 5)]
    text, starts = _paged(pages)
    spans = page_furniture(text, starts)
    expected = []
    for n, start in enumerate(starts, start=1):
        expected.append(_line_span(text, f"星河市零碳工厂建设指导意见（{n}）", start))  # digits aside, the same line
        expected.append(_line_span(text, FOOTERS[n - 1], start))
    assert sorted(spans) == expected
    kept = _drop_spans(text, list(range(len(text))), sorted(spans))[0]
    # every body line stays, the header's text in the middle of page 1 too
    assert kept == "\n".join(line for lines in BODY for line in lines) + "\n"


def test_page_furniture_of_one_page_or_no_pages_is_nothing() -> None:
    from qa.normalize import page_furniture

    text, starts = _paged([["星河市工业和信息化局文件", *BODY[0], "第 1 页"]])
    assert page_furniture(text, starts) == []
    assert page_furniture(text, ()) == []


def test_a_page_number_alone_is_furniture_even_when_not_repeated() -> None:
    from qa.normalize import PAGE_NUMBER_LINE, page_furniture

    for line in (
        "12",
        "- 3 -",
        "— 3 —",
        "第 3 页",
        "第3页 共20页",
        "第 3 页，共 20 页",
        "3 / 20",
        "Page 3 of 20",
        "page 7",
    ):
        assert PAGE_NUMBER_LINE.fullmatch(line), line
    for line in ("2025", "3月5日", "第三页", "共20页", "52个", "第 3 页的内容"):
        assert not PAGE_NUMBER_LINE.fullmatch(line), line
    text, starts = _paged([[*BODY[0], "7"], BODY[1], BODY[2]])
    assert page_furniture(text, starts) == [_line_span(text, "7", 0)]


def test_a_line_repeated_in_the_middle_of_pages_is_body_text() -> None:
    from qa.normalize import page_furniture

    middle = "本条由市工业和信息化局负责解释。"
    pages = [[BODY[n][0], BODY[n][1], middle, BODY[n][2], BODY[n][3]] for n in range(4)]
    text, starts = _paged(pages)
    assert page_furniture(text, starts) == []


def test_a_long_line_repeated_at_page_edges_is_body_text() -> None:
    from qa.normalize import MAX_FURNITURE_CHARS, page_furniture

    long_line = "本意见所称零碳工厂是指通过节能降碳和绿色电力替代实现生产过程二氧化碳净零排放的工厂。"
    assert len(long_line) > MAX_FURNITURE_CHARS
    pages = [[long_line, *BODY[n], f"第 {n + 1} 页"] for n in range(4)]
    text, starts = _paged(pages)
    spans = page_furniture(text, starts)
    assert spans == [_line_span(text, f"第 {n + 1} 页", starts[n]) for n in range(4)]
    assert all(long_line not in text[s:e] for s, e in spans)


def _wrap(text: str, width: int = 20) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


PARAGRAPHS = [
    "一、总体要求。为推动本市制造业绿色低碳转型，星河市工业和信息化局会同市生态环境局联合印发本指导意见。"
    "本意见适用于星河市行政区域内年综合能耗在三千吨标准煤以上的工业企业，其他企业可以参照执行。",
    "二、主要目标。到二〇二八年底，全市累计建成零碳工厂四十五家，其中示范性零碳工厂不少于十二家，"
    "覆盖新能源汽车零部件、光学仪器、食品加工和纺织印染四个重点行业。",
    "三、重点任务。新建和改建厂房应当同步建设屋顶分布式光伏，具备条件的企业屋顶光伏覆盖率应当达到六成以上。",
]


def test_clean_rejoins_a_sentence_across_a_page_break_without_header_or_number() -> None:
    from qa.normalize import clean

    header = "星河市工业和信息化局文件"
    lines = [line for p in PARAGRAPHS for line in _wrap(p)]
    cut1 = 3  # page 1 ends inside the first sentence of paragraph 1
    cut2 = len(_wrap(PARAGRAPHS[0])) + 2  # page 2 ends inside paragraph 2
    assert not lines[cut1 - 1].endswith("。") and not lines[cut2 - 1].endswith("。")
    pages = [
        [header, *lines[:cut1], "第 1 页"],
        [header, *lines[cut1:cut2], "第 2 页"],
        [header, *lines[cut2:], "第 3 页"],
    ]
    raw, starts = _paged(pages)
    out = clean(raw, (), starts)
    assert out.text == "\n".join(PARAGRAPHS)
    assert header not in out.text and "页" not in out.text
    assert len(out.raw_offsets) == len(out.text) + 1
    assert all(raw[out.raw_offsets[i]] == ch for i, ch in enumerate(out.text)), "offsets point at other characters"
    assert list(out.raw_offsets) == sorted(out.raw_offsets)
    # without pages the same text keeps its furniture: it is only removed where pages are known
    assert header in clean(raw).text


def test_document_pages_follow_the_raw_page_starts() -> None:
    from qa.corpus import make_document

    header = "星河市工业和信息化局文件"
    lines = [line for p in PARAGRAPHS for line in _wrap(p)]
    raw, starts = _paged([[header, *lines[:3], "第 1 页"], [header, *lines[3:], "第 2 页"]])
    doc = make_document("guide.pdf", raw, (), "pdf", starts)
    assert doc.pages == 2
    boundary = doc.text.index(lines[3])  # the first body character of page 2
    assert doc.clean_page_starts == (boundary,)
    assert doc.page_of(0) == 1 and doc.page_of(boundary - 1) == 1 and doc.page_of(boundary) == 2
    assert make_document("a.txt", raw).page_of(0) is None


# ---------------------------------------------------------------- CJK Radicals Supplement
def test_radicals_supplement_becomes_ordinary_characters() -> None:
    out = clean("本⻚⻓度")
    assert out.text == "本页长度"
    assert out.raw_offsets == (0, 1, 2, 3, 4)
    assert clean("第 1 ⻚，⻔⼝⻛⻜⻢⻥⻦⻓⻋").text == "第1页，门口风飞马鱼鸟长车"


def test_radicals_supplement_table_maps_radicals_to_unified_ideographs() -> None:
    from qa.normalize import _RADICALS_SUPPLEMENT

    assert len(_RADICALS_SUPPLEMENT) >= 90
    for radical, unified in _RADICALS_SUPPLEMENT.items():
        assert len(radical) == 1 and "\u2e80" <= radical <= "\u2eff", hex(ord(radical))
        assert len(unified) == 1 and ("\u4e00" <= unified <= "\u9fff" or "\u3400" <= unified <= "\u4dbf"), unified
    for radical, unified in (("⻚", "页"), ("⻓", "长"), ("⻔", "门"), ("⻋", "车"), ("⻅", "见"), ("⻜", "飞")):
        assert _RADICALS_SUPPLEMENT[radical] == unified


def test_unify_han_keeps_length_and_offsets() -> None:
    from qa.normalize import _RADICALS_SUPPLEMENT, _unify_han

    radicals = "".join(_RADICALS_SUPPLEMENT)
    text, offsets = _unify_han(radicals, list(range(len(radicals))))
    assert text == "".join(_RADICALS_SUPPLEMENT.values())
    assert offsets == list(range(len(radicals)))
    out = clean(radicals)
    assert len(out.text) == len(radicals) and len(out.raw_offsets) == len(radicals) + 1
    assert "⺀" in clean("⺀").text  # U+2E80 has no unified equivalent: kept as it is


def test_invisible_format_characters_are_dropped_and_offsets_still_map_back() -> None:
    """Zero-width spaces split "零碳" for BM25; a right-to-left override (U+202E) would reach
    a citation unseen. Both go; every cleaned character still points at its raw one."""
    raw = "首批\u200b国家级\u202e零碳\u200d园区\u00ad有52个\u2066。"
    cleaned = clean(raw)
    assert cleaned.text == "首批国家级零碳园区有52个。"
    assert all(raw[cleaned.raw_offsets[i]] == ch for i, ch in enumerate(cleaned.text))
    assert clean("零\u200b碳园区是什么？").simplified == "零碳园区是什么？"  # questions too (clean_query)
