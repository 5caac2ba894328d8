"""Follow-up questions -> standalone questions, from the conversation so far (no LLM).

A follow-up leans on an earlier turn: "他的职务是什么？" after a question about 孙捷,
"江苏呢？" after one about 浙江, "什么时候印发的？" after one about a document,
"When was it published?". Retrieval and the reader see one question, so the follow-up
is rewritten into the question the user meant, and shown to them ("按上下文理解为").

How (the rules are named objects in ``RULES``, each with examples and counter-examples;
``docs/conversation.md`` has their measured gains; ``qa.candidates`` reads other
readings when the reader declines this one):

1. ``depends_on_context``: does the question lean on earlier turns at all? Pronouns
   and demonstratives, 呢-questions, a missing subject (no noun before the predicate
   and at most one content word), or English pronouns / "what about". A question
   that stands alone is returned unchanged.
2. The referent comes from the previous turn's question as understood: its topic
   (the noun phrase before its predicate) or the person it names; from the previous
   answer when the pronoun names what was asked for ("这个部门" after "哪个部门…",
   "他" after "…是谁…").
3. The rewrite: the pronoun replaced by the referent; for "X呢？" the previous
   question with X put in place of the term of the same kind (a place for a place,
   a batch for a batch), or the attribute asked, or X as its new topic; for a missing
   subject the topic put in front; for "这是…" the previous question with its answer
   in place of its question word; for "除此之外呢？" the previous question again,
   reading past the answers given (``Resolution.read_past``).

Pure functions of (question, history); the history is the earlier turns, most recent
last (``qa.types.Turn``).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache

from qa.crosslingual import EN_FUNCTION_WORDS, english_key, english_to_chinese, romanised
from qa.normalize import CJK, is_traditional, to_simplified, to_traditional
from qa.qualifiers import qualifiers
from qa.tokenize import STOPWORDS, tokenize
from qa.types import Turn

HISTORY_TURNS = 5  # earlier turns the front doors pass on (resolution reads the most recent)
_CJK = re.compile(f"[{CJK}]")
_END_PUNCT = "？?！!。.，,；;：:～~ 　"
# Pronouns and demonstratives, longest first; each with what it refers to.
_PERSON = ("他们", "她们", "他", "她")
_THING = ("它们", "这些", "那些", "其中", "它", "该", "此", "其", "这", "那")
# Words that contain a pronoun character but are not pronouns.
_NOT_PRONOUN = re.compile(
    r"其他|其它|其余|其实|其次|尤其|极其|与其|及其|因此|此外|如此|彼此|从此|此前|此后|此次|"
    r"那么|那样|应该|这篇|这则|这份报道|这篇文章|本文|这里|那里|这样|这么|那么多"
)
_DEMONSTRATIVE_NOUN = re.compile(
    r"(这个|那个|这家|那家|这位|那位|这份|那份|这项|那项|这些|那些|该|此|这|那)"
    r"(?![是有的在为将会能要和与还也都又])([\u4e00-\u9fff]{1,4}?)(?=[的是有在为将会能要和与还也都又最主具一什哪谁多几怎，,？?]|$)"
)
_NE_QUESTION = re.compile(r"^(?:那么?|那|而|还有|另外)?(.{1,20}?)(?:的情况|方面|怎么样|如何)?呢$")
_QUESTION_WORDS = re.compile(r"谁|什么|哪|几|多少|怎么|怎样|如何|为什么|为何|何时|是否|吗")
# Verbs that jieba tags as nouns in questions: they end a topic all the same.
_PREDICATES = frozenset(
    w
    for line in (
        "计划 提出 提到 印发 公布 发布 披露 表示 认为 介绍 强调 告诉 包括 指 属于 达到 贡献 产生 占 位于",
        "负责 启动 建成 建设 开展 推进 倾向 侧重 通过 需要 要求 预计 实现 形成 能 可以 将",
    )
    for w in line.split()
)
# Function words that may sit inside a topic ("全国各类园区", "今年的报告").
_IN_TOPIC = frozenset(w for line in ("的 各 各类 各个 各种 每 每个 所有 全部 全国 等 和 与 及",) for w in line.split())
# A question starting like this has no subject of its own: "是在哪次会议上？"
_PREDICATE_START = re.compile(
    r"^(?:是|还|又|也|都|另外|一共|总共|共|分别|具体|主要|所以|因此|那么?|而且|但|可是|然后|(?:为什么|为何)还?(?:要|会|需要))"
)
_ONLY_ASKING = re.compile(r"^(?:那么?)?(?:为什么|为何|怎么样?|如何|怎样|然后|还有吗|还有呢|具体呢|比如)$")
_NOUN_FLAGS = ("n", "j", "b", "eng", "nr", "ns", "nt", "nz", "nrt", "l", "i")
_EN_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her)\b", re.I)
_EN_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:(?:what|how)\s+about\s+)?(.+?)[?.!\s]*$", re.I)
_EN_AND = re.compile(r"^\s*(?:and\s+|(?:what|how)\s+about\s+)", re.I)
_EN_PHRASE = re.compile(r"\b(the\s+[^?.!,;]+)", re.I)
_EN_PERSON = frozenset(("he", "him", "his", "she", "her"))
_EN_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b")  # "Sun Jie", "Li Qiang"


@dataclass(frozen=True)
class Resolution:
    """The question as understood, and which rule made it (``none``: left as asked)."""

    question: str
    rule: str = "none"
    focus: str = ""  # the term a 呢-question swapped in: the passages must name it to answer
    exclude: tuple[str, ...] = ()  # what "另外/其他…" sets aside (earlier answers): no answer of its own
    read_past: bool = False  # "除此之外呢？", "另外还强调了什么？": another answer, not one of ``exclude``
    excepted: tuple[str, ...] = ()  # what the question itself sets aside: "除了工信部还有谁？" -> 工信部
    context: str = ""  # no referent found: the earlier question the search adds (never joined into the question)

    @property
    def search(self) -> str:
        """What retrieval searches: the question, after the earlier one when it carries the context."""
        return f"{self.context} {self.question}" if self.context else self.question

    @property
    def avoid(self) -> tuple[str, ...]:
        """The answers the reader reads past: the earlier ones, when another is asked for."""
        return self.exclude if self.read_past else ()

    def allows(self, passages: Sequence[str], answer: str) -> bool:
        """Whether an answer read from these (simplified) passages fits the conversation: the
        passages name the focus ("江苏呢？"), and the answer is none of those set aside."""
        if self.focus and not any(name in p for name in _focus_names(self.focus) for p in passages):
            return False
        if answer and any(answer in x for x in self.excepted):
            return False  # "除了工信部还有谁？" answered 工信部: the others are not named
        return not (answer and any(answer in x or x in answer for x in self.exclude))


_EXCEPT = re.compile(
    r"(?<![废消排清解删免拆扣剔根革开破])除了([^，,？?。]{1,12}?)(?:之外|以外)?(?:[，,]|还|另外|其他|其余|也)"
)


def excepted(question: str) -> tuple[str, ...]:
    """What a question sets aside by name ("…五个部门除了工信部还有谁？" -> 工信部); not
    "除了这个" (the earlier answer: ``set_aside``)."""
    found = _EXCEPT.findall(to_simplified(question))
    return tuple(x for x in found if not re.match(r"这|那|此|它|上面|前面", x) and not _QUESTION_WORDS.search(x))


def _focus_names(focus: str) -> tuple[str, ...]:
    """How passages would name the focus: itself (simplified), or for an English word its
    Chinese words ("Guangdong" -> 广东); an English word no dictionary knows is no test."""
    if _CJK.search(focus) or not re.search(r"[A-Za-z]", focus):
        return (to_simplified(focus),)
    names = english_to_chinese().get(english_key(focus), ())
    return tuple(n for n in names if len(n) > 1) or names or ("",)  # 苏 for Jiangsu is in 复苏: the full name


@lru_cache(maxsize=1)
def _posseg():  # type: ignore[no-untyped-def]
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def _words(text: str) -> list[tuple[str, str]]:
    return [(w.word, w.flag) for w in _posseg().lcut(text)]


def strip_question(question: str) -> str:
    return question.strip().rstrip(_END_PUNCT).strip()


def previous_question(history: Sequence[Turn]) -> str | None:
    """The last earlier question as it was understood (its resolution, when it had one)."""
    for turn in reversed(history):
        if turn.question.strip() and not (turn.answer is not None and turn.answer.intent):
            return _core(turn.resolved_question)
    return None


def _core(resolved: str) -> str:
    """An earlier resolution without the bracketed context it carried along, so context
    does not pile up turn after turn: "When? (谁公布的名单？)" -> "谁公布的名单？" (the
    Chinese part, for a Chinese follow-up), else "When?". A Chinese question carried along
    with a comma ("…有多少个，谁公布的？") is kept whole: a comma is no sure boundary."""
    bracketed = re.fullmatch(r"(.*?)\s*\((.*)\)\s*", resolved)
    if bracketed:
        return bracketed.group(2) if _CJK.search(bracketed.group(2)) else bracketed.group(1)
    return resolved


def topic(question: str) -> str:
    """The noun phrase a (simplified) question is about: what comes before its predicate.

    "首批国家级零碳园区是谁公布的" -> "首批国家级零碳园区"; "孙捷接受了哪家媒体的采访" -> "孙捷";
    from a later clause when the first has none: "我们是做锂电池的，零碳工厂什么时候…" ->
    "零碳工厂". Empty when the question starts with its predicate or a question word.
    """
    clauses = [c for c in re.split(r"[，,；;]", strip_question(question)) if c]
    return next((found for c in clauses if (found := _clause_topic(c))), "")


def _clause_topic(question: str) -> str:
    text = re.sub(r"^(?:那么|那|请问|我想知道|想问一下|问一下|其中)", "", strip_question(question))
    title = re.match(r"《[^》]+》|“[^”]+”|「[^」]+」", text)
    if title:  # a title or a quoted name opening the question is its topic
        return title.group(0)
    out: list[str] = []
    has_noun = False
    for word, flag in _words(text):
        if word in _PREDICATES or _QUESTION_WORDS.search(word):  # "干什么" asks too
            break
        if word in STOPWORDS and word not in _IN_TOPIC:
            break  # "李晓锋具体靠哪几招": an adverb (具体, 一共, 现在) ends the subject
        if flag.startswith(("v", "p", "r", "d", "c", "y", "x", "f")) and flag != "vn" and word not in _IN_TOPIC:
            break
        if has_noun and (flag == "t" or (flag == "m" and any(ch.isdigit() for ch in word))):
            break  # "工信部等五部门1月…": a time after the subject is not part of it
        has_noun = has_noun or flag.startswith(_NOUN_FLAGS)
        out.append(word)
    while out and out[-1] in ("的", "等"):
        out.pop()
    phrase = "".join(out)
    return phrase if tokenize(phrase) and any(f.startswith(_NOUN_FLAGS) for _, f in _words(phrase)) else ""


_TITLE_ENDS = "官长员者裁"  # the last character of a title jieba may glue to the name after it


def _person(text: str) -> str:
    name = next((w for w, f in _words(text) if f.startswith("nr") and len(w) >= 2), "")  # nr, nrt, nrfg
    if len(name) == 3 and name[0] in _TITLE_ENDS and _words(name[1:])[0][1].startswith("nr"):
        return name[1:]  # "…可持续发展官孙捷": jieba reads 官孙捷
    return name


def _mask_non_pronouns(text: str) -> str:
    """The text with words like 其他/因此/那么 blanked out (same length): no pronoun is found in them."""
    return _NOT_PRONOUN.sub(lambda m: "＿" * len(m.group(0)), text)


def has_pronoun(simple: str) -> str:
    masked = _mask_non_pronouns(simple)
    for p in (*_PERSON, *_THING):
        if p in masked:
            return p
    return ""


def _leans_on_pronoun(simple: str) -> bool:
    """A pronoun whose referent is not in the question itself.

    "他的职务是什么", "它计划今年启动建设多少个省级零碳园区" lean on the conversation;
    "李晓锋说…，他拿什么数据来支撑" names its person, and "那次工信工作会议在工业节能降碳
    上强调了什么" says enough on its own (measured on the gold set: a demonstrative
    inside a question that names its subject is deictic).
    """
    pronoun = has_pronoun(simple)
    if not pronoun:
        return False
    masked = _mask_non_pronouns(simple)
    at = masked.find(pronoun)
    if pronoun in ("这些", "那些") and _ends_on_noun(simple[:at]):
        return False  # "钢铁这些行业": steel and industries like it, named right there
    if pronoun in ("他", "她", "他们", "她们"):
        return not _person(simple[:at])
    if pronoun in ("它", "它们"):
        return True
    if pronoun in ("这", "那", "这些", "那些") and _described(masked[at + len(pronoun) :]):
        return False  # "那次工信工作会议…": the demonstrative introduces a named thing
    specific, generic = _content(simple)
    return (at <= 1 and specific == 0) or (specific == 0 and generic <= 2)


def _ends_on_noun(text: str) -> bool:
    words = _words(text)
    return bool(words) and words[-1][1].startswith(_NOUN_FLAGS)


def _described(rest: str) -> bool:
    """Whether the words after a demonstrative (its numeral and classifier skipped) hold
    two or more nouns: a description the question carries itself."""
    rest = re.sub(r"^[一二两三四五六七八九十百千万几多0-9]*[个次家位份项批种篇条些]?", "", rest)
    nouns = 0
    for word, flag in _words(rest):
        if word in ("、", "和", "与", "及", "的"):
            continue
        if not flag.startswith((*_GENERIC_FLAGS, *_SPECIFIC_FLAGS, "nz")) or word in STOPWORDS:
            break
        nouns += 1
    return nouns >= 2


_VERB_COMPLEMENTS = frozenset("出到完成好起上下来去")
_SPECIFIC_FLAGS = ("nr", "ns", "nt", "eng", "nrt")  # jieba's "nz" is too often a verb (印发)
_GENERIC_FLAGS = ("n", "vn", "j", "b", "l", "i", "an")


def _content(simple: str) -> tuple[int, int]:
    """(specific, generic) content words: names, numbers and titles; other nouns."""
    specific = len(re.findall(r"《[^》]+》|[0-9０-９]+|“[^”]+”|「[^」]+」", simple))
    generic = 0
    for word, flag in _words(re.sub(r"《[^》]+》|“[^”]+”|「[^」]+」", "", simple)):
        if word in STOPWORDS or (len(word) < 2 and flag != "n") or _QUESTION_WORDS.search(word):
            continue  # "干什么" (tagged l) asks; it names nothing
        if flag in ("l", "i") and word[-1] in _VERB_COMPLEMENTS:
            continue  # "打造出", "拿得到": a verb jieba tags as an idiom
        if flag.startswith(_SPECIFIC_FLAGS) or (len(word) >= 3 and flag.startswith(("n", "j", "l", "i"))):
            specific += 1  # a name, or a long noun (红烧肉, 工业园区): a topic of its own
        elif flag.startswith(_GENERIC_FLAGS) and not flag.startswith(_SPECIFIC_FLAGS):
            generic += 1
    return specific, generic


def _lacks_subject(simple: str) -> bool:
    """No subject of its own: no name, number or title, and at most one other noun
    ("什么时候印发的", "谁公布的", "最后要降到什么程度"), or a question opening with its
    predicate ("是在哪次会议上")."""
    specific, generic = _content(simple)
    if specific or _opens_with_subject(simple):
        return False
    if generic <= 1:
        return True
    return not topic(simple) and generic <= 3 and bool(_PREDICATE_START.match(simple))


def _opens_with_subject(simple: str) -> bool:
    """A question that opens with a noun phrase of its own: "企业能从中拿到什么" (a noun
    before its verb), "入选的园区里有多少…" (a 的-phrase and its noun)."""
    words = _words(simple)
    if not words:
        return False
    if words[0][1].startswith(_NOUN_FLAGS) and words[0][0] not in STOPWORDS and len(words) > 1:
        return words[1][1].startswith("v") or words[1][0] in ("都", "也", "还", "又")
    m = re.match(r"^[\u4e00-\u9fff]{1,4}的", simple)
    rest = _words(simple[m.end() :]) if m else []
    return bool(rest) and rest[0][1].startswith(_NOUN_FLAGS) and rest[0][0] not in STOPWORDS


def depends_on_context(question: str) -> str:
    """Why the question needs the earlier turns ("" when it stands alone)."""
    if not _CJK.search(question):
        content = [w for w in re.findall(r"[a-z][a-z'-]+", question.lower()) if w not in EN_FUNCTION_WORDS]
        if _EN_AND.match(question) and len(content) <= 3:
            return "what-about"
        if _EN_PRONOUN.search(question):
            return "pronoun"
        return "ellipsis" if len(content) <= 2 else ""
    simple = to_simplified(strip_question(question))
    if simple.endswith("呢") and len(simple) <= 16 and not _QUESTION_WORDS.search(simple):
        return "ne"
    if _leans_on_pronoun(simple):
        return "pronoun"
    if _lacks_subject(simple):
        return "ellipsis"
    if _SAID_HOW.search(simple) and not re.search(r"[，,；;]", simple):
        return "object"  # "报告里是怎么说的？": said about what? (an earlier clause would name it)
    return ""


# Words that place a question in time ("现在呢？" after "以前…"): one replaces another.
TIME_WORDS = (
    *("以前", "之前", "此前", "过去", "早先", "原来", "当时"),
    *("现在", "如今", "目前", "当前", "眼下"),
    *("今后", "未来", "将来", "以后", "之后", "今年", "去年", "明年", "前年"),
)  # all two characters: none is inside another


def _same_kind_term(term: str, question: str) -> str:
    """The term of ``question`` that ``term`` would replace: a time for a time, a batch for
    a batch, a year for a year, a place for a place, a person for a person, a word sharing
    characters."""
    if term in TIME_WORDS:
        return next((w for w in TIME_WORDS if w in question and w != term), "")
    asked = qualifiers(term)
    if asked:
        found = [q for q in qualifiers(question) if q.kind == asked[0].kind]
        return found[0].text if found else ""
    flags = {f for _, f in _words(term)}
    for kind in ("ns", "nr", "nt", "t"):
        if kind in flags:
            same = [w for w, f in _words(question) if f == kind and w != term]
            if same:
                return same[0]
    # a word that shares a head with the term: 零碳工厂 for 零碳园区, 江苏 for 浙江
    best, overlap = "", 0
    for word, flag in _words(question):
        if not flag.startswith(_NOUN_FLAGS) or word == term:
            continue
        shared = len(set(word) & set(term))
        if shared > overlap and len(word) >= 2:
            best, overlap = word, shared
    return best


def asked_attribute(question: str) -> str:
    """The noun phrase right before the question word: what was asked about the topic
    ("建成后绿电直供比例预计能到多少" -> "绿电直供比例")."""
    words = _words(strip_question(question))
    end = next((i for i, (w, _) in enumerate(words) if _QUESTION_WORDS.match(w)), len(words))
    if end < len(words) and words[end][0] in ("多少", "几"):  # "贡献了多少工业产值": the quantity asked for
        after = list(itertools.takewhile(lambda x: x[1].startswith((*_NOUN_FLAGS, "vn")), words[end + 1 :]))
        if after and len("".join(w for w, _ in after)) >= 2:
            return "".join(w for w, _ in after)
    run: list[tuple[str, str]] = []
    skipped = 0
    for word, flag in reversed(words[:end]):
        noun = flag.startswith(_NOUN_FLAGS) and word not in STOPWORDS and word not in _PREDICATES
        inside = bool(run) and (flag.startswith(("vn", "m", "a")) or (flag == "v" and len(word) == 2))
        if noun or inside:
            run.insert(0, (word, flag))  # "直供" between 绿电 and 比例 is part of the phrase
        elif run or skipped == 3:
            break  # the phrase ends at the first word that is not part of a noun phrase
        else:
            skipped += 1  # "能", "预计", "到" between the phrase and the question word
    while run and run[0][1] == "v":
        run.pop(0)  # a phrase does not open on a verb
    phrase = "".join(w for w, _ in run)
    return phrase if len(phrase) >= 2 else ""


def _resolve_ne(term: str, previous: str) -> tuple[str, str]:
    """(resolved, focus) for "X呢？": the previous question about X, and the name the
    passages must then give ("" for a time word: "如今" may answer "现在呢？")."""
    if term in TIME_WORDS:  # "之前呢？": the same question, at another time
        old = _same_kind_term(term, previous)
        return (previous.replace(old, term, 1) if old else f"{term}{strip_question(previous)}？"), ""
    old = _same_kind_term(term, previous) or asked_attribute(previous)
    subject = topic(previous)
    if old and old != term:
        return previous.replace(old, term, 1), term
    if subject:
        return previous.replace(subject, term, 1), term
    return f"{term}{strip_question(previous)}？", term


def _last_short_answer(history: Sequence[Turn]) -> str:
    """The last turn's short answer (simplified), "" when it declined or had none."""
    last = history[-1].answer if history else None
    return to_simplified(last.short_answer) if last is not None and not last.abstained and last.short_answer else ""


def _referent(pronoun: str, noun: str, previous: str, history: Sequence[Turn]) -> str:
    """What the pronoun (and the noun after a demonstrative) points back to."""
    last = history[-1].answer if history else None
    short = _last_short_answer(history)
    asked_for_it = bool(noun) and re.search(f"(?:哪|什么)[一个家位份项所些种类]?{re.escape(noun)}", previous)
    # A question that opens with its question word ("哪个省提出了…", "哪些地区…") asked for
    # its own subject: a pronoun after it means the answer ("它计划…" -> "浙江等省份计划…").
    asked_subject = re.match(r"(?:请问)?(?:哪|谁|什么)", strip_question(previous)) is not None and not topic(previous)
    asked_who = pronoun in _PERSON and "谁" in previous and not _person(previous)  # not "孙捷是谁？": 他 is 孙捷
    if short and (asked_for_it or asked_subject or asked_who) and enabled("answer-referent"):
        return short
    if pronoun in _PERSON:
        return _person(previous) or (_person(to_simplified(last.answer)) if last is not None else "")
    return topic(previous)


def _resolve_pronoun(simple: str, previous: str, history: Sequence[Turn]) -> str:
    masked = _mask_non_pronouns(simple)
    m = _DEMONSTRATIVE_NOUN.search(masked)
    if m and (m.group(1) not in ("这", "那") or m.group(2) in previous):
        referent = _referent(m.group(1), m.group(2), previous, history)
        if referent:
            start, end = m.span()
            return simple[:start] + referent + simple[end:]  # "这个部门" -> "国家发改委"
    pronoun = has_pronoun(simple)
    referent = _referent(pronoun, "", previous, history)
    if not referent:
        return ""
    at = masked.find(pronoun)
    replacement = referent + "中" if pronoun == "其中" else referent
    before = "" if simple[:at] in ("那", "那么") else simple[:at]  # "那它…": 那 joins, it names nothing
    return before + replacement + simple[at + len(pronoun) :]


# A demonstrative with a classifier ("那场", "这条", "那天"): it introduces a noun of its own
# (``qa.candidates`` puts a referent before it rather than in its place).
CLASSIFIED = re.compile(r"^[这那该此][一两几]?[个场条位家番段枚座项份次件种批所部本篇句届天年时]")


_WHO = re.compile(r"\s*who\b", re.I)


def _english_person(previous: str, history: Sequence[Turn]) -> str:
    """Who an English "he/she" is: the name the earlier question gives ("Sun Jie", 孙捷), or
    after "Who …?" the person its answer names; "" when neither names one."""
    if _WHO.match(previous):  # after "Who …?" he is its answer
        last = history[-1].answer if history else None
        if last is None or last.abstained:
            return ""
        short = to_simplified(last.short_answer or "")
        person = short if _person(short) else _person(to_simplified(last.answer))
    else:
        name = _EN_NAME.search(previous)
        if name:
            return name.group(0)
        person = _person(to_simplified(previous))
    return romanised(person) or person  # spelled out, the question stays English


def _resolve_english(question: str, previous: str, why: str, history: Sequence[Turn] = ()) -> tuple[str, str]:
    """(resolved, focus): a pronoun becomes the earlier question's "the …" phrase; "what
    about X" puts X in place of the earlier question's name or number of the same kind;
    otherwise the earlier question is carried along in brackets."""
    if why == "what-about":
        term = _EN_WHAT_ABOUT.match(question).group(1).strip()  # type: ignore[union-attr]
        kind = r"\b\d[\d,.]*\b" if re.fullmatch(r"[\d,.]+", term) else r"(?<!^)\b[A-Z][a-z]+\b"
        old = re.search(kind, previous.strip())
        focus = term
        if old:
            return previous.strip()[: old.start()] + term + previous.strip()[old.end() :], focus
        return f"{question.rstrip()} ({previous.strip()})", focus
    phrase = _EN_PHRASE.search(previous)
    pronoun = _EN_PRONOUN.search(question)
    if pronoun and pronoun.group(0).lower() in _EN_PERSON:  # "he" is a name, never "the article"
        name = _english_person(previous, history)
        if name:
            named = _EN_PRONOUN.sub(
                lambda p: name + ("'s" if p.group(0).lower() in ("his", "her") else ""), question, 1
            )
            # after "Who …?" the earlier question comes along: the name alone is a thin search
            return (f"{named.rstrip()} ({previous.strip()})" if _WHO.match(previous) else named), ""
        phrase = None
    if why == "pronoun" and phrase:
        return _EN_PRONOUN.sub(lambda p: phrase.group(1).strip(), question, count=1), ""
    return f"{question.rstrip()} ({previous.strip()})", ""


_MORE = re.compile(
    r"^(?:那么?)?(?:除此之外|除此以外|除了这个|除了这些|此外|另外|还有|其他|其它|别的)(?:的)?(?:呢|吗|还有吗|还有呢|还有什么)?$"
    r"|^还有(?:别的|其他|其它)?(?:吗|呢|什么)$"
)
_ANOTHER = re.compile(r"(?:另外|此外|除此之外|除此以外)还|还有(?:什么|哪些|别的|其他|其它)")  # "另外还…": more
# "这是跟什么比的？", "这算是…吗？": 这 is what was answered; not "这是哪批…" (what 这 is, asked)
_THIS_IS = re.compile(r"^(?:那么?)?(?:这|那)(?=(?:就|也|还)?(?:是|算|意味着|说明|表明|属于)(?!谁|什么|哪|多少|几))")
_ASKED_PHRASE = re.compile(
    r"(?:多少|几)[个家项种大]?|什么(?:[\u4e00-\u9fff]{1,2}(?=[？?，,]|$))?|哪[一个些家位种项次年天]?(?:[\u4e00-\u9fff]{1,2}(?=[？?，,]|$))?|谁"
)
_SAID_HOW = re.compile(r"(?:是)?(?:怎么|如何|怎样)(?:说|提|讲|写|表述)的?$")


def _claim(previous: str, answer: str) -> str:
    """The earlier question turned into what its answer says: "…预计能降到什么水平" with
    "约…的1/10" -> "…预计能降到约…的1/10" ("" when it asks no question word)."""
    question = strip_question(previous)
    m = _ASKED_PHRASE.search(question)
    if m is None or not answer:
        return ""
    return question[: m.start()] + answer + re.sub(r"(?:呢|吗|的)$", "", question[m.end() :])


def _object_of(previous: str) -> str:
    """What an earlier question was about, as the object of "怎么说…的": its topic, else the
    topic after its opening verb ("推动零碳工厂建设的说法…" -> "零碳工厂建设")."""
    found = topic(previous)
    if not found:
        words = _words(strip_question(previous))
        if words and words[0][1].startswith("v"):
            found = topic(strip_question(previous)[len(words[0][0]) :])
    return re.sub(r"的?(?:说法|表述|提法)$", "", found)


def _said_about(simple: str, previous: str) -> str:
    """ "报告里是怎么说的？" after a question about 零碳工厂建设 -> "报告里是怎么说零碳工厂建设的"."""
    thing = _object_of(previous)
    m = _SAID_HOW.search(simple)
    if not thing or m is None:
        return ""
    return simple[: m.start()] + m.group(0).rstrip("的") + thing + "的"


_RESULT_OF = re.compile(r"^([\u4e00-\u9fff]{1,2}?)出来的?")


def _what_was_done(simple: str, previous: str) -> str:
    """ "选出来的要起什么作用" after a question about 遴选零碳工厂: what the verb was done to
    (the noun phrase after the earlier question's verb ending in 选, else its topic) is the
    subject: "遴选出来的零碳工厂要起什么作用"; "" when the question is no "V出来的…" or the
    earlier question has no such verb."""
    m = _RESULT_OF.match(simple)
    if m is None:
        return ""
    verb = next((w for w, f in _words(previous) if f.startswith("v") and w.endswith(m.group(1))), "")
    if not verb:
        return ""
    after = previous[previous.find(verb) + len(verb) :]
    run = list(itertools.takewhile(lambda x: x[1].startswith((*_NOUN_FLAGS, "m")), _words(after)))  # 零 is "m"
    noun = "".join(w for w, _ in run) if any(f.startswith(_NOUN_FLAGS) for _, f in run) else ""
    thing = noun or topic(previous)
    rest = simple[m.end() :]
    return f"{verb}出来的{thing}{rest}" if thing else ""


def resolve(question: str, history: Sequence[Turn] = ()) -> Resolution:
    """The standalone question meant by ``question`` after ``history`` (pure), with what
    the question itself sets aside (``excepted``) whatever the rule."""
    return replace(_resolve(question, history), excepted=excepted(question))


@dataclass(frozen=True)
class Asked:
    """A Chinese follow-up as the rules see it: simplified, its end punctuation apart, the
    previous question (simplified) and why it leans on the conversation."""

    simple: str
    previous: str
    history: Sequence[Turn]
    why: str


@dataclass(frozen=True)
class Rewrite:
    """A rule's standalone question (simplified, without end punctuation unless ``end``)."""

    text: str
    focus: str = ""
    end: str | None = None  # None: the follow-up's own end punctuation


@dataclass(frozen=True)
class Rule:
    """One named rewrite: when it applies (``applies``) and what it makes (``rewrite``;
    None: it found no referent). ``examples``: (earlier question, earlier short answer,
    follow-up, expected resolution); ``counter_examples``: (earlier question, earlier short
    answer, follow-up) it must leave to a later rule or as asked. Both are run by one
    parametrised test; the gain of each is measured by ``qa eval --ablate``."""

    name: str
    applies: Callable[[Asked], bool]
    rewrite: Callable[[Asked], Rewrite | None]
    examples: tuple[tuple[str, str, str, str], ...]
    counter_examples: tuple[tuple[str, str, str], ...] = ()


def _more_rewrite(a: Asked) -> Rewrite:
    answer = _last_short_answer(a.history)
    return Rewrite(f"除了{answer}，{strip_question(a.previous)}" if answer else strip_question(a.previous), end="？")


def _this_is_rewrite(a: Asked) -> Rewrite | None:
    this = _THIS_IS.match(a.simple)
    claim = _claim(a.previous, _last_short_answer(a.history)) if this else ""
    return Rewrite(f"{claim}，{a.simple[this.end() :]}") if this and claim else None


def _ne_rewrite(a: Asked) -> Rewrite:
    term = _NE_QUESTION.match(a.simple)
    resolved, focus = _resolve_ne(term.group(1) if term else a.simple[:-1], a.previous)
    return Rewrite(resolved, focus, end="")


def _ellipsis_rewrite(a: Asked) -> Rewrite | None:
    subject = "" if _ONLY_ASKING.match(a.simple) else topic(a.previous)
    body = re.sub(r"^(?:那么|那)", "", a.simple)
    return Rewrite(f"{subject}{body}") if subject else None


def _done_rewrite(a: Asked) -> Rewrite | None:
    done = _what_was_done(a.simple, a.previous)
    return Rewrite(done) if done else None


RULES: tuple[Rule, ...] = (
    Rule(
        "more",
        lambda a: bool(_MORE.match(a.simple)),
        _more_rewrite,
        (("零碳园区想提升什么？", "就地消纳水平", "除此之外呢？", "除了就地消纳水平，零碳园区想提升什么？"),),
        (("零碳园区想提升什么？", "就地消纳水平", "此外还有哪些部门参与？"),),
    ),
    Rule(
        "this-is",
        lambda a: a.why == "pronoun" and bool(_THIS_IS.match(a.simple)),
        _this_is_rewrite,
        (
            (
                "单位能耗碳排放预计能降到什么水平？",
                "约1/10",
                "这是跟什么比的？",
                "单位能耗碳排放预计能降到约1/10，是跟什么比的？",
            ),
        ),
        (("单位能耗碳排放预计能降到什么水平？", "约1/10", "这是哪一批园区？"),),
    ),
    Rule(
        "said-about",
        lambda a: a.why == "object",
        lambda a: Rewrite(found) if (found := _said_about(a.simple, a.previous)) else None,
        (("零碳工厂是什么？", "", "2025年政府工作报告里是怎么说的？", "2025年政府工作报告里是怎么说零碳工厂的？"),),
        (("零碳工厂是什么？", "", "两次报告分别是怎么说零碳工厂的？"),),
    ),
    Rule(
        "ne",
        lambda a: a.why == "ne",
        _ne_rewrite,
        (("浙江计划建设多少个零碳园区？", "30个", "江苏呢？", "江苏计划建设多少个零碳园区？"),),
    ),
    Rule(
        "pronoun",
        lambda a: a.why == "pronoun",
        lambda a: Rewrite(found) if (found := _resolve_pronoun(a.simple, a.previous, a.history)) else None,
        (("孙捷接受了哪家媒体的采访？", "证券日报", "他的职务是什么？", "孙捷的职务是什么？"),),
        (("孙捷接受了哪家媒体的采访？", "证券日报", "李晓锋说他们拿什么数据支撑？"),),
    ),
    Rule(
        "what-was-done",
        lambda a: bool(_RESULT_OF.match(a.simple)),
        _done_rewrite,
        (("什么时候开始遴选零碳工厂？", "今年", "选出来的要起什么作用？", "遴选出来的零碳工厂要起什么作用？"),),
    ),
    Rule(
        "ellipsis",
        lambda a: a.why == "ellipsis",
        _ellipsis_rewrite,
        (("首批国家级零碳园区是谁公布的？", "国家发改委", "什么时候公布的？", "首批国家级零碳园区什么时候公布的？"),),
        (("首批国家级零碳园区是谁公布的？", "国家发改委", "为什么？"),),
    ),
)
# Refinements inside a rule, switched off by name like a rule (``qa eval --ablate``):
# ``answer-referent`` (a pronoun after "哪个部门…/谁…" is the answer).
REFINEMENTS = ("answer-referent",)
RULE_NAMES = (*(r.name for r in RULES), *REFINEMENTS)
_disabled: frozenset[str] = frozenset()


def enabled(name: str) -> bool:
    """Whether a rule or refinement is on (all are, unless ``rules_off`` says otherwise)."""
    return name not in _disabled


@contextmanager
def rules_off(*names: str) -> Iterator[None]:
    """Switch rules off by name for a measurement (``qa eval --ablate``); not thread-safe:
    for the eval runner, not the server."""
    global _disabled
    unknown = set(names) - set(RULE_NAMES)
    if unknown:
        raise ValueError(f"unknown rules: {sorted(unknown)}; known: {RULE_NAMES}")
    before, _disabled = _disabled, _disabled | frozenset(names)
    try:
        yield
    finally:
        _disabled = before


def _first_rewrite(asked: Asked) -> tuple[Rule | None, Rewrite | None]:
    """The first rule (in ``RULES`` order) that applies and finds its referent."""
    for rule in RULES:
        if enabled(rule.name) and rule.applies(asked):
            made = rule.rewrite(asked)
            if made is not None and made.text:
                return rule, made
    return None, None


def _resolve(question: str, history: Sequence[Turn]) -> Resolution:
    previous = previous_question(history)
    why = depends_on_context(question) if previous else ""
    if not why or previous is None:
        return Resolution(question)
    if not _CJK.search(question):
        if _CJK.search(previous):  # English after Chinese: the earlier question carries the topic
            return Resolution(f"{question.rstrip()} ({previous.strip()})", "context")
        resolved, focus = _resolve_english(question, previous, why, history)
        return Resolution(resolved, why, focus)
    if not _CJK.search(previous):  # Chinese after English
        return Resolution(f"{previous.strip()} {question.strip()}", "context")
    asked = Asked(to_simplified(strip_question(question)), to_simplified(previous), history, why)
    rule, made = _first_rewrite(asked)
    more = bool(_ANOTHER.search(asked.simple)) or (rule is not None and rule.name == "more")
    aside = set_aside(history) if more or _OTHERS.search(asked.simple) else ()
    if rule is None or made is None:
        # no referent found: asked as typed, the earlier question's words help the search
        return Resolution(
            strip_question(question) + question.strip()[len(strip_question(question)) :],
            "context",
            "",
            aside,
            more,
            context=asked.previous,
        )
    end = made.end if made.end is not None else (question.strip()[len(strip_question(question)) :] or "？")
    resolved = made.text + end
    resolved = to_traditional(resolved) if is_traditional(question) else resolved
    return Resolution(resolved, rule.name, made.focus, aside, more)


_OTHERS = re.compile(r"另外|其余|其他|其它|别的|此外还|除此之外|除了")


def set_aside(history: Sequence[Turn], turns: int = 3) -> tuple[str, ...]:
    """The earlier short answers a question about the others ("另外四个部门是哪些？" a turn or
    two after "工信部") or about more ("除此之外呢？") sets aside: giving one back would answer
    the opposite of what was asked."""
    answers = [t.answer for t in history[-turns:]]
    return tuple(to_simplified(a.short_answer) for a in answers if a is not None and a.short_answer and not a.abstained)
