"""Sentence choice, markers, highlight spans, script following and abstention (no model)."""

from __future__ import annotations

from qa.answer import NOT_FOUND_SIMPLIFIED, NOT_FOUND_TRADITIONAL, compose
from qa.chunking import split_sentences
from qa.sentence_rank import AbstainRule, coverage, question_terms, rank_sentences, should_abstain
from qa.types import Chunk, Hit

P14 = (
    "2025年12月，國家發改委披露國內首批52個國家級零碳園區建設名單，計劃在2027年至2030年期間陸續建成。"
    "首批園區有五大方面特點，包括地緣分布均衡，各省份至少有1個園區入選，因地制宜探索；"
)
P16 = "浙江等省份還提出量化目標，計劃今年啟動建設20個省級零碳園區、150家綠色工廠。"


def IDF(token: str) -> float:
    """Corpus-like weights: the topic words are everywhere, 补贴/标准 nowhere."""
    return {"零碳": 0.1, "园区": 0.1}.get(token, 2.0)


def hit(text: str, rank: int = 1, dense: float = 0.85, doc: str = "a.txt", lines=(14, 14)) -> Hit:
    from qa.normalize import to_simplified

    chunk = Chunk(f"{doc}#{rank}", doc, 0, len(text), lines, to_simplified(text), text)
    return Hit(chunk, score=1.0 / rank, rank=rank, scores={"dense": dense, "bm25": 5.0})


def test_best_sentence_is_highlighted_and_marked() -> None:
    a = compose("首批国家级零碳园区有多少个？", [hit(P14), hit(P16, 2, lines=(16, 16))], "hybrid")
    assert not a.abstained
    c1 = a.citations[0]
    s, e = c1.highlight
    assert "52" in c1.text[s:e] and c1.text[s:e].endswith("。")
    assert a.answer.startswith(c1.text[s:e]) and "[1]" in a.answer


def test_highlight_text_equals_the_sentence_in_every_citation() -> None:
    a = compose("浙江计划建设多少个省级零碳园区？", [hit(P14), hit(P16, 2)], "hybrid")
    for c in a.citations:
        s, e = c.highlight
        assert c.text[s:e] in [c.text[x:y] for x, y in split_sentences(c.text)]
    assert "[2]" in a.answer and "20" in a.answer


def test_answer_follows_the_question_script() -> None:
    simp = compose("首批国家级零碳园区有多少个？", [hit(P14)], "hybrid")
    trad = compose("首批國家級零碳園區有多少個？", [hit(P14)], "hybrid")
    assert "国家发改委" in simp.answer and "國家發改委" in trad.answer
    assert "国家级" in simp.citations[0].text and "國家級" in trad.citations[0].text
    assert simp.citations[0].text_original == trad.citations[0].text_original == P14


def test_unsupported_question_abstains_with_possibly_related_passages() -> None:
    a = compose("零碳园区的补贴标准是多少？", [hit(P14, dense=0.86), hit(P16, 2, dense=0.85)], "hybrid", idf=IDF)
    assert a.abstained and a.answer == NOT_FOUND_SIMPLIFIED and len(a.citations) == 2
    t = compose("零碳園區的補貼標準是多少？", [hit(P14, dense=0.86)], "hybrid", idf=IDF)
    assert t.abstained and t.answer == NOT_FOUND_TRADITIONAL


def test_off_topic_question_abstains() -> None:
    assert should_abstain("明天北京天气怎么样？", [hit(P14, dense=0.82)])


def test_english_question_relies_on_the_dense_match() -> None:
    rule = AbstainRule(strong_dense=0.88)
    assert not should_abstain("How many national zero-carbon parks?", [hit(P14, dense=0.9)], rule)
    assert should_abstain("What is the weather?", [hit(P14, dense=0.8)], rule)


def test_no_hits_abstains() -> None:
    a = compose("零碳园区是什么？", [], "bm25")
    assert a.abstained and a.citations == ()


def test_coverage_weights_longer_words() -> None:
    terms = question_terms("零碳园区补贴")
    assert coverage(terms, "零碳园区建设") > coverage(terms, "补贴") > 0


def test_when_question_needs_a_time_in_the_answering_sentence() -> None:
    from qa.sentence_rank import answer_type_found

    sun = "遠景科技集團首席可持續發展官孫捷告訴第一財經記者，零碳園區實際上是一個綠色產業集群的概念。"
    assert not answer_type_found("孙捷是哪一年加入远景科技集团的？", [hit(sun)])
    assert answer_type_found("首批名单是什么时候公布的？", [hit(P14)])


def test_quantity_in_a_unit_needs_that_unit() -> None:
    from qa.sentence_rank import answer_type_found

    assert not answer_type_found("零碳园区总投资多少亿元？", [hit(P14)])
    assert answer_type_found("首批有多少个园区？", [hit(P14)])


def with_sentence_scores(h: Hit, scores: list[float]) -> Hit:
    spans = split_sentences(h.chunk.text)
    return Hit(h.chunk, h.score, h.rank, h.scores, dict(zip(spans, scores, strict=True)))


def test_sentence_meaning_chooses_when_no_words_are_shared() -> None:
    """An English question shares no words with the article: each sentence's own dense
    similarity picks the answer, not the passage order."""
    p14 = with_sentence_scores(hit(P14), [0.80, 0.78])
    p16 = with_sentence_scores(hit(P16, 2, lines=(16, 16)), [0.84])
    a = compose("Which province set a target for provincial parks?", [p14, p16], "hybrid")
    assert not a.abstained and a.answer.startswith("浙江等省份") and a.answer.endswith("[2]")
    s, e = a.citations[1].highlight
    assert a.citations[1].text_original[s:e] == P16
    # without sentence scores the better-ranked passage wins the tie
    assert compose(
        "Which province set a target for provincial parks?", [hit(P14), hit(P16, 2)], "hybrid"
    ).answer.endswith("[1]")


def test_sentence_meaning_moves_a_choice_but_does_not_override_the_question_words() -> None:
    first, second = split_sentences(hit(P14).chunk.text)
    # the first sentence is closer in meaning, but only the second has the asked-for 特点
    ranked = rank_sentences("首批园区有什么特点？", [with_sentence_scores(hit(P14), [0.90, 0.86])], IDF)
    assert (ranked[0].start, ranked[0].end) == second  # 特点 is only in the second sentence
    # a sentence whose score is missing (another split) counts as the least similar
    partial = Hit(hit(P14).chunk, 1.0, 1, {}, {first: 0.9})
    ranked = rank_sentences("How many parks?", [partial])
    assert (ranked[0].start, ranked[0].end) == first


def test_an_english_question_with_numbers_is_still_judged_by_its_dense_match() -> None:
    """ "14th" or "20" are not Chinese words: comparing words across languages would
    decline every English question that has a number in it."""
    p1 = "3月5日，十四屆全國人大四次會議開幕，國務院總理李強作政府工作報告。"
    question = "On what date did the fourth session of the 14th National People's Congress open?"
    assert not should_abstain(question, [hit(p1, dense=0.76)])
    assert should_abstain(question, [hit(p1, dense=0.70)])  # a weak match is still declined
    assert should_abstain("明天北京天气怎么样？", [hit(p1, dense=0.82)])  # Chinese: the words decide


# ---------------------------------------------------------------- with the reader's span
def test_reader_span_leads_the_reply_and_is_marked_inside_its_sentence() -> None:
    from qa.types import Reading, Span

    h = hit(P14)
    text = h.chunk.text
    start = text.index("52个")  # chunk.text is simplified
    reading = Reading("model", False, Span(0, start, start + 3, 4.2))
    a = compose("首批國家級零碳園區有多少個？", [h, hit(P16, 2)], "hybrid", reading)
    assert a.short_answer == "52個" and a.answer.startswith("52個\n") and a.answer.endswith("[1]")
    c = a.citations[0]
    s, e = c.highlight
    assert c.answer_span == (start, start + 3) and s <= start and start + 3 <= e
    assert c.text[s:e].endswith("陸續建成。") and "52個" in c.text[s:e]
    assert a.citations[1].answer_span is None
    simp = compose("首批国家级零碳园区有多少个？", [h], "hybrid", reading)
    assert simp.short_answer == "52个"  # the asker's script


def test_reader_abstention_gives_not_found_and_no_span() -> None:
    from qa.types import Reading, Span

    reading = Reading("model", True, Span(0, 0, 4, -3.0))
    a = compose("第二批国家级零碳园区什么时候公布？", [hit(P14)], "hybrid", reading)
    assert a.abstained and a.answer == NOT_FOUND_SIMPLIFIED and a.short_answer is None
    assert all(c.answer_span is None for c in a.citations)


def test_answer_in_a_passage_below_top_k_is_still_cited() -> None:
    from qa.types import Reading, Span

    h16 = hit(P16, 2, lines=(16, 16))
    start = h16.chunk.text.index("20个")
    a = compose(
        "浙江计划启动建设多少个省级零碳园区？",
        [hit(P14), h16],
        "hybrid",
        Reading("model", False, Span(1, start, start + 3, 1.0)),
        max_citations=1,
    )
    assert [c.n for c in a.citations] == [1, 2] and a.citations[1].answer_span == (start, start + 3)
    assert a.answer.endswith("[2]") and a.short_answer == "20个"


def test_sentence_around_covers_a_span_across_two_sentences() -> None:
    from qa.chunking import sentence_around

    text = "甲乙丙。丁戊己。庚辛。"
    assert sentence_around(text, 1, 2) == (0, 4)
    assert sentence_around(text, 2, 6) == (0, 8)
