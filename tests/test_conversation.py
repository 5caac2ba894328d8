"""Follow-up resolution: a pure function of (question, history), on hand cases."""

from __future__ import annotations

import pytest

from qa.conversation import asked_attribute, depends_on_context, excepted, resolve, topic
from qa.types import Answer, Turn


def turn(question: str, short: str | None = None, resolved: str = "") -> Turn:
    answer = Answer(question, short or "", short is None, "hybrid", (), short_answer=short, resolved_question=resolved)
    return Turn(question, answer)


@pytest.mark.parametrize(
    ("previous", "short", "question", "expected"),
    [
        ("首批国家级零碳园区是谁公布的？", "国家发改委", "一共有多少个？", "首批国家级零碳园区一共有多少个？"),
        ("孙捷接受了哪家媒体的采访？", "第一财经", "他的职务是什么？", "孙捷的职务是什么？"),
        ("政府工作報告是誰作的？", "李強", "是在哪次會議上？", "政府工作報告是在哪次會議上？"),
        ("今年的政府工作报告是谁作的？", "李强", "他是什么职务？", "李强是什么职务？"),
        ("浙江计划今年启动建设多少家绿色工厂？", "150家", "江苏呢？", "江苏计划今年启动建设多少家绿色工厂？"),
        ("首批国家级零碳园区有多少个？", "52个", "第二批呢？", "第二批国家级零碳园区有多少个？"),
        (
            "首批零碳园区名单是哪个部门公布的？",
            "国家发改委",
            "它是什么时候公布的？",
            "首批零碳园区名单是什么时候公布的？",
        ),
        ("首批零碳园区名单是哪个部门公布的？", "国家发改委", "这个部门还负责什么？", "国家发改委还负责什么？"),
        ("工信部等五部门印发了什么文件？", None, "什么时候印发的？", "工信部等五部门什么时候印发的？"),
        ("零碳工厂到2027年在哪些行业培育？", None, "2030年呢？", "零碳工厂到2030年在哪些行业培育？"),
        ("首批园区有哪些特点？", None, "它们计划什么时候建成？", "首批园区计划什么时候建成？"),
        ("零碳园区建设以前主要停留在什么层面？", None, "现在呢？", "零碳园区建设现在主要停留在什么层面？"),
        ("李强当时开的是哪个会？", None, "他今年多大？", "李强今年多大？"),  # jieba tags 李强 "nrfg"
        (
            "哪个省提出了零碳园区的量化目标？",
            "浙江等省份",
            "它计划今年启动建设多少个省级零碳园区？",
            "浙江等省份计划今年启动建设多少个省级零碳园区？",
        ),
        ("国内零碳园区建设现在到了什么阶段？", None, "之前呢？", "国内零碳园区建设之前到了什么阶段？"),
        ("国内零碳园区建设到了什么阶段？", None, "之前呢？", "之前国内零碳园区建设到了什么阶段？"),
        (
            "Who published the list of the first national zero-carbon parks?",
            None,
            "When was it published?",
            "When was the list of the first national zero-carbon parks published?",
        ),
    ],
)
def test_follow_ups_become_standalone_questions(previous: str, short: str | None, question: str, expected: str) -> None:
    assert resolve(question, [turn(previous, short)]).question == expected


@pytest.mark.parametrize(
    "question",
    [
        "孙捷是谁？",
        "零碳园区是什么？",
        "首批园区建成后单位能耗碳排放是全国平均水平的多少？",
        "李晓锋说园区零碳转型有深层战略意义，他拿什么数据来支撑？",  # names its own person
        "那次工信工作会议在工业节能降碳上强调了什么？",  # the demonstrative introduces a named thing
        "红烧肉怎么做才好吃？",
        "政府工作报告连续两年提到零碳园区和工厂，两次分别是怎么说的？",  # its first clause says about what
        "Which ministry headed the five departments that issued the guidance?",
    ],
)
def test_standalone_questions_are_left_as_asked(question: str) -> None:
    resolution = resolve(question, [turn("首批国家级零碳园区是谁公布的？", "国家发改委")])
    assert resolution.question == question and resolution.rule == "none"
    assert depends_on_context(question) == ""


def test_without_history_nothing_is_resolved() -> None:
    assert resolve("一共有多少个？", []).question == "一共有多少个？"


def test_a_ne_question_names_its_term_for_the_decline_check() -> None:
    resolution = resolve("江苏呢？", [turn("浙江计划今年启动建设多少家绿色工厂？", "150家")])
    assert resolution.rule == "ne" and resolution.focus == "江苏"


def test_a_time_ne_question_asks_the_passages_for_no_name() -> None:
    """ "如今…" answers "现在呢？": a time word is not a name the passages must contain."""
    resolution = resolve("现在呢？", [turn("零碳园区建设以前主要停留在什么层面？", "理念倡导")])
    assert resolution.rule == "ne" and resolution.focus == ""


def test_resolution_chains_through_resolved_turns_without_piling_up_context() -> None:
    first = turn("首批国家级零碳园区是谁公布的？", "国家发改委")
    second = turn("一共有多少个？", "52个", resolved="首批国家级零碳园区一共有多少个？")
    assert resolve("第二批呢？", [first, second]).question == "第二批国家级零碳园区一共有多少个？"
    english = turn("When?", None, resolved="When? (首批国家级零碳园区名单是谁公布的？)")
    assert "When?" not in resolve("每个省至少有几个？", [english]).question


def test_traditional_follow_ups_stay_traditional() -> None:
    resolved = resolve("他的職務是什麼？", [turn("孫捷接受了哪家媒體的採訪？", "第一財經")]).question
    assert resolved == "孫捷的職務是什麼？"


def test_topic_and_asked_attribute() -> None:
    assert topic("首批国家级零碳园区是谁公布的") == "首批国家级零碳园区"
    assert topic("孙捷接受了哪家媒体的采访") == "孙捷"
    assert topic("是在哪次会议上") == ""
    assert asked_attribute("首批国家级零碳园区有多少个") == "首批国家级零碳园区"
    assert asked_attribute("首批零碳园区建成后，绿电直供比例预计能到多少") == "绿电直供比例"  # a verb inside, 3 skipped
    previous = turn("首批零碳园区建成后，绿电直供比例预计能到多少？", "50%")
    assert resolve("单位能耗碳排放呢？", [previous]).question == "首批零碳园区建成后，单位能耗碳排放预计能到多少？"


def test_history_entries_from_json() -> None:
    assert Turn.from_json("孙捷是谁？") == Turn("孙捷是谁？")
    t = Turn.from_json(
        {"question": "一共有多少个？", "short_answer": "52个", "resolved_question": "首批园区一共有多少个？"}
    )
    assert t.resolved_question == "首批园区一共有多少个？" and t.answer is not None and t.answer.short_answer == "52个"
    with pytest.raises(TypeError):
        Turn.from_json(3)


def test_a_title_opening_the_question_is_its_topic() -> None:
    assert (
        topic("《关于开展零碳工厂建设工作的指导意见》是哪几个部门联合印发的")
        == "《关于开展零碳工厂建设工作的指导意见》"
    )
    resolved = resolve("它要求从哪一年开始遴选零碳工厂？", [turn("《指导意见》是哪几个部门印发的？", "工信部等五部门")])
    assert resolved.question == "《指导意见》要求从哪一年开始遴选零碳工厂？"


def test_a_question_about_the_others_sets_the_earlier_answers_aside() -> None:
    history = [turn("零碳工厂建设的指导意见是哪些部门发的？", "工信部"), turn("什么时候印发的？", "1月")]
    assert resolve("另外四个部门是哪些？", history).exclude == ("工信部", "1月")
    assert not resolve("另外四个部门是哪些？", history).read_past  # one of them again: decline
    more = resolve("还有哪些部门？", history)  # asks for more: read past the answers given
    assert more.exclude == ("工信部", "1月") and more.read_past
    assert resolve("另外四个部门是哪些？", []).exclude == ()


def test_anything_else_is_the_same_question_past_the_answer_given() -> None:
    history = [turn("中西部能源富集区搞「零碳园区+绿电直连」，主要是想提升什么？", "新能源就地消纳水平")]
    for question in ("除此之外呢？", "还有呢？", "其他呢？"):
        resolution = resolve(question, history)
        assert (
            resolution.question == "除了新能源就地消纳水平，中西部能源富集区搞「零碳园区+绿电直连」，主要是想提升什么？"
        )
        assert resolution.rule == "more" and resolution.read_past and resolution.exclude == ("新能源就地消纳水平",)
    again = resolve("另外还强调了什么？", [turn("会议强调要加大什么攻坚力度？", "工业节能降碳")])
    assert again.read_past and again.exclude == ("工业节能降碳",)


def test_an_english_focus_is_looked_for_in_chinese() -> None:
    """ "What about Guangdong?" when only 浙江 is named: the passages must name 广东."""
    resolution = resolve("What about Guangdong?", [turn("Which province set targets for green factories?")])
    assert resolution.focus == "Guangdong"
    assert not resolution.allows(["浙江等省份还提出量化目标"], "")
    assert resolution.allows(["广东提出量化目标"], "")
    unknown = resolve("What about Qwzx?", [turn("Which province set targets?")])
    assert unknown.allows(["浙江"], "")  # a word no dictionary knows: no test


def test_an_english_person_pronoun_is_a_name_or_the_earlier_question() -> None:
    named = resolve("What is his position?", [turn("When did Sun Jie speak to the press?")])
    assert named.question == "What is Sun Jie's position?"
    after_who = resolve("Which outlet did he talk to?", [turn("Who from Envision Group is quoted in the article?")])
    assert after_who.question == "Which outlet did he talk to? (Who from Envision Group is quoted in the article?)"
    # the answer names him: spelled in pinyin, so the question stays English, and the earlier one comes along
    asked = "Who from Envision Group is quoted?"
    who = Answer(
        asked, "远景科技集团首席可持续发展官、零碳综合能源产品线总裁孙捷告诉第一财经记者…", False, "hybrid", ()
    )
    answered = resolve("Which outlet did he talk to?", [Turn(asked, who)])
    assert answered.question == "Which outlet did Sun Jie talk to? (Who from Envision Group is quoted?)"
    glued = Answer(asked, "远景科技集团首席可持续发展官孙捷告诉第一财经记者…", False, "hybrid", ())  # jieba: 官孙捷
    assert resolve("Which outlet did he talk to?", [Turn(asked, glued)]).question.startswith("Which outlet did Sun Jie")


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        # an adverb ends the earlier question's subject: not "李晓锋具体"
        ("李晓锋具体靠哪几招？", "靠什么拿到的？", "李晓锋靠什么拿到的？"),
        # 其中 opening the earlier question is no part of its subject
        ("其中国家级和省级工业园区有多少家？", "它们贡献了多少工业产值？", "国家级和省级工业园区贡献了多少工业产值？"),
        # 这是 is a demonstrative before 是, not 这 + a noun 是
        ("“以绿制绿”是什么意思？", "这是哪批园区的特点？", "“以绿制绿”是哪批园区的特点？"),
    ],
)
def test_subject_boundaries(previous: str, question: str, expected: str) -> None:
    assert resolve(question, [turn(previous)]).question == expected


def test_a_noun_before_these_names_what_these_are() -> None:
    """ "钢铁这些行业" is steel and industries like it, named right there: no pronoun to
    resolve (the question lacks a subject all the same: 为什么要…)."""
    assert depends_on_context("为什么要往钢铁这些行业扩？") == "ellipsis"
    assert depends_on_context("零碳工厂为什么要往钢铁这些行业扩？") == ""
    assert depends_on_context("这些行业为什么要扩？") == "pronoun"


def test_a_verb_tagged_as_an_idiom_is_no_subject() -> None:
    """jieba tags 打造出 as an idiom (l); it is the predicate, so the question still lacks a subject."""
    resolved = resolve("最终能帮地方打造出什么？", [turn("孙捷说零碳园区有哪三个特点？", "低成本、低能耗、低碳排")])
    assert resolved.question.startswith("孙捷") and resolved.rule == "ellipsis"


@pytest.mark.parametrize("question", ["入选的园区里有多少已经开始干活了？", "企业能从中拿到什么？"])
def test_a_question_opening_with_its_own_subject_stands_alone(question: str) -> None:
    assert depends_on_context(question) == ""


def test_what_was_picked_out_is_what_the_earlier_verb_was_done_to() -> None:
    after_object = turn("它要求从哪一年开始遴选零碳工厂？", "2026年")
    assert resolve("選出來是做什麼用的？", [after_object]).question == "遴選出來的零碳工廠是做什麼用的？"
    after_topic = turn("零碳工厂从哪年开始遴选？", "2026年")  # no object after the verb: its topic
    assert resolve("选出来的要起什么作用？", [after_topic]).question == "遴选出来的零碳工厂要起什么作用？"
    # no verb ending in 选 before: the earlier topic goes in front, as for any missing subject
    assert (
        resolve("选出来的要起什么作用？", [turn("首批园区有哪些特点？")]).question == "首批园区选出来的要起什么作用？"
    )


@pytest.mark.parametrize(
    ("previous", "short", "question", "expected"),
    [
        # 这 is what was answered: the earlier question with its answer in place of its question word
        (
            "首批零碳园区建成后，单位能耗碳排放预计能到多少？",
            "约当前全国园区平均水平的1/10",
            "这是跟什么比的？",
            "首批零碳园区建成后，单位能耗碳排放预计能到约当前全国园区平均水平的1/10，是跟什么比的？",
        ),
        # the same frame, another filling: 做锂电池的 -> 做钢铁的
        # said about what: the earlier question's subject
        (
            "推动零碳工厂建设的说法是今年才有的吗？",
            "并非首次",
            "2025年政府工作报告里是怎么说的？",
            "2025年政府工作报告里是怎么说零碳工厂的？",
        ),
        # 为什么要… has no subject; a later clause's subject
        (
            "我们是做钢铁的，零碳工厂大概什么时候会覆盖到我们？",
            "2030年",
            "为什么要往钢铁这些行业扩？",
            "零碳工厂为什么要往钢铁这些行业扩？",
        ),
    ],
)
def test_rewrites_that_take_the_earlier_answer_or_frame(
    previous: str, short: str | None, question: str, expected: str
) -> None:
    assert resolve(question, [turn(previous, short)]).question == expected


def test_what_this_is_asked_keeps_this_as_the_subject() -> None:
    """ "这是哪批园区的特点？" asks what 这 is: the subject, not the answer (see test_subject_boundaries)."""
    resolution = resolve("这是哪批园区的特点？", [turn("“以绿制绿”是什么意思？", "以绿色能源制造绿色产品")])
    assert resolution.question == "“以绿制绿”是哪批园区的特点？"


@pytest.mark.parametrize(
    ("previous", "short", "question", "expected"),
    [
        # after 多少, the quantity asked for is what X呢 swaps
        ("国家级和省级工业园区贡献了多少工业产值？", "50%以上", "碳排放呢？", "国家级和省级工业园区贡献了多少碳排放？"),
        # "孙捷是谁？" names its person: 他 is 孙捷, not the title answered
        ("孙捷是谁？", "远景科技集团首席可持续发展官", "他怎么看零碳园区？", "孙捷怎么看零碳园区？"),
        # 干什么 asks (jieba tags it l): no subject of its own
        ("零碳工厂从哪年开始遴选？", "2026年", "选出来干什么？", "遴选出来的零碳工厂干什么？"),
    ],
)
def test_held_out_patterns(previous: str, short: str | None, question: str, expected: str) -> None:
    assert resolve(question, [turn(previous, short)]).question == expected


def test_what_the_question_sets_aside_is_no_answer() -> None:
    """ "五个部门除了工信部还有谁？": 工信部 back is declined (the article names no other)."""
    resolution = resolve("印发零碳工厂指导意见的五个部门除了工信部还有谁？")
    assert resolution.excepted == ("工信部",) and resolution.question.startswith("印发")
    assert not resolution.allows(["1月，工信部等五部门共同印发"], "工信部")
    assert resolution.allows(["1月，工信部等五部门共同印发"], "工信部等五部门")  # more than what was set aside
    assert excepted("除了汽车，到2027年还要在哪些行业培育零碳工厂？") == ("汽车",)
    assert excepted("2009年4月，柴郡废除了非都市郡，改制为几个单一管理区？") == ()  # 废除了 is no 除了
    assert excepted("除了这个还有什么？") == ()  # the earlier answer: set_aside's
    assert excepted("二战期间服役的夜间战斗机除了哪一款战斗机以外，原始设计都不是针对夜间飞行？") == ()


def test_a_joining_na_before_a_pronoun_goes_with_it() -> None:
    """ "那它…" opens with 那 as "then"; with 它 replaced, "那莱索托…" would read as "that Lesotho"."""
    history = [turn("莱索托是什么样的国家？", "内陆国")]
    assert resolve("那它主要依靠哪个港口？", history).question == "莱索托主要依靠哪个港口？"
    assert resolve("那么他们靠什么生活？", history).question.startswith("莱索托")
